"""Issue #19, the send path's CPU per message: each cut keeps every rule it touches.

A send to an online receiver publishes its Kafka events and the receiver's access record in one
batch (not one publish each), from two background tasks (the publish, the receipts) instead of one
per effect; the events still reach the publisher in send order, the sender's receipt still
arrives after the reply, a failed publish still leaves all of them for the relay, and the
in-memory store's cheaper copies still share nothing with their callers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from messaging_core import audit, care_teams, conversations, messages
from messaging_core.adapters.memory import RecordingNotifier
from messaging_core.config import Settings
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Message, PendingEvent, Reaction
from messaging_core.store.memory import MemoryStore, _clone

from tests.conftest import Cast, sign_in


class CountingPublisher:
    """Records each `publish` call as one batch (the in-memory publisher keeps no batches)."""

    def __init__(self, broken: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.broken = broken

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.batches.append([e.event_type for e in events])

    async def close(self) -> None:
        return None


@pytest.fixture
async def socket_core(settings: Settings, cast: Cast) -> AsyncIterator[Core]:
    """A Core as the socket tier builds it: events and receipts after the reply."""
    core = await build_core(settings, store=MemoryStore(), background_dispatch=True)
    await sign_in(core, cast)
    yield core
    await core.drain()


async def online_conversation(core: Core, cast: Cast) -> str:
    conv = await conversations.open_conversation(
        core, cast.patient.principal, cast.doctor.id, "doctor"
    )
    await core.presence.connect(cast.doctor.id, "sid-doctor")  # type: ignore[attr-defined]
    return str(conv.conversation["conversationId"])


def pushes(core: Core, event: str) -> list[tuple[str, dict[str, Any]]]:
    emitted = core.notifier.emitted  # type: ignore[attr-defined]
    return [(u, d) for u, e, d in emitted if e == event]


async def test_a_delivered_send_publishes_events_and_access_record_in_one_batch(
    socket_core: Core, cast: Cast
) -> None:
    # Given a receiver online and a publisher that records each batch
    conv = await online_conversation(socket_core, cast)
    publisher = CountingPublisher()
    socket_core.publisher = publisher
    # When the patient sends
    data = SendMessageIn(content="bonjour")
    sent = await messages.send_text(socket_core, cast.patient.principal, conv, data)
    await socket_core.drain()
    # Then one publish carries the message's two events and the receiver's access record
    assert publisher.batches == [["message.sent", "message.delivered", audit.AUDIT_ACCESS]]
    assert await socket_core.store.count_pending_events() == 0
    trail, _ = await socket_core.store.audit_trail(conv, 0, 10)
    delivered = [r for r in trail if r.action == audit.MESSAGE_DELIVERED]
    assert [r.message_ids for r in delivered] == [[sent.ref.message_id]]
    assert [r.actor_id for r in delivered] == [cast.doctor.id]


def spawns(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The background tasks the core starts from now on, by coroutine name."""
    spawned: list[str] = []
    spawn = core._spawn

    def counting(coro: Coroutine[Any, Any, None]) -> None:
        spawned.append(coro.__qualname__)
        spawn(coro)

    monkeypatch.setattr(core, "_spawn", counting)
    return spawned


