"""In-memory store with the same semantics as the MongoDB one (unique keys, atomic counters)."""

import pickle
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..errors import DuplicateKey
from ..models import (
    AuditRecord,
    Conversation,
    ConversationType,
    LastMessage,
    Message,
    MessageVersion,
    PendingEvent,
    Reaction,
    UserProfile,
)
from . import memory_unread
from .doctor_tools_memory import MemoryDoctorTools
from .memory_care_teams import MemoryCareTeams

_IMMUTABLE = (str, int, float, datetime, type(None))
# Exact classes, tested with one set look-up (issue #19: `isinstance` against a tuple, for each
# of a message's thirty fields, was most of a copy). A subclass of any of them (an enum, a bool)
# is copied by the slower general path, never shared.
_IMMUTABLE_TYPES = frozenset({str, int, float, bool, datetime, type(None)})


def _clone[T](value: T) -> T:
    """A deep copy, so callers never share state with the store (a database returns copies too).

    Field by field for our slotted records: pickle and `copy.deepcopy` both go through the
    dataclasses' Python-level `__getstate__`, which made copying a large share of a socket task's
    CPU (figures in bench/RESULTS-socket.md).
    """
    cls = value.__class__
    if cls in _IMMUTABLE_TYPES:
        return value
    if cls is list:
        return [v if v.__class__ in _IMMUTABLE_TYPES else _clone(v) for v in value]  # type: ignore[attr-defined, return-value]
    if cls is dict:
        return {k: v if v.__class__ in _IMMUTABLE_TYPES else _clone(v) for k, v in value.items()}  # type: ignore[attr-defined, return-value]
    if isinstance(value, _IMMUTABLE):  # a subclass: an enum member, for instance
        return value
    copier = _copier_of(cls)
    if copier is not None:
        return copier(value)  # type: ignore[no-any-return]
    # Anything else (tuples, sets): a pickle round trip of bytes this line just produced.
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))  # type: ignore[no-any-return]  # noqa: S301


_COPIERS: dict[type, Callable[[Any], Any] | None] = {}


def _copier_of(cls: type) -> Callable[[Any], Any] | None:
    """The field-by-field copy of a slotted dataclass, written once per class as straight-line
    code (issue #19: a loop of `getattr`/`object.__setattr__` over a message's thirty fields was
    most of each copy, and every send copies a message in and out). None for other classes."""
    try:
        return _COPIERS[cls]
    except KeyError:
        pass
    slots = getattr(cls, "__slots__", None)
    copier = None
    if slots is not None and hasattr(cls, "__dataclass_fields__"):
        names = [n for n in slots if n.isidentifier()]
        # Each slot written through its descriptor: works for frozen dataclasses too.
        setters = {f"set_{n}": getattr(cls, n).__set__ for n in names}
        lines = ["def copy(value):", "    c = new(cls)"]
        for n in names:
            lines += [
                f"    x = value.{n}",
                "    if x.__class__ not in immutable:",  # most fields are: no call
                # a message's many empty lists (#16-#18): a new one, no call
                "        x = [] if x.__class__ is list and not x else clone(x)",
                f"    set_{n}(c, x)",
            ]
        lines.append("    return c")
        scope: dict[str, Any] = {
            "new": object.__new__,
            "cls": cls,
            "immutable": _IMMUTABLE_TYPES,
            "clone": _clone,
            **setters,
        }
        # Our own record classes' field names only, checked as identifiers above.
        exec("\n".join(lines), scope)  # noqa: S102
        copier = scope["copy"]
    _COPIERS[cls] = copier
    return copier


