"""Messages: send (both tiers), history, read receipts, delivery receipts, soft delete."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from . import audit, care_team_messages, care_teams, events, sent_metrics, templates
from .access import conversation_for, receiver_of
from .budgets import BudgetName, spend
from .clock import iso, utcnow
from .core import Core
from .errors import DuplicateKey, Forbidden, Invalid, NotFound, Unavailable
from .ids import new_id, parse_id
from .inputs import MAX_IDS_PER_CALL, SendMessageIn, check_metadata, check_offset
from .models import (
    Attachment,
    Conversation,
    ForwardedFrom,
    HistoryCursor,
    LastMessage,
    Message,
    MessageType,
    Page,
    PendingEvent,
    Principal,
)
from .text import clean_text, index_tokens
from .views import JSON, message_view, message_views, pagination

logger = logging.getLogger(__name__)

MAX_CATCH_UP = 500
MAX_SEQ_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class SentRef:
    """What the sender's confirmation needs, typed (the socket tier reads no view keys)."""

    message_id: str
    conversation_id: str
    receiver_id: str
    timestamp: str  # the view's createdAt
    seq: int

    @classmethod
    def of(cls, m: Message) -> "SentRef":
        return cls(m.id, m.conversation_id, m.receiver_id, iso(m.created_at) or "", m.seq)


@dataclass(frozen=True, slots=True)
class Sent:
    message: JSON
    created: bool  # False when a retried tempId returned the original message
    ref: SentRef


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a conversation's messages; `view()` is the REST shape."""

    conversation_id: str
    order: str
    messages: list[JSON]
    pagination: JSON

    @property
    def has_more(self) -> bool:
        return bool(self.pagination["hasMore"])

    def view(self) -> JSON:
        return {
            "conversationId": self.conversation_id,
            "order": self.order,
            "messages": self.messages,
            "pagination": self.pagination,
        }


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    conversation_id: str
    count: int
    message_ids: list[str]
    read_at: datetime


@dataclass(frozen=True, slots=True)
class Deleted:
    message_id: str
    conversation_id: str
    deleted_at: datetime


async def send_text(
    core: Core, user: Principal, conversation_id: object, data: SendMessageIn
) -> Sent:
    """Send a text message: the one path for the socket `send_message` and the REST send."""
    if data.templateId is None:
        content = checked_text(core, data)
        conv = await conversation_for(core, user, conversation_id)
    else:  # a doctor's template (#17), filled for this conversation once membership is checked
        conv = await conversation_for(core, user, conversation_id)
        content = await template_text(core, user, conv, data)
    return await store_message(
        core,
        user,
        conv,
        receiver_id=data.receiverId,
        message_type="text",
        content=content,
        temp_id=data.tempId,
        metadata=check_metadata(data.metadata),
    )


def checked_text(core: Core, data: SendMessageIn, text: str | None = None) -> str:
    """A text message's content, stripped and within MAX_MESSAGE_LENGTH (send and schedule);
    `text` is a filled template (#17) to check instead of `data.content`."""
    if data.messageType != "text":
        raise Invalid("messageType must be 'text' here; files go through send-file")
    return clean_text(core.settings, (data.content if text is None else text) or "")


async def template_text(
    core: Core, user: Principal, conv: Conversation, data: SendMessageIn
) -> str:
    """A doctor's template (#17) filled for this conversation, checked like any text (the plain
    text when no template is named)."""
    if data.templateId is None:
        return checked_text(core, data)
    return checked_text(core, data, await templates.render(core, user, conv, data.templateId))


