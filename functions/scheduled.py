"""Lambda `scheduled`: the caller's scheduled messages (issue #16 B), and the forward route.

The forward route is served by the `attachments` function (functions/attachments.py includes
`forward_router`): forwarding a file writes a copy under `files/`, which the bucket lets only
that function's role write. Scheduling itself is the send route's `scheduledAt` (messages.py);
the sending is `functions/scheduled_sender.py`, run every minute.
"""

from typing import Any

from fastapi import APIRouter
from messaging_core import forwarding, scheduling
from messaging_core.inputs import ClientId, InputModel

from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES
from .api.schemas import CancelledReply, MessageReply, ScheduledListReply

router = APIRouter(prefix="/api/v1/messages", tags=["scheduled messages"])
forward_router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class ForwardIn(InputModel):
    conversationId: ClientId


@forward_router.post(
    "/{messageId}/forward",
    status_code=201,
    response_model=MessageReply,
    responses=RESPONSES["forward_message"],
)
async def forward_message(
    messageId: str, body: ForwardIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Forward a message into another of the caller's conversations (a file gets its own copy)."""
    sent = await forwarding.forward_message(core, user, messageId, body.conversationId)
    return {"message": "Message forwarded successfully", "data": sent.message}


@router.get("/scheduled", response_model=ScheduledListReply, responses=RESPONSES["list_scheduled"])
async def list_scheduled(
    user: CurrentUser, core: Services, page: PageNumber = 1, limit: int | None = None
) -> dict[str, Any]:
    """The caller's pending scheduled messages, soonest first."""
    views, paging = await scheduling.list_scheduled(
        core, user, page_of(page, limit, default=20, maximum=100)
    )
    return {
        "message": "Scheduled messages retrieved successfully",
        "data": views,
        "pagination": paging,
    }


@router.delete(
    "/scheduled/{scheduledMessageId}",
    response_model=CancelledReply,
    responses=RESPONSES["cancel_scheduled"],
)
async def cancel_scheduled(
    scheduledMessageId: str, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Cancel one of the caller's scheduled messages before it is sent."""
    sid = await scheduling.cancel_scheduled(core, user, scheduledMessageId)
    return {
        "message": "Scheduled message cancelled",
        "data": {"scheduledMessageId": sid, "status": "cancelled"},
    }


app = create_app(router)
handler = lambda_handler(app)
