"""Lambda `scheduled`: the caller's scheduled messages (issue #16 B).

The forward route of #16 B is served by the `attachments` function (functions/forwarding.py):
forwarding a file writes a copy under `files/`, which the bucket lets only that function's role
write. Scheduling itself is the send route's `scheduledAt` (messages.py);
the sending is `functions/scheduled_sender.py`, run every minute.
"""

from typing import Any

from fastapi import APIRouter
from messaging_core import scheduling

from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES
from .api.schemas import CancelledReply, ScheduledListReply

router = APIRouter(prefix="/api/v1/messages", tags=["scheduled messages"])


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
