"""Lambda `messages`: history, REST send, mark-read, delete, unread count, search."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from messaging_core import conversations, messages, scheduling, search
from messaging_core.inputs import MarkReadIn, SendMessageIn
from messaging_core.models import HistoryCursor

from . import compliance
from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES
from .api.schemas import (
    HistoryReply,
    MessageReply,
    ReadReply,
    Reply,
    SearchReply,
    UnreadReply,
)

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


@router.get(
    "/conversations/{conversationId}/messages",
    response_model=HistoryReply,
    responses=RESPONSES["get_messages"],
)
async def get_messages(
    conversationId: str,
    user: CurrentUser,
    core: Services,
    page: PageNumber = 1,
    limit: Annotated[int | None, Query(description="1..100, default MESSAGES_PER_PAGE")] = None,
    before: Annotated[
        str | None, Query(description="Message id: older messages, newest first")
    ] = None,
    after: Annotated[
        str | None, Query(description="Message id: newer messages, oldest first")
    ] = None,
    afterSeq: Annotated[
        int | None, Query(ge=0, description="Sequence number: newer, oldest first")
    ] = None,
) -> dict[str, Any]:
    """Message history: newest first by page or `before`; oldest first with `after`/`afterSeq`."""
    page_req = page_of(page, limit, default=core.settings.messages_per_page, maximum=100)
    cursor = HistoryCursor(before=before, after=after, after_seq=afterSeq)
    data = await messages.history(core, user, conversationId, page_req, cursor)
    return {"message": "Messages retrieved successfully", "data": data}


@router.post(
    "/conversations/{conversationId}/messages",
    status_code=201,
    response_model=MessageReply,
    responses=RESPONSES["send_message"],
)
async def send_message(
    conversationId: str, body: SendMessageIn, user: CurrentUser, core: Services
) -> Any:
    """Send a text message (the REST twin of the socket `send_message`); `scheduledAt`: 202."""
    sent = await scheduling.send_or_schedule(core, user, conversationId, body)
    if isinstance(sent, scheduling.Scheduled):  # issue #16 B: another status and reply
        return JSONResponse({"message": "Message scheduled", "data": sent.view()}, 202)
    return {"message": "Message sent successfully", "data": sent.message}


@router.put(
    "/conversations/{conversationId}/mark-read",
    response_model=ReadReply,
    responses=RESPONSES["mark_read"],
)
async def mark_read(
    conversationId: str, user: CurrentUser, core: Services, body: MarkReadIn | None = None
) -> dict[str, Any]:
    """Mark messages addressed to the caller as read (all unread ones when no ids are given)."""
    receipt = await messages.mark_read(
        core, user, conversationId, body.messageIds if body else None
    )
    return {
        "message": f"{receipt.count} messages marked as read",
        "data": {"conversationId": receipt.conversation_id, "messageIds": receipt.message_ids},
    }


@router.get("/unread-count", response_model=UnreadReply, responses=RESPONSES["unread_count"])
async def unread_count(user: CurrentUser, core: Services) -> dict[str, Any]:
    """Total unread messages for the caller, and per conversation."""
    data = await conversations.unread_summary(core, user)
    return {"message": "Unread count retrieved successfully", "data": data}


@router.get("/search", response_model=SearchReply, responses=RESPONSES["search_messages"])
async def search_messages(
    user: CurrentUser,
    core: Services,
    query: Annotated[str, Query(min_length=1, max_length=200, description="Words to find")],
    conversationId: str | None = None,
    page: PageNumber = 1,
    limit: Annotated[int | None, Query(description="1..50, default 20")] = None,
) -> dict[str, Any]:
    """Search the caller's messages: accent- and case-insensitive words, last word as a prefix."""
    page_req = page_of(page, limit, default=20, maximum=50)
    data = await search.search_messages(core, user, query, conversationId, page_req)
    return {"message": "Search results retrieved successfully", "data": data}


@router.delete("/{messageId}", response_model=Reply, responses=RESPONSES["delete_message"])
async def delete_message(messageId: str, user: CurrentUser, core: Services) -> dict[str, Any]:
    """Soft-delete one of the caller's own messages."""
    await messages.delete_message(core, user, messageId)
    return {"message": "Message deleted successfully"}


app = create_app(router, compliance.router)  # the compliance routes share this function
handler = lambda_handler(app)
