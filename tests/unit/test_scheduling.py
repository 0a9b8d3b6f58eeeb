"""Scheduled messages (issue #16 B), core with in-memory fakes: rules, claims, idempotence."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from messaging_core import conversations, messages, scheduling
from messaging_core.adapters.memory import MemoryEventPublisher, RecordingNotifier
from messaging_core.clock import iso, utcnow
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Page, Principal
from messaging_core.scheduling import Scheduled, send_due, send_or_schedule
from messaging_core.store.memory import MemoryStore
from messaging_core.store.scheduled import MemoryScheduled

from tests.conftest import make_settings

LATER = timedelta(hours=1)


@dataclass
class World:
    core: Core
    patient: Principal
    doctor: Principal
    outsider: Principal
    conv: str


async def world(**overrides: Any) -> World:
    settings = make_settings(kafka_broker=None, redis_url=None, mongodb_uri=None, **overrides)
    core = await build_core(settings, store=MemoryStore())
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    outsider = Principal(new_id(), "patient")
    for p in (patient, doctor, outsider):
        await core.identify(p)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    return World(core, patient, doctor, outsider, opened.conversation["conversationId"])


def at(delta: timedelta) -> str:
    return iso(utcnow() + delta) or ""


async def schedule(w: World, content: str = "Rappel: prise de sang", when: str = "") -> Scheduled:
    data = SendMessageIn(content=content, scheduledAt=when or at(LATER))
    result = await send_or_schedule(w.core, w.patient, w.conv, data)
    assert isinstance(result, Scheduled)
    return result


def later(delta: timedelta = LATER + timedelta(minutes=1)) -> Any:
    return lambda: utcnow() + delta


def pushes(core: Core, event: str) -> list[tuple[str, dict[str, Any]]]:
    assert isinstance(core.notifier, RecordingNotifier)
    return [(u, d) for u, e, d in core.notifier.emitted if e == event]


async def test_scheduled_then_sent_once_at_its_time_through_the_send_path() -> None:
    w = await world()
    s = await schedule(w)
    assert s.view()["scheduledMessageId"] == s.scheduled_id
    # Not due yet: nothing sent.
    assert await send_due(w.core) == 0
    _, total = await w.core.store.list_messages(w.conv, skip=0, limit=10)
    assert total == 0
    # At its time: sent once, under the scheduled id, with the usual push and event.
    assert await send_due(w.core, clock=later()) == 1
    stored = await w.core.store.get_message(s.scheduled_id)
    assert stored is not None
    assert stored.content == "Rappel: prise de sang"
    assert stored.sender_id == w.patient.id
    assert stored.receiver_id == w.doctor.id
    assert [u for u, _ in pushes(w.core, "new_message")] == [w.doctor.id]
    sender_pushes = pushes(w.core, scheduling.SCHEDULED_SENT_EVENT)
    assert [u for u, _ in sender_pushes] == [w.patient.id]
    assert sender_pushes[0][1]["message"]["id"] == s.scheduled_id
    publisher = w.core.publisher
    assert isinstance(publisher, MemoryEventPublisher)
    assert [e.event_type for e in publisher.events if e.payload.get("messageId") == s.scheduled_id][
        :1
    ] == ["message.sent"]
    # A later run finds nothing more to send.
    assert await send_due(w.core, clock=later()) == 0
    _, total = await w.core.store.list_messages(w.conv, skip=0, limit=10)
    assert total == 1
    item = await w.core.scheduled.get_scheduled(s.scheduled_id)  # type: ignore[union-attr]
    assert item is not None
    assert item.status == "sent"


async def test_a_worker_that_died_after_the_send_does_not_make_a_second_copy() -> None:
    w = await world(scheduled_lease_seconds=30)
    s = await schedule(w)
    repo = w.core.scheduled
    assert isinstance(repo, MemoryScheduled)
    # Given a worker that claimed it and stored its message, then died before marking it sent
    now = utcnow() + LATER + timedelta(minutes=1)
    item = await repo.claim_due(now, now + timedelta(seconds=30))
    assert item is not None
    conv = await w.core.store.get_conversation(w.conv)
    assert conv is not None
    await messages.store_message(
        w.core,
        w.patient,
        conv,
        receiver_id=None,
        message_type="text",
        content=item.content,
        message_id=item.id,
        budget=False,
    )
    # While its lease holds, no one else takes it.
    assert await send_due(w.core, clock=lambda: now + timedelta(seconds=10)) == 0
    # When the lease has expired, the next worker takes it over and only marks it sent.
    assert await send_due(w.core, clock=lambda: now + timedelta(seconds=31)) == 1
    _, total = await w.core.store.list_messages(w.conv, skip=0, limit=10)
    assert total == 1
    assert len(pushes(w.core, "new_message")) == 1
    assert pushes(w.core, scheduling.SCHEDULED_SENT_EVENT) == []
    final = await repo.get_scheduled(s.scheduled_id)
    assert final is not None
    assert final.status == "sent"


async def test_two_workers_at_once_send_it_once() -> None:
    w = await world()
    for i in range(5):
        await schedule(w, f"rappel {i}")
    results = await asyncio.gather(*(send_due(w.core, clock=later()) for _ in range(4)))
    assert sum(results) == 5
    _, total = await w.core.store.list_messages(w.conv, skip=0, limit=50)
    assert total == 5


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("tomorrow at nine", "ISO 8601"),
        ("2030-01-01T09:00:00", "time zone"),  # naive: refused, not guessed
        ("", "ISO 8601"),
    ],
)
async def test_scheduledAt_must_be_a_zoned_iso_time(when: str, reason: str) -> None:
    w = await world()
    with pytest.raises(Invalid, match=reason):
        await send_or_schedule(
            w.core, w.patient, w.conv, SendMessageIn(content="x", scheduledAt=when)
        )


async def test_at_least_the_minimum_lead_and_at_most_thirty_days() -> None:
    w = await world()
    assert w.core.settings.scheduled_min_lead_seconds == 60  # the default: one minute
    with pytest.raises(Invalid, match="at least 60 seconds"):
        await schedule(w, when=at(timedelta(seconds=30)))
    with pytest.raises(Invalid, match="at most 30 days"):
        await schedule(w, when=at(timedelta(days=30, minutes=5)))
    await schedule(w, when=at(timedelta(days=29)))
    await schedule(w, when=at(timedelta(minutes=2)))
    # Another zone is the same instant.
    paris = (datetime.now(UTC) + LATER).astimezone(datetime.now().astimezone().tzinfo)
    await schedule(w, when=paris.isoformat())


async def test_the_rules_of_a_send_apply_when_scheduling() -> None:
    w = await world(rate_limit_messages=2, rate_limit_window_seconds=60)
    with pytest.raises(Forbidden):  # not a participant
        await send_or_schedule(
            w.core, w.outsider, w.conv, SendMessageIn(content="x", scheduledAt=at(LATER))
        )
    with pytest.raises(Invalid):  # empty content
        await send_or_schedule(
            w.core, w.patient, w.conv, SendMessageIn(content="  ", scheduledAt=at(LATER))
        )
    with pytest.raises(Forbidden):  # a receiver who is not the other participant
        await send_or_schedule(
            w.core,
            w.patient,
            w.conv,
            SendMessageIn(content="x", receiverId=w.outsider.id, scheduledAt=at(LATER)),
        )
    await schedule(w)
    await schedule(w)
    with pytest.raises(RateLimited):  # the send budget
        await schedule(w)


async def test_at_most_N_pending_per_sender() -> None:
    w = await world(scheduled_max_pending=2)
    await schedule(w)
    await schedule(w)
    with pytest.raises(RateLimited, match="At most 2"):
        await schedule(w)


async def test_list_is_the_callers_pending_ones_soonest_first_and_audited() -> None:
    w = await world()
    late = await schedule(w, "second", at(timedelta(hours=2)))
    soon = await schedule(w, "first", at(timedelta(hours=1)))
    cancelled = await schedule(w, "third")
    await scheduling.cancel_scheduled(w.core, w.patient, cancelled.scheduled_id)
    views, paging = await scheduling.list_scheduled(w.core, w.patient, Page(1, 20))
    assert [v["scheduledMessageId"] for v in views] == [soon.scheduled_id, late.scheduled_id]
    assert views[0]["content"] == "first"
    assert views[0]["status"] == "pending"
    assert paging["totalItems"] == 2
    # The doctor (the receiver) sees none of them before they are sent.
    theirs, _ = await scheduling.list_scheduled(w.core, w.doctor, Page(1, 20))
    assert theirs == []
    trail, _ = await w.core.store.audit_trail(w.conv, 0, 50)
    assert scheduling.SCHEDULED_READ in [r.action for r in trail]


async def test_cancel_is_for_the_sender_only_and_a_cancelled_one_is_never_sent() -> None:
    w = await world()
    s = await schedule(w)
    with pytest.raises(Forbidden):
        await scheduling.cancel_scheduled(w.core, w.doctor, s.scheduled_id)
    with pytest.raises(NotFound):
        await scheduling.cancel_scheduled(w.core, w.patient, new_id())
    with pytest.raises(Invalid):
        await scheduling.cancel_scheduled(w.core, w.patient, "not-an-id")
    assert await scheduling.cancel_scheduled(w.core, w.patient, s.scheduled_id) == s.scheduled_id
    # A retried cancel is a success.
    await scheduling.cancel_scheduled(w.core, w.patient, s.scheduled_id)
    assert await send_due(w.core, clock=later()) == 0
    assert await w.core.store.get_message(s.scheduled_id) is None


async def test_a_message_already_sent_cannot_be_cancelled() -> None:
    w = await world()
    s = await schedule(w)
    await send_due(w.core, clock=later())
    with pytest.raises(Conflict):
        await scheduling.cancel_scheduled(w.core, w.patient, s.scheduled_id)


async def test_a_message_that_fails_again_and_again_is_given_up() -> None:
    w = await world(scheduled_lease_seconds=1)
    s = await schedule(w)
    store = w.core.store
    assert isinstance(store, MemoryStore)
    # Given a store whose conversation read fails (a broken database, not a rule)
    real = store.get_conversation

    async def broken(conversation_id: str) -> Any:  # noqa: ARG001
        raise RuntimeError("down")

    store.get_conversation = broken  # type: ignore[method-assign]
    w.core.known_conversations = type(w.core.known_conversations)(10)  # forget the cached one
    start = utcnow() + LATER
    for i in range(scheduling.MAX_ATTEMPTS + 1):
        await send_due(w.core, clock=lambda i=i: start + timedelta(seconds=2 * i))
    store.get_conversation = real  # type: ignore[method-assign]
    item = await w.core.scheduled.get_scheduled(s.scheduled_id)  # type: ignore[union-attr]
    assert item is not None
    assert item.status == "failed"
    assert await store.get_message(s.scheduled_id) is None


async def test_the_background_loop_sends_what_is_due_and_stops() -> None:
    w = await world(scheduled_min_lead_seconds=1)
    s = await schedule(w, when=at(timedelta(seconds=2)))
    stop = asyncio.Event()
    sent = asyncio.Event()

    notifier = w.core.notifier
    assert isinstance(notifier, RecordingNotifier)
    original = notifier.emit_to_user

    async def emit(user_id: str, event: str, data: dict[str, Any]) -> None:
        await original(user_id, event, data)
        if event == "new_message":
            sent.set()

    notifier.emit_to_user = emit  # type: ignore[method-assign]
    loop = asyncio.create_task(scheduling.run_scheduler(w.core, 0.05, stop))
    await asyncio.wait_for(sent.wait(), timeout=10)  # a guard against a hang, not a timing
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
    assert await w.core.store.get_message(s.scheduled_id) is not None


async def test_a_retried_schedule_with_its_tempId_is_stored_once() -> None:
    w = await world()
    data = SendMessageIn(content="rappel", tempId="sched-1", scheduledAt=at(LATER))
    first = await send_or_schedule(w.core, w.patient, w.conv, data)
    again = await send_or_schedule(w.core, w.patient, w.conv, data)
    assert isinstance(first, Scheduled)
    assert again == first
    # Concurrent retries too: one stored, every answer names it.
    race = SendMessageIn(content="rappel", tempId="sched-2", scheduledAt=at(LATER))
    answers = await asyncio.gather(
        *(send_or_schedule(w.core, w.patient, w.conv, race) for _ in range(3))
    )
    assert len({a.scheduled_id for a in answers if isinstance(a, Scheduled)}) == 1
    views, _ = await scheduling.list_scheduled(w.core, w.patient, Page(1, 20))
    assert len(views) == 2
    # Another sender's same tempId is theirs.
    mine = SendMessageIn(content="x", tempId="sched-1", scheduledAt=at(LATER))
    theirs = await send_or_schedule(w.core, w.doctor, w.conv, mine)
    assert isinstance(theirs, Scheduled)
    assert theirs.scheduled_id != first.scheduled_id
