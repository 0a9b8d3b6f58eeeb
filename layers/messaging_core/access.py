"""Who may see what: the participant rule every conversation operation starts with."""

from .core import Core
from .errors import Forbidden, NotFound
from .ids import parse_id
from .models import Conversation, Principal


async def conversation_for(core: Core, user: Principal, conversation_id: object) -> Conversation:
    """Load a conversation the caller is in: 400 bad id, 404 unknown, 403 not a participant."""
    conv_id = parse_id(conversation_id, "conversationId")
    conv = await core.store.get_conversation(conv_id)
    if conv is None:
        raise NotFound("Conversation not found")
    if not conv.has(user.id):
        raise Forbidden("You are not a participant in this conversation")
    return conv