async def store_message(
    core: Core,
    user: Principal,
    conv: Conversation,
    *,
    receiver_id: object | None,
    message_type: MessageType,
    content: str,
    temp_id: str | None = None,
    metadata: dict[str, object] | None = None,
    attachment: Attachment | None = None,
    forwarded_from: ForwardedFrom | None = None,
    message_id: str | None = None,
    budget: bool = True,
) -> Sent:
    """Persist a message with its `message.sent` event, push it, and receipt it when delivered.

    `message_id` (a scheduled send, issue #16 B) makes the send idempotent by that id: a second
    call returns the stored message and announces nothing. Its budget was spent when scheduled.
    """
    if conv.is_care_team:  # every member, receipts per member (#18); no receiverId needed
        return await care_team_messages.store_team_message(
            core,
            user,
            conv,
            message_type=message_type,
            content=content,
            temp_id=temp_id,
            metadata=metadata,
            attachment=attachment,
            forwarded_from=forwarded_from,
            message_id=message_id,
            budget=budget,
        )
    other = receiver_of(user, conv, receiver_id)
    replay = await _replay_of(core, user, temp_id) or await _replay_by_id(core, message_id)
    if replay is not None:
        return replay
    seq, online = await _seq_and_presence(core, user, conv.id, other, budget)
    now = utcnow()
    message = Message(
        id=message_id or new_id(),
        conversation_id=conv.id,
        sender_id=user.id,
        sender_type=user.role,
        receiver_id=other,
        receiver_type=conv.participant_types.get(other, "doctor"),
        message_type=message_type,
        content=content,
        created_at=now,
        updated_at=now,
        seq=seq,
        temp_id=temp_id,
        attachment=attachment,
        metadata=metadata,
        is_delivered=online,
        delivered_at=now if online else None,
        search_tokens=index_tokens(content),
        forwarded_from=forwarded_from,
    )
    pending = _events_of(message, online, now)
    message.pending_events = pending
    winner = await _insert(core, user, message)
    if winner is not None:
        return winner
    return await _announce(core, user, message, pending, online)


async def _replay_of(core: Core, user: Principal, temp_id: str | None) -> Sent | None:
    """A retried tempId answers with the message already stored for it (no second copy)."""
    if not temp_id:
        return None
    original = await core.store.find_by_client_key(user.id, temp_id)
    if original is None:
        return None
    return Sent(await _one_view(core, original), created=False, ref=SentRef.of(original))


async def _replay_by_id(core: Core, message_id: str | None) -> Sent | None:
    """A scheduled send taken over after a crash: its message may be stored already."""
    if message_id is None:
        return None
    original = await core.store.get_message(message_id)
    if original is None:
        return None
    return Sent(await _one_view(core, original), created=False, ref=SentRef.of(original))


async def _seq_and_presence(
    core: Core, user: Principal, conversation_id: str, other: str, budget: bool
) -> tuple[int, bool]:
    """The send's budget spent (when `budget`), then its sequence number and whether its
    receiver is online."""
    # The presence read starts with the budget's call, so both leave in one Redis write (issue
    # #19); nothing is allocated or stored before the budget is spent, and a refused send only
    # drops the answer of that read. One task, not gather's two (this runs once per message).
    online_check = asyncio.ensure_future(core.presence.is_online(other))
    try:
        if budget:
            await spend(core, user, "send")
        seq = await core.store.allocate_seq(conversation_id)
    except BaseException:
        online_check.cancel()
        raise
    return seq, await online_check


def _events_of(message: Message, online: bool, now: datetime) -> list[PendingEvent]:
    """Stored with the message (the outbox): sent, and delivered when the receiver is online."""
    pending = [events.message_sent(message, online)]
    if online:
        pending.append(events.message_delivered(message, now))
    return pending


async def _insert(core: Core, user: Principal, message: Message) -> Sent | None:
    """Store the message; returns the original instead when its tempId won a race elsewhere."""
    for _ in range(MAX_SEQ_ATTEMPTS):
        try:
            await core.store.insert_message(message)
            return None
        except DuplicateKey:
            if message.temp_id:
                # The same tempId raced in from another task: answer with the message that won.
                replay = await _replay_of(core, user, message.temp_id)
                if replay is not None:
                    return replay
            # The same id raced in (two workers on one scheduled message): the stored one wins.
            by_id = await _replay_by_id(core, message.id)
            if by_id is not None:
                return by_id
            # The sequence number was taken (a store whose $inc is not atomic under load):
            # take the next one above the highest stored; the unique key keeps them distinct.
            floor = await core.store.max_seq(message.conversation_id)
            message.seq = await core.store.allocate_seq(message.conversation_id, floor)
    raise Unavailable("Could not store the message, please retry")


