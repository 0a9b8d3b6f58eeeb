"""Message edits (issue #16): a sender corrects a recent text; every earlier text is kept.

A medical record is never silently rewritten. The message keeps its earlier texts in a
`versions` list on its own document rather than in a collection of their own: the edit, the
kept text and the `message.edited` event are then one conditional update (no transaction,
which DocumentDB and FerretDB would need for two documents), the purge that erases a message
or its content erases its versions with it, and history pages never read them (the views carry
`isEdited`/`editedAt` only; `GET .../versions` reads them). Search indexes the current text
only: its tokens are recomputed on each edit.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import audit, events
from .access import conversation_for
from .budgets import spend
from .care_team_messages import notify_members
from .clock import iso, utcnow
from .core import Core
from .errors import Conflict, Forbidden, Invalid, NotFound
from .ids import parse_id
from .models import Conversation, Message, MessageVersion, PendingEvent, Principal
from .text import clean_text, index_tokens
from .views import JSON, message_view

MESSAGE_EDIT = "message.edit"  # audit actions
VERSIONS_READ = "message.versions_read"
# Two edits of one message racing: the loser re-reads and re-checks, a bounded number of times.
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Edited:
    message: JSON  # the message view after the edit
    changed: bool  # False when the text was already this one (a retried edit)


async def message_in_conversation(
    core: Core, user: Principal, message_id: object
) -> tuple[Message, Conversation]:
    """A message and its conversation, for a participant: 400 bad id, 404 unknown, 403 outsider.

    The participant rule is the conversations' one (access.conversation_for), fresh: the caller
    may compare the conversation's lastMessage with the message."""
    m = await core.store.get_message(parse_id(message_id, "messageId"))
    if m is None:
        raise NotFound("Message not found")
    conv = await conversation_for(core, user, m.conversation_id, fresh=True)
    return m, conv


def check_editable(core: Core, user: Principal, m: Message, now: datetime) -> None:
    """Sender only, text only, not deleted, within EDIT_WINDOW_MINUTES of sending."""
    if m.sender_id != user.id:
        raise Forbidden("You can only edit your own messages")
    if m.is_deleted:
        raise Invalid("A deleted message cannot be edited")
    if m.message_type != "text":
        raise Invalid("Only text messages can be edited")
    window = core.settings.edit_window_minutes
    if now - m.created_at > timedelta(minutes=window):
        raise Invalid(f"A message can only be edited within {window} minutes of sending")


async def edit_message(core: Core, user: Principal, message_id: object, content: str) -> Edited:
    """Replace the text of one of the caller's recent messages, keeping the earlier one."""
    await spend(core, user, "edit")
    text = clean_text(core.settings, content)
    for _ in range(MAX_ATTEMPTS):
        m, conv = await message_in_conversation(core, user, message_id)
        now = utcnow()
        check_editable(core, user, m, now)
        if text == m.content:
            return Edited(await _view(core, m), changed=False)
        previous = MessageVersion(m.content, m.edited_at or m.created_at)
        event = events.message_edited(m, user.id, len(m.versions) + 2, now)
        tokens = index_tokens(text)
        if await core.store.edit_message(m.id, len(m.versions), text, tokens, now, previous, event):
            m.versions.append(previous)
            m.content, m.search_tokens = text, tokens
            m.is_edited, m.edited_at, m.updated_at = True, now, now
            await _announce(core, user, m, conv, event)
            return Edited(await _view(core, m), changed=True)
    raise Conflict("The message was changed meanwhile, please retry")


async def _announce(
    core: Core, user: Principal, m: Message, conv: Conversation, event: PendingEvent
) -> None:
    await audit.record(core, user.id, user.role, MESSAGE_EDIT, conv.id, [m.id])
    # The conversation list shows the new text when this was its newest message.
    await core.store.edit_last_message(conv.id, m.id, m.content)
    await core.dispatch([event])
    payload = {
        "messageId": m.id,
        "conversationId": conv.id,
        "content": m.content,
        "editedAt": iso(m.edited_at),
    }
    # Every participant, every device (the sender's other devices too); on a care team (#18)
    # whoever received the message too, in one publish per task.
    await notify_members(core, conv, m, "message_edited", payload)


async def versions(core: Core, user: Principal, message_id: object) -> JSON:
    """Every text of a message, oldest first (the current one last): participants only."""
    await spend(core, user, "history")
    m, conv = await message_in_conversation(core, user, message_id)
    if m.is_deleted:
        # A deleted message's texts are never shown again; the store keeps them for the record.
        raise Invalid("This message was deleted")
    texts = [*m.versions, MessageVersion(m.content, m.edited_at or m.created_at)]
    await audit.record(core, user.id, user.role, VERSIONS_READ, conv.id, [m.id])
    return {
        "messageId": m.id,
        "versions": [{"content": v.content, "editedAt": iso(v.since)} for v in texts],
    }


async def _view(core: Core, m: Message) -> JSON:
    return await message_view(core, m, await core.directory.get_profile(m.sender_id))
