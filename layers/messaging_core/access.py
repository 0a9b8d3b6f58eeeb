"""Who may see what: the participant rule every conversation operation starts with."""

from .core import Core
from .errors import Forbidden, Invalid, NotFound
from .ids import parse_id
from .models import Conversation, Principal


async def conversation_for(
    core: Core, user: Principal, conversation_id: object, *, fresh: bool = False
) -> Conversation:
    """Load a conversation the caller is in: 400 bad id, 404 unknown, 403 not a participant.

    A one-to-one conversation's participants never change, so one seen lately answers without a
    store read (one round trip less per send). Its lastMessage and seq may be stale: a caller that
    reads them asks for `fresh`. A care team's members do change (from any Lambda or task), so
    care teams are never cached: every check reads the current membership.
    """
    conv_id = parse_id(conversation_id, "conversationId")
    conv = None if fresh else core.known_conversations.get(conv_id)
    if conv is None:
        conv = await core.store.get_conversation(conv_id)
        if conv is None:
            raise NotFound("Conversation not found")
        if not conv.is_care_team:
            core.known_conversations.put(conv_id, conv)
    if not conv.has(user.id):
        raise Forbidden("You are not a participant in this conversation")
    return conv


def receiver_of(user: Principal, conv: Conversation, receiver_id: object | None) -> str:
    """The other participant; a receiverId the client named must be that one (send, typing).

    In a care team there is no single other participant: a named receiverId must be another
    current member (typing to one member), and none named is refused (sends fan out instead)."""
    if conv.is_care_team:
        if receiver_id is None:
            raise Invalid("receiverId is required here: name the member")
        named = parse_id(receiver_id, "receiverId")
        if named == user.id or not conv.has(named):
            raise Forbidden("receiverId is not a member of this care team")
        return named
    other = conv.other(user.id)
    if receiver_id is not None and parse_id(receiver_id, "receiverId") != other:
        raise Forbidden("receiverId is not the other participant of this conversation")
    return other