async def _announce(
    core: Core, user: Principal, message: Message, pending: list[PendingEvent], online: bool
) -> Sent:
    """Update the conversation, publish the events, push the message and its receipt."""
    now, other = message.created_at, message.receiver_id
    last = LastMessage(message.id, message.content, user.id, now, False, message.seq)
    await core.store.record_message(message.conversation_id, last, other, now)
    sent_metrics.count_sent(message.message_type)  # per type and tier (#17)
    # The receiver's access record is written before the push (the push never fails the send,
    # so it was recorded either way; unwritable, nothing is pushed: fail closed), and published
    # with the message's events in one batch (issue #19; was one publish each).
    to_publish = list(pending)
    try:
        if online:
            receiver_type = message.receiver_type
            to_publish.append(await audit.write_delivered(core, message, other, receiver_type))
    finally:  # stored first: whatever happens next, the relay has them
        await core.settle(to_publish)
    view = await _one_view(core, message)
    await core.notify(other, "new_message", view)
    if online:  # after the reply, so the sender has seen `message_sent` first
        receipt = {"messageId": message.id, "deliveredAt": iso(now)}
        await core.settle((), [(user.id, "message_delivered", receipt)])
    return Sent(view, created=True, ref=SentRef.of(message))


async def history(
    core: Core,
    user: Principal,
    conversation_id: object,
    page: Page,
    cursor: HistoryCursor = HistoryCursor(),
    *,
    budget: BudgetName = "history",
) -> JSON:
    """Newest first by page or before a message; oldest first after a message (catch-up).

    REST history and the socket `sync` share this path, each with its own budget."""
    found = await history_page(core, user, conversation_id, page, cursor, budget=budget)
    return found.view()


async def catch_up(
    core: Core, user: Principal, conversation_id: object, after_seq: int, limit: int
) -> HistoryPage:
    """Socket `sync`: the messages after the last `seq` the client holds, oldest first."""
    cursor = HistoryCursor(after_seq=after_seq)
    return await history_page(core, user, conversation_id, Page(1, limit), cursor, budget="sync")


async def history_page(
    core: Core,
    user: Principal,
    conversation_id: object,
    page: Page,
    cursor: HistoryCursor = HistoryCursor(),
    *,
    budget: BudgetName = "history",
) -> HistoryPage:
    """The page `history` shapes; typed for the socket tier."""
    await spend(core, user, budget)
    check_offset(core.settings, page)
    action = audit.SYNC_READ if budget == "sync" else audit.HISTORY_READ
    # A care team's former member reads their membership periods only (#18).
    conv, windows = await care_teams.conversation_to_read(core, user, conversation_id, action)
    before, after = cursor.before, cursor.after
    if before is not None and (after is not None or cursor.after_seq is not None):
        raise Invalid("Use either before or after, not both")
    before_seq = await _cursor_seq(core, conv, before, "before") if before is not None else None
    start_seq = cursor.after_seq
    if after is not None:
        start_seq = await _cursor_seq(core, conv, after, "after")
    if start_seq is None and before is None and conv.has(user.id):
        # Viewing the conversation delivers what was still waiting for this reader.
        await deliver_pending(core, user, conv.id)
    if windows is None:
        messages, total = await core.store.list_messages(
            conv.id, skip=page.skip, limit=page.limit, before_seq=before_seq, after_seq=start_seq
        )
    else:
        messages, total = await core.store.list_messages_within(
            conv.id,
            windows,
            skip=page.skip,
            limit=page.limit,
            before_seq=before_seq,
            after_seq=start_seq,
        )
    paging = pagination(page.page, page.limit, total)
    paging.pop("hasPrevious")
    views = await message_views(core, messages)
    await audit.record_read(core, user, action, messages, conv.id)
    return HistoryPage(
        conversation_id=conv.id,
        order="oldest_first" if start_seq is not None else "newest_first",
        messages=views,
        pagination=paging,
    )


async def _cursor_seq(core: Core, conv: Conversation, value: object, name: str) -> int:
    cursor = await core.store.get_message(parse_id(value, name))
    if cursor is None or cursor.conversation_id != conv.id:
        raise Invalid(f"{name} must be the id of a message in this conversation")
    return cursor.seq