async def test_a_delivered_send_starts_two_background_tasks(
    socket_core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = await online_conversation(socket_core, cast)
    spawned = spawns(socket_core, monkeypatch)
    await messages.send_text(
        socket_core, cast.patient.principal, conv, SendMessageIn(content="bonjour")
    )
    # The publish (first: events in send order), the receipt; there were three before #19.
    assert spawned == ["Core._publish", "Core._push"]


async def test_the_senders_receipt_comes_after_the_reply_and_is_not_lost(
    socket_core: Core, cast: Cast
) -> None:
    conv = await online_conversation(socket_core, cast)
    data = SendMessageIn(content="bonjour", tempId="t-1")
    sent = await messages.send_text(socket_core, cast.patient.principal, conv, data)
    # The handler has not yielded yet: `message_sent` (with the tempId) goes out before this.
    assert pushes(socket_core, "message_delivered") == []
    await socket_core.drain()
    receipt = {"messageId": sent.ref.message_id, "deliveredAt": sent.message["deliveredAt"]}
    assert pushes(socket_core, "message_delivered") == [(cast.patient.id, receipt)]
    assert [u for u, _ in pushes(socket_core, "new_message")] == [cast.doctor.id]


async def test_a_failed_publish_leaves_the_events_and_the_access_record_for_the_relay(
    socket_core: Core, cast: Cast
) -> None:
    conv = await online_conversation(socket_core, cast)
    socket_core.publisher = CountingPublisher(broken=True)
    data = SendMessageIn(content="bonjour")
    await messages.send_text(socket_core, cast.patient.principal, conv, data)
    await socket_core.drain()
    later = datetime(2100, 1, 1, tzinfo=UTC)
    pending = await socket_core.store.pending_events(later, 10)
    kinds = sorted(e.event_type for e in pending)
    assert kinds == sorted(["message.sent", "message.delivered", audit.AUDIT_ACCESS])
    # ... and the receipt still reached the sender (a broker outage is not a delivery failure)
    assert len(pushes(socket_core, "message_delivered")) == 1


async def test_an_offline_receiver_publishes_the_sent_event_alone(
    socket_core: Core, cast: Cast
) -> None:
    conv = await conversations.open_conversation(
        socket_core, cast.patient.principal, cast.doctor.id, "doctor"
    )
    publisher = CountingPublisher()
    socket_core.publisher = publisher
    await messages.send_text(
        socket_core,
        cast.patient.principal,
        conv.conversation["conversationId"],
        SendMessageIn(content="x"),
    )
    await socket_core.drain()
    assert publisher.batches == [["message.sent"]]
    assert pushes(socket_core, "message_delivered") == []


async def test_a_lambda_send_publishes_before_it_returns(core: Core, cast: Cast) -> None:
    # A Lambda (no background dispatch) may be frozen once it returns: nothing is left running.
    conv = await online_conversation(core, cast)
    publisher = CountingPublisher()
    core.publisher = publisher
    await messages.send_text(core, cast.patient.principal, conv, SendMessageIn(content="x"))
    assert publisher.batches == [["message.sent", "message.delivered", audit.AUDIT_ACCESS]]
    assert len(pushes(core, "message_delivered")) == 1
    assert not core._tasks


async def test_publishes_confirmed_together_are_acked_in_one_store_call(
    socket_core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reconnect storm: many `sync` reads at once, each with its access record to publish.
    conv = await online_conversation(socket_core, cast)
    await socket_core.drain()
    acked: list[list[str]] = []
    ack = socket_core.store.ack_events

    async def counting(ids: Sequence[str]) -> None:
        acked.append(list(ids))
        await asyncio.sleep(0.01)  # a store's round trip
        await ack(ids)

    monkeypatch.setattr(socket_core.store, "ack_events", counting)
    await asyncio.gather(
        *(messages.catch_up(socket_core, cast.doctor.principal, conv, 0, 50) for _ in range(20))
    )
    await socket_core.drain()
    # The first read's record alone, then the 19 confirmed meanwhile together (was 20 calls).
    assert [len(ids) for ids in acked] == [1, 19]
    assert len({i for ids in acked for i in ids}) == 20
    later = datetime(2100, 1, 1, tzinfo=UTC)
    assert await socket_core.store.pending_events(later, 100) == []  # none left for the relay


@pytest.mark.timeout(10)
async def test_drain_returns_when_a_task_ends_in_the_turn_it_is_gathered(socket_core: Core) -> None:
    async def child() -> None:
        await asyncio.sleep(0)

    async def parent() -> None:
        await asyncio.sleep(0.01)
        socket_core._spawn(child())  # done in the very turn drain gathers it

    socket_core._spawn(parent())
    await socket_core.drain()  # spun without yielding before: the timeout ended it
    assert not socket_core._tasks


def a_stored_message() -> Message:
    now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    return Message(
        id=new_id(), conversation_id=new_id(), sender_id=new_id(), sender_type="patient",
        receiver_id=new_id(), receiver_type="doctor", message_type="text", content="x",
        created_at=now, updated_at=now, seq=1,
    )  # fmt: skip


async def test_empty_list_fields_of_a_stored_message_are_not_shared() -> None:
    # The copy's fast path for empty lists must still hand out a new list each time.
    store = MemoryStore()
    m = a_stored_message()
    await store.insert_message(m)
    m.reactions.append(Reaction("👍", ["someone"]))
    m.recipients.append("someone")
    got = await store.get_message(m.id)
    assert got is not None
    assert (got.reactions, got.recipients) == ([], [])
    got.unread_by.append("x")
    got.versions.append(None)  # type: ignore[arg-type]
    again = await store.get_message(m.id)
    assert again is not None
    assert (again.unread_by, again.versions) == ([], [])


def test_a_clone_of_a_clone_shares_no_list() -> None:
    m = a_stored_message()
    copy = _clone(m)
    for name in ("search_tokens", "pending_events", "versions", "reactions", "read_by"):
        assert getattr(copy, name) is not getattr(m, name), name


async def test_each_socket_event_gets_its_own_request_id() -> None:
    async def one() -> str | None:
        audit.bind("socket")
        return audit.current().request_id

    ids = await asyncio.gather(*(asyncio.create_task(one()) for _ in range(50)))
    assert len(set(ids)) == 50
    assert all(i is not None and re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# --- care teams (#18): the same single batch, however many members are online


async def online_team(core: Core, cast: Cast) -> str:
    """A doctor's team with the patient and a second doctor, both online; patient2 is known
    but was never a member."""
    opened = await care_teams.create_care_team(
        core, cast.doctor.principal, [cast.patient.id, cast.doctor2.id], "Suivi"
    )
    for user in (cast.patient, cast.doctor2, cast.patient2):
        await core.presence.connect(user.id, f"sid-{user.id}")  # type: ignore[attr-defined]
    return str(opened.conversation["conversationId"])


async def test_a_care_team_send_settles_in_two_tasks_and_one_batch(
    socket_core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = await online_team(socket_core, cast)
    publisher = CountingPublisher()
    socket_core.publisher = publisher
    spawned = spawns(socket_core, monkeypatch)
    sent = await messages.send_text(
        socket_core, cast.doctor.principal, team, SendMessageIn(content="staff")
    )
    assert pushes(socket_core, "message_delivered") == []  # after the reply only
    await socket_core.drain()
    assert spawned == ["Core._publish", "Core._push"]  # was one publish and one push per member
    assert len(publisher.batches) == 1
    assert sorted(publisher.batches[0]) == sorted(
        ["message.sent", "message.delivered", "message.delivered"] + [audit.AUDIT_ACCESS] * 2
    )
    # Every online member got it, and the sender one receipt per member; never a non-member
    assert sorted(u for u, _ in pushes(socket_core, "new_message")) == sorted(
        [cast.patient.id, cast.doctor2.id]
    )
    receipts = pushes(socket_core, "message_delivered")
    assert {u for u, _ in receipts} == {cast.doctor.id}
    assert sorted(d["userId"] for _, d in receipts) == sorted([cast.patient.id, cast.doctor2.id])
    assert {d["messageId"] for _, d in receipts} == {sent.ref.message_id}
    trail, _ = await socket_core.store.audit_trail(team, 0, 20)
    actors = sorted(r.actor_id for r in trail if r.action == audit.MESSAGE_DELIVERED)
    assert actors == sorted([cast.patient.id, cast.doctor2.id])


async def test_a_removed_member_gets_neither_the_message_nor_a_record(
    socket_core: Core, cast: Cast
) -> None:
    team = await online_team(socket_core, cast)
    await care_teams.remove_member(socket_core, cast.doctor.principal, team, cast.patient.id)
    await messages.send_text(
        socket_core, cast.doctor.principal, team, SendMessageIn(content="after")
    )
    await socket_core.drain()
    assert [u for u, _ in pushes(socket_core, "new_message")] == [cast.doctor2.id]
    receipts = pushes(socket_core, "message_delivered")
    assert [d["userId"] for _, d in receipts] == [cast.doctor2.id]
    trail, _ = await socket_core.store.audit_trail(team, 0, 20)
    actors = [r.actor_id for r in trail if r.action == audit.MESSAGE_DELIVERED]
    assert actors == [cast.doctor2.id]


class YieldingNotifier(RecordingNotifier):
    """A receipt's push that waits on the network for a while (the Redis fan-out's round trip
    under load); other pushes answer at once."""

    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        if event == "message_delivered":
            for _ in range(20):
                await asyncio.sleep(0)
        await super().emit_to_user(user_id, event, data)


class OrderPublisher:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        # Recorded before the first await, as the Kafka publisher hands records to its producer.
        self.sent += [str(e.payload["messageId"]) for e in events if e.event_type == "message.sent"]
        await asyncio.sleep(0)

    async def close(self) -> None:
        return None


async def test_sent_events_keep_the_send_order_of_a_conversation(
    socket_core: Core, cast: Cast
) -> None:
    # Kafka keeps order per conversation only if the publisher gets the events in send order,
    # whatever the pushes of one send wait for: here the patient's sends (the doctor online)
    # have a slow receipt, the doctor's replies (the patient offline) none.
    conv = await online_conversation(socket_core, cast)
    socket_core.notifier = YieldingNotifier()
    publisher = OrderPublisher()
    socket_core.publisher = publisher
    ids = []
    for i in range(6):
        who = cast.patient if i % 2 == 0 else cast.doctor
        data = SendMessageIn(content=f"m{i}")
        sent = await messages.send_text(socket_core, who.principal, conv, data)
        ids.append(sent.ref.message_id)
    await socket_core.drain()
    assert publisher.sent == ids


def test_the_written_copy_handles_frozen_records_and_nested_values() -> None:
    from dataclasses import dataclass, field
    from enum import StrEnum

    class Kind(StrEnum):
        A = "a"

    @dataclass(frozen=True, slots=True)
    class Frozen:
        kind: Kind
        tags: list[str] = field(default_factory=list)
        extra: dict[str, list[int]] = field(default_factory=dict)

    original = Frozen(Kind.A, ["x"], {"n": [1]})
    copy = _clone(original)
    assert copy == original
    assert copy.tags is not original.tags
    assert copy.extra["n"] is not original.extra["n"]
    assert copy.kind is Kind.A


def test_event_ids_are_canonical_random_uuids() -> None:
    import uuid

    from messaging_core.events import event_id

    ids = [event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case, dashed, as str(uuid.uuid4()) gave
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_the_fan_out_text_is_what_json_dumps_gave() -> None:
    import json

    from messaging_core.adapters.redis_fanout import encode, encode_many

    data = {"id": "x", "at": datetime(2026, 12, 2, tzinfo=UTC), "n": [1, {"é": None}]}
    options: dict[str, Any] = {"separators": (",", ":"), "default": str}
    assert encode("u1", "new_message", data) == json.dumps(
        {"u": "u1", "e": "new_message", "d": data}, **options
    )
    assert encode_many(["u1", "u2"], "e", data) == json.dumps(
        {"us": ["u1", "u2"], "e": "e", "d": data}, **options
    )


def test_iso_gives_each_instant_its_own_text_whatever_came_before() -> None:
    from datetime import timedelta, timezone

    from messaging_core.clock import iso

    at = datetime(2026, 12, 2, 4, 0, 0, 123000, tzinfo=UTC)
    paris = at.astimezone(timezone(timedelta(hours=1)))
    naive = at.replace(tzinfo=None)
    later = at + timedelta(milliseconds=1)
    texts = [iso(v) for v in (at, at, paris, naive, later, naive, at, None, later)]
    assert texts == [
        "2026-12-02T04:00:00.123Z",
        "2026-12-02T04:00:00.123Z",
        "2026-12-02T04:00:00.123Z",  # the same instant written from Paris time
        "2026-12-02T04:00:00.123Z",  # naive reads as UTC
        "2026-12-02T04:00:00.124Z",
        "2026-12-02T04:00:00.123Z",
        "2026-12-02T04:00:00.123Z",
        None,
        "2026-12-02T04:00:00.124Z",
    ]
    # A naive value right after an aware one of another instant is not confused with it
    two = datetime(2026, 12, 2, 6, 0, tzinfo=timezone(timedelta(hours=2)))  # 04:00 UTC
    assert iso(two) == "2026-12-02T04:00:00.000Z"
    assert iso(two.replace(tzinfo=None)) == "2026-12-02T06:00:00.000Z"
