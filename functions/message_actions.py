"""Lambda `message_actions` (issue #16 part A): edit a message, read its versions, react to it."""

from typing import Any

from fastapi import APIRouter
from messaging_core import edits, reactions
from messaging_core.inputs import EditMessageIn, ReactionIn

from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import MessageReply, ReactionsReply, VersionsReply

router = APIRouter(prefix="/api/v1/messages", tags=["message actions"])


@router.put("/{messageId}", response_model=MessageReply, responses=RESPONSES["edit_message"])
async def edit_message(
    messageId: str, body: EditMessageIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Edit one of the caller's recent text messages; the earlier text is kept as a version."""
    edited = await edits.edit_message(core, user, messageId, body.content)
    return {"message": "Message updated successfully", "data": edited.message}


@router.get(
    "/{messageId}/versions", response_model=VersionsReply, responses=RESPONSES["message_versions"]
)
async def message_versions(messageId: str, user: CurrentUser, core: Services) -> dict[str, Any]:
    """Every text a message has held, oldest first (the current one last)."""
    data = await edits.versions(core, user, messageId)
    return {"message": "Message versions retrieved successfully", "data": data}


@router.post(
    "/{messageId}/reactions", response_model=ReactionsReply, responses=RESPONSES["add_reaction"]
)
async def add_reaction(
    messageId: str, body: ReactionIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """React to a message with one emoji (once per emoji and user; 20 emoji per message)."""
    changed = await reactions.add_reaction(core, user, messageId, body.emoji)
    return {"message": "Reaction added", "data": changed.view()}


@router.delete(
    "/{messageId}/reactions/{emoji}",
    response_model=ReactionsReply,
    responses=RESPONSES["remove_reaction"],
)
async def remove_reaction(
    messageId: str, emoji: str, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Take the caller's emoji off a message (URL-encode the emoji in the path)."""
    changed = await reactions.remove_reaction(core, user, messageId, emoji)
    return {"message": "Reaction removed", "data": changed.view()}


app = create_app(router)
handler = lambda_handler(app)