class MemoryStore(MemoryCareTeams, MemoryDoctorTools):  # care teams (#18), doctors' tools (#17)
    """Methods never await, so each is atomic on the event loop, as one DB update is."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._by_pair: dict[str, str] = {}
        self._messages: dict[str, Message] = {}
        self._by_client_key: dict[str, str] = {}
        self._by_seq: set[tuple[str, int]] = set()  # the unique (conversationId, seq) key
        self._users: dict[str, UserProfile] = {}
        # eventId -> ids of the messages holding it, so an ack does not scan every message.
        self._pending: dict[str, set[str]] = {}
        # The audit trail (append only) and its records not yet confirmed published.
        self._audit: list[AuditRecord] = []
        self._audit_outbox: dict[str, PendingEvent] = {}
        self._holds: dict[str, tuple[str, datetime]] = {}
        self._archive_cursor: tuple[datetime, str] | None = None
        self._content_erased: set[str] = set()

    # -- lifecycle
    async def ensure_indexes(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    # -- conversations
    async def get_or_create_conversation(self, conv: Conversation) -> tuple[Conversation, bool]:
        existing = self._by_pair.get(conv.pair_key)
        if existing is not None:
            return _clone(self._conversations[existing]), False
        self._conversations[conv.id] = _clone(conv)
        self._by_pair[conv.pair_key] = conv.id
        return _clone(conv), True

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        conv = self._conversations.get(conversation_id)
        return _clone(conv) if conv else None

    async def find_conversation_between(self, a: str, b: str) -> Conversation | None:
        from ..models import pair_key

        conv_id = self._by_pair.get(pair_key(a, b))
        return await self.get_conversation(conv_id) if conv_id else None

    async def list_conversations(
        self, user_id: str, conversation_type: ConversationType | None, skip: int, limit: int
    ) -> tuple[list[Conversation], int]:
        mine = [
            c
            for c in self._conversations.values()
            if user_id in c.participants
            and (conversation_type is None or c.conversation_type == conversation_type)
        ]
        mine.sort(key=_conversation_order, reverse=True)
        return [_clone(c) for c in mine[skip : skip + limit]], len(mine)

    async def conversation_ids_for(self, user_id: str) -> list[str]:
        return [c.id for c in self._conversations.values() if user_id in c.participants]

    async def partners_of(self, user_id: str) -> list[str]:
        return [
            p
            for c in self._conversations.values()
            if user_id in c.participants
            for p in c.participants
            if p != user_id  # a care team's members too (#18)
        ]

    async def get_conversations(self, conversation_ids: Sequence[str]) -> list[Conversation]:
        found = [self._conversations[c] for c in conversation_ids if c in self._conversations]
        found.sort(key=_conversation_order, reverse=True)
        return [_clone(c) for c in found]

    async def allocate_seq(self, conversation_id: str, floor: int = 0) -> int:
        conv = self._conversations[conversation_id]
        conv.seq = max(conv.seq, floor) + 1
        return conv.seq

    async def max_seq(self, conversation_id: str) -> int:
        seqs = [m.seq for m in self._messages.values() if m.conversation_id == conversation_id]
        return max(seqs, default=0)

    async def record_message(
        self, conversation_id: str, last: LastMessage, receiver_id: str, at: datetime
    ) -> None:
        conv = self._conversations[conversation_id]
        if conv.last_message is None or conv.last_message.seq < last.seq:
            conv.last_message = _clone(last)
        conv.updated_at = max(conv.updated_at, at)

    async def set_last_message(self, conversation_id: str, last: LastMessage | None) -> None:
        self._conversations[conversation_id].last_message = _clone(last)

    async def mark_last_message_read(
        self, conversation_id: str, message_ids: Sequence[str]
    ) -> None:
        last = self._conversations[conversation_id].last_message
        if last is not None and last.message_id in message_ids:
            last.is_read = True

    # -- messages
    async def insert_message(self, message: Message) -> None:
        seq_key = (message.conversation_id, message.seq)
        if (
            message.client_key in self._by_client_key
            or message.id in self._messages
            or seq_key in self._by_seq
        ):
            raise DuplicateKey(message.client_key)
        self._by_seq.add(seq_key)
        self._messages[message.id] = _clone(message)
        self._by_client_key[message.client_key] = message.id
        for event in message.pending_events:
            self._pending.setdefault(event.event_id, set()).add(message.id)

    def _hold(self, m: Message, event: PendingEvent) -> None:
        m.pending_events.append(_clone(event))
        self._pending.setdefault(event.event_id, set()).add(m.id)

    async def get_message(self, message_id: str) -> Message | None:
        msg = self._messages.get(message_id)
        return _clone(msg) if msg else None

    async def find_by_client_key(self, sender_id: str, temp_id: str) -> Message | None:
        msg_id = self._by_client_key.get(f"{sender_id}:{temp_id}")
        return await self.get_message(msg_id) if msg_id else None

    async def list_messages(
        self,
        conversation_id: str,
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        found = [
            m
            for m in self._messages.values()
            if m.conversation_id == conversation_id
            and (before_seq is None or m.seq < before_seq)
            and (after_seq is None or m.seq > after_seq)
        ]
        found.sort(key=lambda m: m.seq, reverse=after_seq is None)
        return [_clone(m) for m in found[skip : skip + limit]], len(found)

    async def latest_visible_message(self, conversation_id: str) -> Message | None:
        visible = [
            m
            for m in self._messages.values()
            if m.conversation_id == conversation_id and not m.is_deleted
        ]
        return _clone(max(visible, key=lambda m: m.seq)) if visible else None

    async def unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        return memory_unread.unread_counts(
            self._messages.values(),
            lambda m: m.receiver_id == user_id and not m.is_read,
            conversation_ids,
        )

    async def unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]:
        return memory_unread.unread_ids(
            self._messages.values(),
            conversation_id,
            lambda m: m.receiver_id == reader_id and not m.is_read,
            message_ids,
        )

    async def mark_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        changed = 0
        for message_id in message_ids:
            m = self._messages.get(message_id)
            if m is None or m.is_read or m.receiver_id != reader_id or m.is_deleted:
                continue
            m.is_read, m.read_at, m.updated_at = True, at, at
            if event is not None:
                self._hold(m, event)
            changed += 1
        return changed

    async def undelivered_for(
        self, receiver_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]:
        found = [
            m
            for m in self._messages.values()
            if m.receiver_id == receiver_id
            and not m.is_delivered
            and not m.is_deleted
            and (conversation_id is None or m.conversation_id == conversation_id)
        ]
        found.sort(key=lambda m: (m.created_at, m.seq))
        return [_clone(m) for m in found[:limit]]

    async def mark_delivered(self, message_id: str, at: datetime, event: PendingEvent) -> bool:
        m = self._messages.get(message_id)
        if m is None or m.is_delivered:
            return False
        m.is_delivered, m.delivered_at, m.updated_at = True, at, at
        self._hold(m, event)
        return True

    async def mark_deleted(
        self, message_id: str, by: str, at: datetime, event: PendingEvent
    ) -> bool:
        m = self._messages.get(message_id)
        if m is None or m.is_deleted:
            return False
        m.is_deleted, m.deleted_at, m.deleted_by, m.updated_at = True, at, by, at
        m.search_tokens = []
        self._hold(m, event)
        return True

    async def search_messages(
        self, conversation_ids: Sequence[str], tokens: Sequence[str], skip: int, limit: int
    ) -> tuple[list[Message], int]:
        scope = set(conversation_ids)
        *whole, last = tokens

        def matches(m: Message) -> bool:
            return all(t in m.search_tokens for t in whole) and any(
                t.startswith(last) for t in m.search_tokens
            )

        found = [
            m
            for m in self._messages.values()
            if m.conversation_id in scope and not m.is_deleted and matches(m)
        ]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return [_clone(m) for m in found[skip : skip + limit]], len(found)

    async def pending_events(self, older_than: datetime, limit: int) -> list[PendingEvent]:
        seen: dict[str, PendingEvent] = {}
        for event_id, holders in self._pending.items():
            for e in self._messages[next(iter(holders))].pending_events:
                if e.event_id == event_id and e.created_at <= older_than:
                    seen[event_id] = _clone(e)
        for e in self._audit_outbox.values():
            if e.created_at <= older_than:
                seen[e.event_id] = _clone(e)
        return sorted(seen.values(), key=lambda e: e.created_at)[:limit]

    async def ack_events(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._audit_outbox.pop(event_id, None)
            for message_id in self._pending.pop(event_id, ()):
                m = self._messages[message_id]
                m.pending_events = [e for e in m.pending_events if e.event_id != event_id]

    async def count_pending_events(self) -> int:
        return len(self._pending) + len(self._audit_outbox)

    # -- audit trail: insert and read, nothing else
    async def append_audit(self, record: AuditRecord, event: PendingEvent) -> None:
        self._audit_outbox[event.event_id] = _clone(event)
        self._audit.append(_clone(record))

    async def audit_trail(
        self, conversation_id: str, skip: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        found = [r for r in self._audit if r.conversation_id == conversation_id]
        found.sort(key=lambda r: (r.at, r.id), reverse=True)
        return [_clone(r) for r in found[skip : skip + limit]], len(found)

    async def audit_after(
        self, cursor: tuple[datetime, str] | None, until: datetime, limit: int
    ) -> list[AuditRecord]:
        found = [
            r for r in self._audit if r.at <= until and (cursor is None or (r.at, r.id) > cursor)
        ]
        found.sort(key=lambda r: (r.at, r.id))
        return [_clone(r) for r in found[:limit]]

    async def audit_archive_cursor(self) -> tuple[datetime, str] | None:
        return self._archive_cursor

    async def set_audit_archive_cursor(self, at: datetime, record_id: str) -> None:
        self._archive_cursor = (at, record_id)

    # -- retention
    async def set_legal_hold(self, conversation_id: str, reason: str, at: datetime) -> None:
        self._holds[conversation_id] = (reason, at)

    async def lift_legal_hold(self, conversation_id: str) -> bool:
        return self._holds.pop(conversation_id, None) is not None

    async def held_conversations(self) -> list[str]:
        return sorted(self._holds)

    async def expired_messages(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        skip = set(exclude)
        found = [
            m
            for m in self._messages.values()
            if m.created_at < before and m.conversation_id not in skip
        ]
        found.sort(key=lambda m: (m.created_at, m.id))
        return [_clone(m) for m in found[:limit]]

    async def erase_messages(self, message_ids: Sequence[str]) -> int:
        erased = 0
        for mid in message_ids:
            m = self._messages.pop(mid, None)
            if m is None:
                continue
            erased += 1
            self._by_seq.discard((m.conversation_id, m.seq))
            self._by_client_key.pop(m.client_key, None)
            for e in m.pending_events:
                self._pending.pop(e.event_id, None)
        return erased

    async def deleted_with_content(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        skip = set(exclude)
        found = [
            m
            for m in self._messages.values()
            if m.is_deleted
            and m.deleted_at is not None
            and m.deleted_at < before
            and m.conversation_id not in skip
            and m.id not in self._content_erased
        ]
        found.sort(key=lambda m: (m.deleted_at or m.created_at, m.id))
        return [_clone(m) for m in found[:limit]]

    async def erase_content(self, message_ids: Sequence[str], at: datetime) -> int:
        erased = 0
        for mid in message_ids:
            m = self._messages.get(mid)
            if m is None or mid in self._content_erased:
                continue
            m.content, m.attachment, m.metadata, m.search_tokens = "", None, None, []
            m.versions = []  # the earlier texts of an edited message go with it (issue #16)
            self._content_erased.add(mid)
            erased += 1
        return erased

    async def stash_events(self, events: Sequence[PendingEvent]) -> None:
        for e in events:
            self._audit_outbox[e.event_id] = _clone(e)

    # -- users (embedded directory)
    async def remember_user(self, profile: UserProfile) -> None:
        known = self._users.get(profile.id)
        if known is None or known != profile:
            self._users[profile.id] = _clone(profile)

    async def get_user(self, user_id: str) -> UserProfile | None:
        user = self._users.get(user_id)
        return _clone(user) if user else None

    # -- issue #16 part A: edits and reactions
    async def edit_message(
        self,
        message_id: str,
        expected_versions: int,
        content: str,
        search_tokens: Sequence[str],
        at: datetime,
        previous: MessageVersion,
        event: PendingEvent,
    ) -> bool:
        m = self._messages.get(message_id)
        if m is None or m.is_deleted or len(m.versions) != expected_versions:
            return False
        m.versions.append(previous)
        m.content, m.search_tokens = content, list(search_tokens)
        m.is_edited, m.edited_at, m.updated_at = True, at, at
        self._hold(m, event)
        return True

    async def edit_last_message(self, conversation_id: str, message_id: str, content: str) -> None:
        last = self._conversations[conversation_id].last_message
        if last is not None and last.message_id == message_id:
            last.content = content

    async def set_reactions(
        self, message_id: str, expected_rev: int, reactions: Sequence[Reaction], event: PendingEvent
    ) -> bool:
        m = self._messages.get(message_id)
        if m is None or m.is_deleted or m.reaction_rev != expected_rev:
            return False
        m.reactions = [_clone(r) for r in reactions]
        m.reaction_rev += 1
        self._hold(m, event)
        return True


def _conversation_order(c: Conversation) -> tuple[datetime, str]:
    # Most recent activity first: the same order as the MongoDB store's (updatedAt, _id) sort.
    return (c.updated_at, c.id)
