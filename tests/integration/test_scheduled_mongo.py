"""Forwarding and scheduled messages on the real MongoDB-protocol server (FerretDB here)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from messaging_core import conversations, scheduling
from messaging_core.clock import iso, utcnow
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.forwarding import forward_message
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Principal, ScheduledMessage
from messaging_core.store.mongo import MongoStore
from messaging_core.store.scheduled import MongoScheduled

from tests.conftest import make_settings
from tests.integration.conftest import drop, open_mongo_store

pytestmark = pytest.mark.integration


@pytest.fixture
async def mongo() -> AsyncIterator[tuple[MongoStore, str]]:
    store, db_name = await open_mongo_store()
    try:
        yield store, db_name
    finally:
        await drop(store, db_name)


async def core_on(store: MongoStore) -> Core:
    return await build_core(make_settings(rate_limit_messages=10_000), store=store)


def item(sender: str, conv: str, minutes: int = 0) -> ScheduledMessage:
    now = utcnow()
    return ScheduledMessage(
        id=new_id(),
        conversation_id=conv,
        sender_id=sender,
        sender_type="patient",
        receiver_id=new_id(),
        content="rappel",
        scheduled_at=now + timedelta(minutes=minutes),
        created_at=now,
        metadata={"k": "v"},
    )


async def test_the_core_gets_the_mongo_repository(mongo: tuple[MongoStore, str]) -> None:
    core = await core_on(mongo[0])
    assert isinstance(core.scheduled, MongoScheduled)


async def test_concurrent_claims_take_each_message_once(mongo: tuple[MongoStore, str]) -> None:
    repo = MongoScheduled(mongo[0].db)
    await repo.ensure_indexes()
    sender, conv = new_id(), new_id()
    ids = set()
    for _ in range(10):
        s = item(sender, conv, minutes=-1)
        ids.add(s.id)
        await repo.insert_scheduled(s)
    now = utcnow()
    claims = await asyncio.gather(
        *(repo.claim_due(now, now + timedelta(minutes=2)) for _ in range(20))
    )
    taken = [c.id for c in claims if c is not None]
    assert sorted(taken) == sorted(ids)  # each once, none twice
    assert all(c.status == "sending" and c.attempts == 1 for c in claims if c is not None)


async def test_lease_takeover_cancel_and_list_roundtrip(mongo: tuple[MongoStore, str]) -> None:
    repo = MongoScheduled(mongo[0].db)
    sender, conv = new_id(), new_id()
    due, later, other = item(sender, conv, -1), item(sender, conv, 60), item(new_id(), conv, 5)
    for s in (due, later, other):
        await repo.insert_scheduled(s)
    listed, total = await repo.pending_of(sender, 0, 10)
    assert [s.id for s in listed] == [due.id, later.id]
    assert total == 2
    assert listed[1].metadata == {"k": "v"}
    assert listed[1].scheduled_at == later.scheduled_at
    now = utcnow()
    claimed = await repo.claim_due(now, now + timedelta(seconds=30))
    assert claimed is not None
    assert claimed.id == due.id
    # While the lease holds nobody takes it; once expired, the next worker does.
    assert await repo.claim_due(now + timedelta(seconds=10), now + timedelta(seconds=40)) is None
    again = await repo.claim_due(now + timedelta(seconds=31), now + timedelta(seconds=90))
    assert again is not None
    assert again.id == due.id
    assert again.attempts == 2
    # A message being sent cannot be cancelled; a pending one can, by its sender only.
    assert not await repo.cancel_scheduled(due.id, sender)
    assert not await repo.cancel_scheduled(later.id, new_id())
    assert await repo.cancel_scheduled(later.id, sender)
    assert not await repo.cancel_scheduled(later.id, sender)
    await repo.finish_scheduled(due.id, "sent", utcnow())
    done = await repo.get_scheduled(due.id)
    assert done is not None
    assert done.status == "sent"
    assert (await repo.pending_of(sender, 0, 10))[1] == 0


async def test_two_workers_on_one_database_send_each_once(mongo: tuple[MongoStore, str]) -> None:
    store, _ = mongo
    first, second = await core_on(store), await core_on(store)
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    await first.identify(doctor)
    opened = await conversations.open_conversation(first, patient, doctor.id, "doctor")
    conv = opened.conversation["conversationId"]
    ids = []
    for i in range(6):
        data = SendMessageIn(content=f"rappel {i}", scheduledAt=iso(utcnow() + timedelta(hours=1)))
        s = await scheduling.send_or_schedule(first, patient, conv, data)
        assert isinstance(s, scheduling.Scheduled)
        ids.append(s.scheduled_id)

    def clock() -> object:
        return utcnow() + timedelta(hours=2)

    counts = await asyncio.gather(
        scheduling.send_due(first, clock=clock), scheduling.send_due(second, clock=clock)
    )
    assert sum(counts) == 6
    found, total = await store.list_messages(conv, skip=0, limit=50)
    assert total == 6
    assert sorted(m.id for m in found) == sorted(ids)


async def test_forwardedFrom_is_stored_and_read_back(mongo: tuple[MongoStore, str]) -> None:
    store, _ = mongo
    core = await core_on(store)
    patient, doctor, doctor2 = (
        Principal(new_id(), "patient"),
        Principal(new_id(), "doctor"),
        Principal(new_id(), "doctor"),
    )
    for p in (doctor, doctor2):
        await core.identify(p)
    a = (await conversations.open_conversation(core, patient, doctor.id, "doctor")).conversation
    b = (await conversations.open_conversation(core, doctor, doctor2.id, "doctor")).conversation
    from messaging_core.messages import send_text

    src = await send_text(core, patient, a["conversationId"], SendMessageIn(content="ECG normal"))
    fwd = await forward_message(core, doctor, src.ref.message_id, b["conversationId"])
    stored = await store.get_message(fwd.ref.message_id)
    assert stored is not None
    assert stored.forwarded_from is not None
    assert stored.forwarded_from.message_id == src.ref.message_id
    assert stored.forwarded_from.sender_id == patient.id
    assert iso(stored.forwarded_from.created_at) == src.message["createdAt"]
    plain = await store.get_message(src.ref.message_id)
    assert plain is not None
    assert plain.forwarded_from is None


async def test_a_cancel_racing_a_claim_never_both_win(mongo: tuple[MongoStore, str]) -> None:
    repo = MongoScheduled(mongo[0].db)
    sender, conv = new_id(), new_id()
    items = [item(sender, conv, minutes=-1) for _ in range(8)]
    for s in items:
        await repo.insert_scheduled(s)
    now = utcnow()
    claims = [repo.claim_due(now, now + timedelta(minutes=2)) for _ in range(8)]
    cancels = [repo.cancel_scheduled(s.id, sender) for s in items]
    results = await asyncio.gather(*claims, *cancels)
    claimed = {c.id for c in results[:8] if c is not None}
    cancelled = {s.id for s, won in zip(items, results[8:], strict=True) if won}
    assert not claimed & cancelled
    assert claimed | cancelled == {s.id for s in items}


async def test_concurrent_retries_of_one_schedule_store_one(mongo: tuple[MongoStore, str]) -> None:
    store, _ = mongo
    core = await core_on(store)
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    await core.identify(doctor)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    conv = opened.conversation["conversationId"]
    when = iso(utcnow() + timedelta(hours=1))
    data = SendMessageIn(content="rappel", tempId="t-1", scheduledAt=when)
    answers = await asyncio.gather(
        *(scheduling.send_or_schedule(core, patient, conv, data) for _ in range(5))
    )
    ids = {a.scheduled_id for a in answers if isinstance(a, scheduling.Scheduled)}
    assert len(ids) == 1
    assert core.scheduled is not None
    assert (await core.scheduled.pending_of(patient.id, 0, 10))[1] == 1
