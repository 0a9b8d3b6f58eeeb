"""Care-team messages (#18): sending to every member, receipts per member, their events.

`messages.py` hands a care team's send, read receipt and delivery here; one-to-one paths there
stay as they were. The message is stored once with its recipients (the members when it was sent,
but the sender) and who has not read or received it yet; each member's receipt changes that once.
"""

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import audit, events
from .budgets import spend
from .clock import epoch_ms, iso, utcnow
from .core import Core, Push
from .ids import new_id
from .models import (
    Attachment,
    Conversation,
    ForwardedFrom,
    LastMessage,
    Message,
    MessageType,
    PendingEvent,
    Principal,
    Receipt,
)
from .text import index_tokens

if TYPE_CHECKING:  # messages.py imports this module; the names below come lazily at run time
    from .messages import Sent

MAX_CATCH_UP = 500


def team_message_sent(message: Message, online: set[str]) -> PendingEvent:
    """`message.sent` for a care team: `participantIds` (every member), no `receiverId`."""
    return events._event(
        events.MESSAGE_SENT,
        message.conversation_id,
        message.created_at,
        messageId=message.id,
        conversationId=message.conversation_id,
        senderId=message.sender_id,
        participantIds=sorted([message.sender_id, *message.recipients]),
        messageType=message.message_type,
        timestamp=epoch_ms(message.created_at),
        onlineParticipantIds=sorted(online),
    )


def team_message_delivered(message: Message, user_id: str, at: datetime) -> PendingEvent:
    return events._event(
        events.MESSAGE_DELIVERED,
        message.conversation_id,
        at,
        messageId=message.id,
        deliveredTo=user_id,
        deliveredAt=epoch_ms(at),
    )


async def store_team_message(
    core: Core,
    user: Principal,
    conv: Conversation,
    *,
    message_type: MessageType,
    content: str,
    temp_id: str | None,
    metadata: dict[str, object] | None,
    attachment: Attachment | None,
    forwarded_from: ForwardedFrom | None = None,
    message_id: str | None = None,
    budget: bool = True,
) -> "Sent":
    """Persist once, publish once, push `new_message` to every member's devices.

    `forwarded_from`, `message_id` and `budget` as in `messages.store_message` (issue #16 B).
    """
    from .messages import Sent, SentRef, _insert, _one_view, _replay_by_id, _replay_of

    replay = await _replay_of(core, user, temp_id) or await _replay_by_id(core, message_id)
    if replay is not None:
        return replay
    if budget:
        await spend(core, user, "send")
    recipients = [p for p in conv.participants if p != user.id]
    seq, online = await asyncio.gather(
        core.store.allocate_seq(conv.id), core.presence.online_among(recipients)
    )
    now = utcnow()
    message = Message(
        id=message_id or new_id(),
        conversation_id=conv.id,
        sender_id=user.id,
        sender_type=user.role,
        receiver_id="",  # no single receiver: `recipients` below
        receiver_type=user.role,  # never shown for a care team (views.py)
        message_type=message_type,
        content=content,
        created_at=now,
        updated_at=now,
        seq=seq,
        temp_id=temp_id,
        attachment=attachment,
        metadata=metadata,
        is_delivered=bool(recipients) and all(r in online for r in recipients),
        delivered_at=now if recipients and all(r in online for r in recipients) else None,
        search_tokens=index_tokens(content),
        forwarded_from=forwarded_from,
        recipients=recipients,
        unread_by=list(recipients),
        undelivered_to=[r for r in recipients if r not in online],
        delivered_to=[Receipt(r, now) for r in recipients if r in online],
    )
    reached = sorted(r for r in recipients if r in online)
    pending = [team_message_sent(message, set(reached))]
    pending += [team_message_delivered(message, r, now) for r in reached]
    message.pending_events = pending
    winner = await _insert(core, user, message)
    if winner is not None:
        return winner
    last = LastMessage(message.id, message.content, user.id, now, False, message.seq)
    await core.store.record_message(conv.id, last, "", now)
    # As for a one-to-one send (issue #19): every reached member's access record is written
    # before the push and published with the events in one batch (was a publish per member);
    # the sender's receipts go out together after the reply (was a task per member).
    to_publish = list(pending)
    try:
        for r in reached:
            role = conv.participant_types.get(r, "doctor")
            to_publish.append(await audit.write_delivered(core, message, r, role))
    finally:  # stored first: whatever happens next, the relay has them
        await core.settle(to_publish)
    view = await _one_view(core, message)
    await core.notify_many(recipients, "new_message", view)
    at = iso(now)
    receipts: list[Push] = [
        (user.id, "message_delivered", {"messageId": message.id, "deliveredAt": at, "userId": r})
        for r in reached
    ]
    await core.settle((), receipts)
    return Sent(view, created=True, ref=SentRef.of(message))


async def mark_team_read(
    core: Core, user: Principal, conv: Conversation, ids: list[str] | None, now: datetime
) -> tuple[int, list[str]]:
    """The caller's own receipt; `messages_read` goes to every current member."""
    candidates = await core.store.team_unread_ids(conv.id, user.id, ids)
    if not candidates:
        return 0, []
    event = events.message_read(conv.id, candidates, user.id, now)
    changed = await core.store.mark_member_read(candidates, user.id, now, event)
    if changed:
        await audit.record(core, user.id, user.role, audit.READ_RECEIPT, conv.id, candidates)
        await _preview_read_by_all(core, conv, candidates)
        await core.dispatch([event])
        payload = {
            "conversationId": conv.id,
            "messageIds": candidates,
            "readBy": user.id,
            "readAt": iso(now),
        }
        await core.notify_many(conv.participants, "messages_read", payload)
    return changed, candidates if changed else []


async def _preview_read_by_all(core: Core, conv: Conversation, marked: list[str]) -> None:
    """The list's preview says `isRead` once every recipient has read the last message."""
    last = conv.last_message
    if last is None or last.message_id not in marked:
        return
    stored = await core.store.get_message(last.message_id)
    if stored is not None and not stored.unread_by:
        await core.store.mark_last_message_read(conv.id, [last.message_id])


async def deliver_team_pending(
    core: Core, user: Principal, conversation_id: str | None = None
) -> int:
    """Care-team messages waiting for `user`: mark each delivered to them, tell each sender."""
    waiting = await core.store.team_undelivered_for(user.id, conversation_id, MAX_CATCH_UP)
    delivered = 0
    for m in waiting:
        now = utcnow()
        event = team_message_delivered(m, user.id, now)
        if not await core.store.mark_member_delivered(m.id, user.id, now, event):
            continue  # another task delivered it first
        delivered += 1
        await core.dispatch([event])
        await core.notify(
            m.sender_id,
            "message_delivered",
            {"messageId": m.id, "deliveredAt": iso(now), "userId": user.id},
        )
    return delivered


async def notify_members(
    core: Core, conv: Conversation, message: Message, event: str, payload: dict[str, Any]
) -> None:
    """A change to a care-team message (deletion, edit...): every current member and whoever
    received it."""
    await core.notify_many(
        [*conv.participants, *message.recipients, message.sender_id], event, payload
    )