async def mark_read(
    core: Core, user: Principal, conversation_id: object, message_ids: list[str] | None
) -> ReadReceipt:
    """Mark messages addressed to the caller as read (all unread ones when no ids are given)."""
    await spend(core, user, "mark_read")
    conv = await conversation_for(core, user, conversation_id)
    ids: list[str] | None = None
    if message_ids is not None:
        if len(message_ids) > MAX_IDS_PER_CALL:
            raise Invalid(f"messageIds must hold at most {MAX_IDS_PER_CALL} ids")
        ids = list(dict.fromkeys(parse_id(m, "messageIds") for m in message_ids))
    now = utcnow()
    if ids == []:
        return ReadReceipt(conv.id, 0, [], now)
    if conv.is_care_team:  # the caller's own receipt among the members' (#18)
        changed, marked = await care_team_messages.mark_team_read(core, user, conv, ids, now)
        return ReadReceipt(conv.id, changed, marked, now)
    candidates = await core.store.unread_ids(conv.id, user.id, ids)
    if not candidates:
        return ReadReceipt(conv.id, 0, [], now)
    event = events.message_read(conv.id, candidates, user.id, now)
    changed = await core.store.mark_read(candidates, user.id, now, event)
    if changed:
        await audit.record(core, user.id, user.role, audit.READ_RECEIPT, conv.id, candidates)
        await core.store.mark_last_message_read(conv.id, candidates)
        await core.dispatch([event])
        await core.notify(
            conv.other(user.id),
            "messages_read",
            {
                "conversationId": conv.id,
                "messageIds": candidates,
                "readBy": user.id,
                "readAt": iso(now),
            },
        )
    return ReadReceipt(conv.id, changed, candidates if changed else [], now)


async def join(core: Core, user: Principal, conversation_id: object) -> tuple[str, int]:
    """Socket `join_conversation`: check the caller is in it, deliver what waits for them there."""
    await spend(core, user, "join")
    conv = await conversation_for(core, user, conversation_id)
    return conv.id, await deliver_pending(core, user, conv.id)


async def deliver_pending(core: Core, user: Principal, conversation_id: str | None = None) -> int:
    """Mark what waits for `user` delivered and tell each sender (on connect, join or view)."""
    waiting = await core.store.undelivered_for(user.id, conversation_id, MAX_CATCH_UP)
    delivered = 0
    for m in waiting:
        now = utcnow()
        event = events.message_delivered(m, now)
        if not await core.store.mark_delivered(m.id, now, event):
            continue  # another task delivered it first
        delivered += 1
        await core.dispatch([event])
        await core.notify(
            m.sender_id, "message_delivered", {"messageId": m.id, "deliveredAt": iso(now)}
        )
    # Care-team messages wait per member (#18).
    return delivered + await care_team_messages.deliver_team_pending(core, user, conversation_id)


async def delete_message(core: Core, user: Principal, message_id: object) -> Deleted:
    """Soft delete by the sender: the content and file are never shown again, the row stays."""
    await spend(core, user, "delete")
    mid = parse_id(message_id, "messageId")
    m = await core.store.get_message(mid)
    if m is None:
        raise NotFound("Message not found")
    conv = await conversation_for(core, user, m.conversation_id, fresh=True)  # its lastMessage
    if m.sender_id != user.id:
        raise Forbidden("You can only delete your own messages")
    if m.is_deleted:
        return Deleted(m.id, conv.id, m.deleted_at or m.updated_at)  # idempotent retry
    now = utcnow()
    event = events.message_deleted(m, user.id, now)
    if await core.store.mark_deleted(m.id, user.id, now, event):
        await audit.record(core, user.id, user.role, audit.MESSAGE_DELETE, conv.id, [m.id])
        if conv.last_message is None or conv.last_message.message_id == m.id:
            latest = await core.store.latest_visible_message(conv.id)
            await core.store.set_last_message(conv.id, _last_of(latest) if latest else None)
        await core.dispatch([event])
        if m.attachment is not None:
            await _retire_file(core, m.attachment.s3_key)
        payload = {"messageId": m.id, "conversationId": conv.id, "deletedAt": iso(now)}
        if m.recipients:  # a care team's members (#18)
            await care_team_messages.notify_members(core, conv, m, "message_deleted", payload)
            return Deleted(m.id, conv.id, now)
        await asyncio.gather(
            core.notify(m.receiver_id, "message_deleted", payload),
            core.notify(user.id, "message_deleted", payload),
        )
    return Deleted(m.id, conv.id, now)


async def _retire_file(core: Core, key: str) -> None:
    """The file stays for the medical record, tagged `deleted`; the API never serves it again."""
    if core.files is None:
        return
    try:
        await core.files.set_state(key, "deleted")
    except Exception as exc:  # the message is deleted either way; the tag is bookkeeping
        logger.warning("could not tag a deleted file", extra={"error": type(exc).__name__})


def _last_of(m: Message) -> LastMessage:
    return LastMessage(m.id, m.content, m.sender_id, m.created_at, m.is_read, m.seq)


async def _one_view(core: Core, m: Message) -> JSON:
    return await message_view(core, m, await core.directory.get_profile(m.sender_id))
