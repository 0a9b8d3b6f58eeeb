"""Round trips to the MongoDB-protocol server that a reconnect storm multiplies (issue #19).

Each reconnect ends in a `sync`; each `sync` writes an audit record whose event is then acked.
These tests count the commands the driver sends (pymongo's command monitoring) on the loopback
server, so that a needless query is seen, and check that the answers stay the same."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from messaging_core import conversations, messages
from messaging_core.audit import audit_event
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import AuditRecord, Principal
from messaging_core.store.mongo import MongoStore
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import DuplicateKeyError

from tests import servers
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

DOCTOR = Principal("673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr Who")
PATIENT = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient", "Patient")


@dataclass
class Commands(monitoring.CommandListener):
    """The (command, collection) pairs the driver sent, in order."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)  # the last command, as sent

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.seen.append((event.command_name, target if isinstance(target, str) else ""))
        self.last = dict(event.command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, str]]:
        taken, self.seen = self.seen, []
        return taken


@dataclass
class Setup:
    store: MongoStore
    core: Core
    commands: Commands


@pytest.fixture
async def watched() -> AsyncIterator[Setup]:
    commands = Commands()
    client: AsyncMongoClient[dict] = AsyncMongoClient(
        servers.mongodb_uri(), tz_aware=True, event_listeners=[commands]
    )
    db_name = f"test_{uuid.uuid4().hex[:12]}"
    store = MongoStore(client, db_name)
    await store.ensure_indexes()
    core = await build_core(make_settings(), store=store)
    for p in (DOCTOR, PATIENT):
        await core.identify(p)
    try:
        yield Setup(store, core, commands)
    finally:
        await client.drop_database(db_name)
        await store.close()


def counts_on(seen: list[tuple[str, str]], collection: str) -> list[str]:
    return [n for n, target in seen if target == collection and n in ("aggregate", "count")]


def read_record(n: int = 0) -> AuditRecord:
    return AuditRecord(
        id=new_id(),
        at=datetime.now(UTC),
        actor_id=PATIENT.id,
        actor_role="patient",
        action="sync.read",
        conversation_id="673a1b2c3d4e5f6a7b8c9d99",
        message_ids=[],
        message_count=n,
        channel="socket",
        request_id=f"req-{n}",
        outcome="success",
    )


async def test_a_page_that_is_not_full_costs_no_count_and_keeps_its_total(watched: Setup) -> None:
    opened = await conversations.open_conversation(watched.core, DOCTOR, PATIENT.id, "patient")
    conv = opened.conversation["conversationId"]
    for text in ("one", "two", "three"):
        await messages.send_text(watched.core, DOCTOR, conv, SendMessageIn(content=text))
    store = watched.store
    watched.commands.take()

    # A catch-up after the first message: two of three, on a page of 50 (a reconnect's `sync`).
    page, total = await store.list_messages(conv, skip=0, limit=50, after_seq=1)
    assert [m.seq for m in page] == [2, 3]
    assert total == 2
    assert counts_on(watched.commands.take(), "messages") == []
    # The second page of two, not full: its total is the skip plus its length.
    page, total = await store.list_messages(conv, skip=2, limit=2)
    assert [m.seq for m in page] == [1]
    assert total == 3
    assert counts_on(watched.commands.take(), "messages") == []

    # A full page, or one past the end, cannot tell the total: the count is asked.
    page, total = await store.list_messages(conv, skip=0, limit=2)
    assert ([m.seq for m in page], total) == ([3, 2], 3)
    assert len(counts_on(watched.commands.take(), "messages")) == 1
    page, total = await store.list_messages(conv, skip=4, limit=2)
    assert (page, total) == ([], 3)
    assert len(counts_on(watched.commands.take(), "messages")) == 1
    # Conversations and search pages share the rule.
    listed, total = await store.list_conversations(DOCTOR.id, None, 0, 20)
    assert ([c.id for c in listed], total) == ([conv], 1)
    assert counts_on(watched.commands.take(), "conversations") == []


async def test_acking_a_read_record_does_not_search_the_messages(watched: Setup) -> None:
    record = read_record()
    store = watched.store
    await store.append_audit(record, audit_event(record))
    watched.commands.take()

    await store.ack_events([record.id])
    seen = watched.commands.take()
    assert seen == [("delete", "audit_outbox")]
    assert await store.count_pending_events() == 0
    trail, total = await store.audit_trail(record.conversation_id, 0, 10)
    assert ([r.id for r in trail], total) == ([record.id], 1)  # the trail keeps it


async def test_records_appended_together_go_in_one_write_per_collection(watched: Setup) -> None:
    """A storm's syncs append their access records at once: one insert per collection for all
    of them, not two per record; every record is in the outbox and the trail."""
    store = watched.store
    records = [read_record(n) for n in range(20)]
    watched.commands.take()
    await asyncio.gather(*(store.append_audit(r, audit_event(r)) for r in records))

    seen = watched.commands.take()
    assert seen == [("insert", "audit_outbox"), ("insert", "audit")]
    assert await store.count_pending_events() == 20
    trail, total = await store.audit_trail(records[0].conversation_id, 0, 50)
    assert total == 20
    assert {r.id for r in trail} == {r.id for r in records}
    watched.commands.take()
    # Alone, a record is written at once, as before.
    lone = read_record(99)
    await store.append_audit(lone, audit_event(lone))
    assert watched.commands.take() == [("insert", "audit_outbox"), ("insert", "audit")]


async def test_a_refused_record_in_a_batch_fails_its_caller_only(watched: Setup) -> None:
    """One record whose outbox entry the server refuses (its event id already queued) fails its
    own append with the error it had alone, and is not in the trail; the others of its batch are
    stored. A record already in the trail (the relay stored it) is not an error: records are
    immutable."""
    store = watched.store
    clash, relayed, fine = read_record(1), read_record(2), read_record(3)
    await store.stash_events([audit_event(clash)])  # its event id is taken in the outbox
    await store.append_audit(relayed, audit_event(relayed))
    await store.ack_events([relayed.id])  # out of the outbox, still in the trail
    watched.commands.take()

    results = await asyncio.gather(
        store.append_audit(clash, audit_event(clash)),
        store.append_audit(relayed, audit_event(relayed)),
        store.append_audit(fine, audit_event(fine)),
        return_exceptions=True,
    )
    assert isinstance(results[0], DuplicateKeyError)  # as when it was written alone
    assert results[1:] == [None, None]
    assert watched.commands.take() == [("insert", "audit_outbox"), ("insert", "audit")]
    trail, _ = await store.audit_trail(fine.conversation_id, 0, 50)
    assert sorted(r.id for r in trail) == sorted([relayed.id, fine.id])


async def test_a_batch_of_acks_deletes_each_record_by_its_id_in_one_command(watched: Setup) -> None:
    """Acks confirmed together (a storm's reads) leave in one command, each record by its `_id`
    (the primary key): an `$in` is a scan of the whole outbox on FerretDB."""
    store = watched.store
    records = [read_record(n) for n in range(12)]
    await asyncio.gather(*(store.append_audit(r, audit_event(r)) for r in records))
    watched.commands.take()

    await store.ack_events([r.id for r in records])
    assert watched.commands.take() == [("delete", "audit_outbox")]
    deletes = watched.commands.last.get("deletes")
    assert [d["q"] for d in deletes or []] == [{"_id": r.id} for r in records]
    assert await store.count_pending_events() == 0
    _, total = await store.audit_trail(records[0].conversation_id, 0, 50)
    assert total == 12  # the trail keeps them
