"""The audit trail's store contract, on the in-memory store and the real MongoDB-protocol server."""

from datetime import UTC, datetime, timedelta

import pytest
from messaging_core.audit import audit_event
from messaging_core.ids import new_id
from messaging_core.models import AuditRecord
from messaging_core.ports import Store
from messaging_core.store.mongo import MongoStore, _audit_doc, _event_doc

from tests.integration.conftest import drop, open_mongo_store

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONV = "673a1b2c3d4e5f6a7b8c9d99"


def a_record(seconds: int, action: str = "history.read", conv: str = CONV) -> AuditRecord:
    return AuditRecord(
        id=new_id(),
        at=T0 + timedelta(seconds=seconds),
        actor_id="673a1b2c3d4e5f6a7b8c9d0e",
        actor_role="doctor",
        action=action,
        conversation_id=conv,
        message_ids=["673a1b2c3d4e5f6a7b8c9d01"],
        message_count=1,
        channel="rest",
        request_id="req-1",
        outcome="success",
    )


async def test_records_read_back_newest_first_and_stay_after_their_event_is_acked(
    store: Store,
) -> None:
    first, second = a_record(1), a_record(2, "search.read")
    other = a_record(3, conv="673a1b2c3d4e5f6a7b8c9d98")
    for r in (first, second, other):
        await store.append_audit(r, audit_event(r))
    got, total = await store.audit_trail(CONV, 0, 10)
    assert total == 2
    assert [r.id for r in got] == [second.id, first.id]
    assert got[1] == first  # every field round-trips
    page, _ = await store.audit_trail(CONV, 1, 1)
    assert [r.id for r in page] == [first.id]
    # Pending until published, like the message events; acking them keeps the trail whole
    pending = await store.pending_events(T0 + timedelta(days=1), 10)
    assert {e.event_id for e in pending} == {first.id, second.id, other.id}
    await store.ack_events([e.event_id for e in pending])
    assert await store.count_pending_events() == 0
    assert (await store.audit_trail(CONV, 0, 10))[1] == 2


async def test_a_record_left_in_the_outbox_by_a_crash_is_stored_by_the_relay_once() -> None:
    mongo, db_name = await open_mongo_store()
    try:
        assert isinstance(mongo, MongoStore)
        # Given a request that died after its outbox insert, before the audit insert
        r = a_record(1)
        event = audit_event(r)
        await mongo._audit_outbox.insert_one(
            {"_id": r.id, "createdAt": r.at, "event": _event_doc(event), "record": _audit_doc(r)}
        )
        assert (await mongo.audit_trail(CONV, 0, 10))[1] == 0
        # When the relay reads its backlog (twice: a retried relay run)
        for _ in range(2):
            pending = await mongo.pending_events(T0 + timedelta(days=1), 10)
            assert [e.event_id for e in pending] == [r.id]
        # Then the record is in the trail, once
        got, total = await mongo.audit_trail(CONV, 0, 10)
        assert total == 1
        assert got[0] == r
    finally:
        await drop(mongo, db_name)


async def test_the_archive_reads_in_at_then_id_order_after_its_cursor(store: Store) -> None:
    records = [a_record(1), a_record(2), a_record(2), a_record(3)]
    for r in records:
        await store.append_audit(r, audit_event(r))
    ordered = sorted(records, key=lambda r: (r.at, r.id))
    until = T0 + timedelta(seconds=2)
    assert await store.audit_archive_cursor() is None
    first = await store.audit_after(None, until, 2)
    assert [r.id for r in first] == [r.id for r in ordered[:2]]
    await store.set_audit_archive_cursor(first[-1].at, first[-1].id)
    cursor = await store.audit_archive_cursor()
    assert cursor is not None
    assert cursor[1] == first[-1].id
    rest = await store.audit_after(cursor, until, 10)
    assert [r.id for r in rest] == [ordered[2].id]  # the one at T0+3s is past `until`
