"""Care-team membership (#18): add a member, remove one or leave. Served by `conversations`."""

from typing import Any

from fastapi import APIRouter
from messaging_core import care_teams
from messaging_core.inputs import AddParticipantIn

from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import ConversationReply

router = APIRouter(prefix="/api/v1/messages", tags=["care teams"])


@router.post(
    "/conversations/{conversationId}/participants",
    response_model=ConversationReply,
    responses=RESPONSES["add_participant"],
)
async def add_participant(
    conversationId: str, body: AddParticipantIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Add a member to a care team (its creator or a doctor member)."""
    change = await care_teams.add_member(core, user, conversationId, body.userId)
    view = await care_teams.member_view(core, user, change)
    return {"message": "Participant added successfully", "data": view}


@router.delete(
    "/conversations/{conversationId}/participants/{userId}",
    response_model=ConversationReply,
    responses=RESPONSES["remove_participant"],
)
async def remove_participant(
    conversationId: str, userId: str, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Remove a member from a care team (creator or doctor member), or leave it (yourself)."""
    change = await care_teams.remove_member(core, user, conversationId, userId)
    view = await care_teams.member_view(core, user, change)
    return {"message": "Participant removed successfully", "data": view}
