"""The in-memory store's unread queries, shared by one-to-one and care-team conversations: only
what "unread by this user" means differs (`receiver_id` + `is_read`, or `unread_by`)."""

from collections.abc import Callable, Iterable, Sequence

from ..models import Message

Unread = Callable[[Message], bool]


def unread_counts(
    messages: Iterable[Message], unread: Unread, conversation_ids: Sequence[str] | None
) -> dict[str, int]:
    scope = set(conversation_ids) if conversation_ids is not None else None
    counts: dict[str, int] = {}
    for m in messages:
        if unread(m) and not m.is_deleted and (scope is None or m.conversation_id in scope):
            counts[m.conversation_id] = counts.get(m.conversation_id, 0) + 1
    return counts


def unread_ids(
    messages: Iterable[Message],
    conversation_id: str,
    unread: Unread,
    message_ids: Sequence[str] | None,
) -> list[str]:
    wanted = set(message_ids) if message_ids is not None else None
    return [
        m.id
        for m in sorted(messages, key=lambda m: m.seq)
        if m.conversation_id == conversation_id
        and unread(m)
        and not m.is_deleted
        and (wanted is None or m.id in wanted)
    ]
