"""The in-memory store's care-team queries (#18): membership, periods, per-member receipts."""

from collections.abc import Sequence
from datetime import datetime

from ..models import (
    Conversation,
    Member,
    Message,
    PendingEvent,
    Receipt,
    UserType,
    Window,
    within,
)
from . import memory_unread


class MemoryCareTeams:
    """Mixed into MemoryStore: the same dicts, the same copy-out rule."""

    _conversations: dict[str, Conversation]
    _messages: dict[str, Message]

    def _hold(self, m: Message, event: PendingEvent) -> None: ...

    async def set_membership(
        self,
        conversation_id: str,
        participants: Sequence[str],
        participant_types: dict[str, UserType],
        members: Sequence[Member],
        at: datetime,
        version: int,
    ) -> bool:
        from .memory import _clone

        conv = self._conversations[conversation_id]
        if conv.membership_version != version:
            return False
        conv.membership_version = version + 1
        conv.participants = sorted(participants)
        conv.participant_types = dict(participant_types)
        conv.members = [_clone(m) for m in members]
        conv.updated_at = max(conv.updated_at, at)
        return True

    async def list_messages_within(
        self,
        conversation_id: str,
        windows: Sequence[Window],
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        from .memory import _clone

        spans = list(windows)
        found = [
            m
            for m in self._messages.values()
            if m.conversation_id == conversation_id
            and within(m.seq, spans)
            and (before_seq is None or m.seq < before_seq)
            and (after_seq is None or m.seq > after_seq)
        ]
        found.sort(key=lambda m: m.seq, reverse=after_seq is None)
        return [_clone(m) for m in found[skip : skip + limit]], len(found)

    async def team_unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        return memory_unread.unread_counts(
            self._messages.values(), lambda m: user_id in m.unread_by, conversation_ids
        )

    async def team_unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]:
        return memory_unread.unread_ids(
            self._messages.values(),
            conversation_id,
            lambda m: reader_id in m.unread_by,
            message_ids,
        )

    async def mark_member_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        changed = 0
        for message_id in message_ids:
            m = self._messages.get(message_id)
            if m is None or m.is_deleted or reader_id not in m.unread_by:
                continue
            m.unread_by.remove(reader_id)
            m.read_by.append(Receipt(reader_id, at))
            m.is_read, m.updated_at = not m.unread_by, at
            m.read_at = at if m.is_read else m.read_at
            if event is not None:
                self._hold(m, event)
            changed += 1
        return changed

    async def team_undelivered_for(
        self, user_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]:
        from .memory import _clone

        found = [
            m
            for m in self._messages.values()
            if user_id in m.undelivered_to
            and not m.is_deleted
            and (conversation_id is None or m.conversation_id == conversation_id)
        ]
        found.sort(key=lambda m: (m.created_at, m.seq))
        return [_clone(m) for m in found[:limit]]

    async def mark_member_delivered(
        self, message_id: str, user_id: str, at: datetime, event: PendingEvent
    ) -> bool:
        m = self._messages.get(message_id)
        if m is None or user_id not in m.undelivered_to:
            return False
        m.undelivered_to.remove(user_id)
        m.delivered_to.append(Receipt(user_id, at))
        m.is_delivered, m.updated_at = not m.undelivered_to, at
        m.delivered_at = at if m.is_delivered else m.delivered_at
        self._hold(m, event)
        return True

    async def drop_member_pending(self, conversation_id: str, user_id: str) -> None:
        for m in self._messages.values():
            if m.conversation_id == conversation_id:
                if user_id in m.unread_by:
                    m.unread_by.remove(user_id)
                if user_id in m.undelivered_to:
                    m.undelivered_to.remove(user_id)

    async def care_teams_of(self, user_id: str) -> list[Conversation]:
        from .memory import _clone

        return [
            _clone(c)
            for c in self._conversations.values()
            if c.is_care_team and any(m.user_id == user_id for m in c.members)
        ]

    async def search_messages_within(
        self,
        scopes: Sequence[tuple[str, Sequence[Window] | None]],
        tokens: Sequence[str],
        skip: int,
        limit: int,
    ) -> tuple[list[Message], int]:
        from .memory import _clone

        spans = {c: (list(w) if w is not None else None) for c, w in scopes}
        *whole, last = tokens

        def matches(m: Message) -> bool:
            return all(t in m.search_tokens for t in whole) and any(
                t.startswith(last) for t in m.search_tokens
            )

        found = [
            m
            for m in self._messages.values()
            if m.conversation_id in spans
            and within(m.seq, spans[m.conversation_id])
            and not m.is_deleted
            and matches(m)
        ]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return [_clone(m) for m in found[skip : skip + limit]], len(found)
