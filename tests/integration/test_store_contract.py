"""One repository contract, run against the in-memory store and a real MongoDB-protocol server."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from messaging_core.errors import DuplicateKey
from messaging_core.ids import new_id
from messaging_core.models import (
    Conversation,
    LastMessage,
    Message,
    PendingEvent,
    UserProfile,
)
from messaging_core.ports import Store
from messaging_core.text import index_tokens

pytestmark = pytest.mark.integration

A, B, C = "673a1b2c3d4e5f6a7b8c9d0a", "673a1b2c3d4e5f6a7b8c9d0e", "673a1b2c3d4e5f6a7b8c9d1f"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def conversation(a: str, b: str, at: datetime = T0) -> Conversation:
    kind = "doctor_doctor" if a != A and b != A else "patient_doctor"
    return Conversation(
        id=new_id(),
        participants=sorted((a, b)),
        participant_types={a: "patient" if a == A else "doctor", b: "doctor"},
        conversation_type=kind,  # type: ignore[arg-type]
        created_at=at,
        updated_at=at,
    )


def message(
    conv: Conversation, sender: str, seq: int, content: str = "hello", temp_id: str | None = None
) -> Message:
    receiver = conv.other(sender)
    at = T0 + timedelta(seconds=seq)
    return Message(
        id=new_id(),
        conversation_id=conv.id,
        sender_id=sender,
        sender_type=conv.participant_types[sender],
        receiver_id=receiver,
        receiver_type=conv.participant_types[receiver],
        message_type="text",
        content=content,
        created_at=at,
        updated_at=at,
        seq=seq,
        temp_id=temp_id,
        search_tokens=index_tokens(content),
    )


def event(key: str, at: datetime = T0, kind: str = "message.read") -> PendingEvent:
    event_id = new_id()
    return PendingEvent(event_id, kind, key, {"eventType": kind, "eventId": event_id}, at)


async def test_one_conversation_per_pair_even_when_created_concurrently(store: Store) -> None:
    results = await asyncio.gather(
        *(store.get_or_create_conversation(conversation(A, B)) for _ in range(20))
    )
    assert len({c.id for c, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    found = await store.find_conversation_between(B, A)
    assert found is not None
    assert found.id == results[0][0].id
    assert await store.find_conversation_between(A, C) is None


async def test_list_order_filter_total_and_lookups(store: Store) -> None:
    old, _ = await store.get_or_create_conversation(conversation(A, B, T0))
    new, _ = await store.get_or_create_conversation(conversation(B, C, T0 + timedelta(hours=1)))
    listed, total = await store.list_conversations(B, None, 0, 10)
    assert [c.id for c in listed] == [new.id, old.id]
    assert total == 2
    listed, total = await store.list_conversations(B, "doctor_doctor", 0, 10)
    assert [c.id for c in listed] == [new.id]
    assert total == 1
    listed, total = await store.list_conversations(B, None, 1, 1)
    assert [c.id for c in listed] == [old.id]
    assert total == 2
    assert sorted(await store.conversation_ids_for(B)) == sorted([old.id, new.id])
    assert sorted(await store.partners_of(B)) == sorted([A, C])
    assert [c.id for c in await store.get_conversations([old.id, new.id])] == [new.id, old.id]
    got = await store.get_conversation(old.id)
    assert got is not None
    assert got.participants == sorted((A, B))
    assert got.participant_types == {A: "patient", B: "doctor"}


async def test_sequence_and_last_message_only_move_forward(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    assert [await store.allocate_seq(conv.id) for _ in range(3)] == [1, 2, 3]
    assert await store.allocate_seq(conv.id, floor=10) == 11
    newer = LastMessage(new_id(), "newer", A, T0 + timedelta(seconds=5), False, 5)
    older = LastMessage(new_id(), "older", A, T0 + timedelta(seconds=4), False, 4)
    await store.record_message(conv.id, newer, B, newer.timestamp)
    await store.record_message(conv.id, older, B, older.timestamp)
    got = await store.get_conversation(conv.id)
    assert got is not None
    assert got.last_message is not None
    assert got.last_message.content == "newer"
    assert got.updated_at == newer.timestamp
    await store.mark_last_message_read(conv.id, [newer.message_id])
    got = await store.get_conversation(conv.id)
    assert got is not None
    assert got.last_message is not None
    assert got.last_message.is_read
    await store.set_last_message(conv.id, None)
    got = await store.get_conversation(conv.id)
    assert got is not None
    assert got.last_message is None


async def test_unique_client_key_and_sequence(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    await store.insert_message(message(conv, A, 1, temp_id="t1"))
    with pytest.raises(DuplicateKey):
        await store.insert_message(message(conv, A, 2, temp_id="t1"))
    with pytest.raises(DuplicateKey):
        await store.insert_message(message(conv, B, 1))  # same (conversation, seq)
    await store.insert_message(message(conv, B, 2, temp_id="t1"))  # another sender's t1
    found = await store.find_by_client_key(A, "t1")
    assert found is not None
    assert found.seq == 1
    assert await store.max_seq(conv.id) == 2


async def test_history_windows_and_totals(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    for seq in range(1, 6):
        await store.insert_message(message(conv, A, seq, f"m{seq}"))
    page, total = await store.list_messages(conv.id, skip=0, limit=2)
    assert [m.seq for m in page] == [5, 4]
    assert total == 5
    page, total = await store.list_messages(conv.id, skip=0, limit=10, before_seq=3)
    assert [m.seq for m in page] == [2, 1]
    assert total == 2
    page, total = await store.list_messages(conv.id, skip=0, limit=2, after_seq=2)
    assert [m.seq for m in page] == [3, 4]
    assert total == 3
    got = await store.get_message(page[0].id)
    assert got is not None
    assert got.content == "m3"
    assert got.created_at == page[0].created_at


async def test_read_receipts_count_exactly_and_carry_their_event(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    to_b = [message(conv, A, s) for s in (1, 2, 3)]
    for m in [*to_b, message(conv, B, 4)]:
        await store.insert_message(m)
    assert await store.unread_counts(B, None) == {conv.id: 3}
    assert await store.unread_counts(A, [conv.id]) == {conv.id: 1}
    assert await store.unread_ids(conv.id, B, None) == [m.id for m in to_b]
    ev = event(conv.id)
    assert await store.mark_read([to_b[0].id, to_b[1].id], B, T0, ev) == 2
    assert await store.mark_read([to_b[0].id, to_b[1].id], B, T0, ev) == 0
    assert await store.mark_read([to_b[2].id], A, T0, None) == 0  # not addressed to A
    assert await store.unread_counts(B, None) == {conv.id: 1}
    assert [e.event_id for e in await store.pending_events(T0, 10)] == [ev.event_id]
    await store.ack_events([ev.event_id])
    assert await store.pending_events(T0, 10) == []
    assert await store.count_pending_events() == 0


async def test_delivery_and_deletion_happen_once(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    first, second = message(conv, A, 1), message(conv, A, 2)
    await store.insert_message(first)
    await store.insert_message(second)
    waiting = await store.undelivered_for(B, conv.id, 10)
    assert [m.id for m in waiting] == [first.id, second.id]
    assert await store.mark_delivered(first.id, T0, event(conv.id, kind="message.delivered"))
    assert not await store.mark_delivered(first.id, T0, event(conv.id))
    assert [m.id for m in await store.undelivered_for(B, None, 10)] == [second.id]
    assert await store.mark_deleted(second.id, A, T0, event(conv.id, kind="message.deleted"))
    assert not await store.mark_deleted(second.id, A, T0, event(conv.id))
    latest = await store.latest_visible_message(conv.id)
    assert latest is not None
    assert latest.id == first.id
    gone = await store.get_message(second.id)
    assert gone is not None
    assert gone.is_deleted
    assert gone.deleted_by == A
    assert await store.unread_counts(B, None) == {conv.id: 1}
    assert await store.count_pending_events() >= 1


async def test_search_words_prefix_scope_deleted_and_order(store: Store) -> None:
    mine, _ = await store.get_or_create_conversation(conversation(A, B))
    other, _ = await store.get_or_create_conversation(conversation(B, C))
    older = message(mine, B, 1, "Votre médicament est prêt")
    newer = message(mine, B, 2, "Le médicament du soir")
    hidden = message(mine, B, 3, "médicament supprimé")
    elsewhere = message(other, B, 1, "médicament ailleurs")
    for m in (older, newer, hidden, elsewhere):
        await store.insert_message(m)
    await store.mark_deleted(hidden.id, B, T0, event(mine.id))
    found, total = await store.search_messages([mine.id], ["medicament"], 0, 10)
    assert [m.id for m in found] == [newer.id, older.id]
    assert total == 2
    found, _ = await store.search_messages([mine.id], ["medic"], 0, 10)
    assert len(found) == 2
    found, _ = await store.search_messages([mine.id], ["medicament", "pr"], 0, 10)
    assert [m.id for m in found] == [older.id]
    found, total = await store.search_messages([mine.id, other.id], ["medicament"], 0, 1)
    assert [m.id for m in found] == [newer.id]
    assert total == 3
    found, _ = await store.search_messages([mine.id], [".*"], 0, 10)
    assert found == []


async def test_users_are_remembered(store: Store) -> None:
    await store.remember_user(UserProfile(B, "doctor", "Dr. Sarah Smith"))
    await store.remember_user(UserProfile(B, "doctor", "Dr. Sarah Smith", specialty="Cardio"))
    got = await store.get_user(B)
    assert got is not None
    assert (got.name, got.type, got.specialty) == (
        "Dr. Sarah Smith",
        "doctor",
        "Cardio",
    )
    assert await store.get_user(C) is None


async def test_a_new_user_remembered_concurrently_is_stored_once(store: Store) -> None:
    # The first requests of a new user (phone and tab at once) all upsert the same profile.
    await asyncio.gather(
        *(store.remember_user(UserProfile(C, "doctor", f"Dr. {i}")) for i in range(20))
    )
    got = await store.get_user(C)
    assert got is not None
    assert got.type == "doctor"
    assert got.name is not None
    assert got.name.startswith("Dr. ")
