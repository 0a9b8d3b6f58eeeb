"""Lambda `conversations`: create-or-get a conversation, list the caller's conversations."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from messaging_core import care_teams, conversations
from messaging_core.inputs import CreateConversationIn

from . import care_teams as care_team_routes
from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES
from .api.schemas import ConversationReply, ConversationsReply

router = APIRouter(prefix="/api/v1/messages", tags=["conversations"])


@router.post(
    "/conversations",
    status_code=201,
    response_model=ConversationReply,
    responses={
        200: {"model": ConversationReply, "description": "The pair's existing conversation"},
        **RESPONSES["create_conversation"],
    },
)
async def create_conversation(
    body: CreateConversationIn, user: CurrentUser, core: Services, response: Response
) -> dict[str, Any]:
    """Create a conversation (201) or return the pair's existing one (200); or a care team."""
    opened = await care_teams.open_any(core, user, body)
    if not opened.created:
        response.status_code = 200
    verb = "created" if opened.created else "retrieved"
    return {"message": f"Conversation {verb} successfully", "data": opened.conversation}


@router.get(
    "/conversations",
    response_model=ConversationsReply,
    responses=RESPONSES["list_conversations"],
)
async def list_conversations(
    user: CurrentUser,
    core: Services,
    type: Annotated[
        str, Query(description="all, patient_doctor, doctor_doctor or care_team")
    ] = "all",
    page: PageNumber = 1,
    limit: Annotated[int | None, Query(description="1..100, default 20")] = None,
) -> dict[str, Any]:
    """List the caller's conversations, most recent activity first."""
    data, paging = await conversations.list_conversations(
        core, user, type, page_of(page, limit, default=20, maximum=100)
    )
    return {"message": "Conversations retrieved successfully", "data": data, "pagination": paging}


app = create_app(router, care_team_routes.router)  # care-team membership (#18) shares this function
handler = lambda_handler(app)
