"""Router (no Lambda of its own): forwarding a message (issue #16 B), served by `attachments`.

Forwarding a file writes a copy under `files/`, which the bucket lets only the attachments
function's role write. It lives in its own module so that function does not import (and build)
the whole `scheduled` function's app at cold start (#19).
"""

from typing import Any

from fastapi import APIRouter
from messaging_core import forwarding
from messaging_core.inputs import ClientId, InputModel

from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import MessageReply

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class ForwardIn(InputModel):
    conversationId: ClientId


@router.post(
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
