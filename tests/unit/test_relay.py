"""Outbox relay and circuit breaker, with the in-memory store and fake publishers."""

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from messaging_core import conversations, messages
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import PendingEvent, Principal
from messaging_core.publisher import CircuitBreaker, GuardedPublisher, PublisherUnavailable
from messaging_core.relay import (
    relay_once,
    relay_pending,
    run_relay,
    start_background_relay,
)
from messaging_core.store.memory import MemoryStore


class Recorder:
    """Publishes into a list; can be switched down, or to fail after `fail_after` events."""

    def __init__(self) -> None:
        self.events: list[PendingEvent] = []
        self.calls = 0
        self.down = False
        self.fail_after: int | None = None
        self._changed = asyncio.Event()

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        self.calls += 1
        self._changed.set()
        if self.down:
            raise ConnectionError("broker down")
        for e in events:
            if self.fail_after is not None and self.fail_after <= 0:
                raise ConnectionError("killed mid-batch")
            self.events.append(e)
            if self.fail_after is not None:
                self.fail_after -= 1

    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Wait on the publishes themselves until `done()` holds."""

        async def reached() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        # A safety bound against a hang, not what the tests assert.
        await asyncio.wait_for(reached(), timeout=30)

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings() -> Settings:
    return Settings(_env_file=None, kafka_broker=None, redis_url=None, mongodb_uri=None)  # type: ignore[call-arg]


async def core_with(publisher: Any) -> Core:
    core = await build_core(settings(), store=MemoryStore())
    core.publisher = publisher
    return core


async def send_many(core: Core, n: int) -> tuple[str, list[str]]:
    patient = Principal(new_id(), "patient")
    doctor = Principal(new_id(), "doctor")
    await core.identify(doctor)  # the directory knows the recipient
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    conv_id = opened.conversation["conversationId"]
    ids = []
    for i in range(n):
        sent = await messages.send_text(core, patient, conv_id, SendMessageIn(content=f"m{i}"))
        ids.append(sent.message["id"])
    return conv_id, ids


async def test_what_the_request_could_not_publish_stays_pending_and_the_relay_sends_it() -> None:
    # Given a broker that is down while five messages are sent
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    _, ids = await send_many(core, 5)
    assert await core.store.count_pending_events() == 5
    # When it is back and the relay runs
    recorder.down = False
    assert await relay_once(core, older_than_seconds=0, batch=100) == 5
    # Then every message.sent is published once, oldest first, and nothing is pending
    assert [e.payload["messageId"] for e in recorder.events] == ids
    assert await core.store.count_pending_events() == 0
    assert await relay_once(core, older_than_seconds=0) == 0


async def test_the_relay_leaves_young_events_to_their_request() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    await send_many(core, 2)
    recorder.down = False
    assert await relay_once(core, older_than_seconds=60) == 0
    assert await core.store.count_pending_events() == 2


async def test_a_failed_relay_publish_acks_nothing() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    await send_many(core, 3)
    with pytest.raises(ConnectionError):
        await relay_once(core, older_than_seconds=0)
    assert await core.store.count_pending_events() == 3


async def test_a_relay_killed_mid_batch_loses_nothing_and_repeats_with_the_same_ids() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    _, ids = await send_many(core, 10)
    recorder.down = False
    recorder.fail_after = 4
    with pytest.raises(ConnectionError):
        await relay_once(core, older_than_seconds=0)
    recorder.fail_after = None
    assert await relay_pending(core, older_than_seconds=0, batch=3) == 10
    seen = [e.payload["messageId"] for e in recorder.events]
    assert set(seen) == set(ids)
    assert len(seen) == 14
    by_id: dict[str, set[str]] = {}
    for e in recorder.events:
        by_id.setdefault(e.payload["messageId"], set()).add(e.event_id)
    assert all(len(v) == 1 for v in by_id.values())  # duplicates carry the same eventId
    assert await core.store.count_pending_events() == 0


async def test_relay_batches_go_oldest_first() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    _, ids = await send_many(core, 7)
    recorder.down = False
    assert await relay_pending(core, older_than_seconds=0, batch=2) == 7
    assert [e.payload["messageId"] for e in recorder.events] == ids


def test_the_breaker_opens_on_failure_and_half_opens_after_its_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.is_open
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # one try: success closes, failure re-opens
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 5.1
    breaker.record_success()
    assert not breaker.is_open
    assert breaker.allow()


def test_with_a_relay_in_process_the_breaker_waits_for_it_up_to_a_bound() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, max_hold_seconds=60.0, clock=clock)
    breaker.hold_for_relay = True
    breaker.record_failure()
    clock.now += 30
    assert not breaker.allow()
    clock.now += 31
    assert breaker.allow()


def test_a_zero_period_disables_the_breaker() -> None:
    breaker = CircuitBreaker(0.0)
    breaker.record_failure()
    assert breaker.allow()


async def test_after_a_failure_requests_skip_the_broker_and_leave_events_to_the_relay() -> None:
    recorder = Recorder()
    clock = Clock()
    guard = GuardedPublisher(recorder, CircuitBreaker(5.0, clock=clock))
    core = await core_with(guard)
    recorder.down = True
    _, first = await send_many(core, 1)  # fails: opens the circuit
    assert recorder.calls == 1
    _, more = await send_many(core, 3)  # skipped: the broker is not tried
    assert recorder.calls == 1
    with pytest.raises(PublisherUnavailable):
        await guard.publish([])
    assert await core.store.count_pending_events() == 4
    # The relay bypasses the open circuit; once the backlog is drained it closes it
    recorder.down = False
    assert await relay_pending(core, older_than_seconds=60, batch=100) == 4
    assert not guard.breaker.is_open
    assert [e.payload["messageId"] for e in recorder.events] == first + more
    await send_many(core, 1)
    assert len(recorder.events) == 5
    assert await core.store.count_pending_events() == 0


async def test_a_failed_relay_keeps_the_circuit_open() -> None:
    recorder = Recorder()
    guard = GuardedPublisher(recorder, CircuitBreaker(5.0))
    core = await core_with(guard)
    recorder.down = True
    await send_many(core, 2)
    with pytest.raises(ConnectionError):
        await relay_pending(core, older_than_seconds=0)
    assert guard.breaker.is_open


async def test_the_background_relay_publishes_and_stops_when_cancelled() -> None:
    recorder = Recorder()
    recorder.down = True
    guard = GuardedPublisher(recorder, CircuitBreaker(5.0))
    core = await core_with(guard)
    await send_many(core, 3)
    recorder.down = False
    task = start_background_relay(core, interval=0.05)
    assert guard.breaker.hold_for_relay
    await recorder.wait_until(lambda: len(recorder.events) == 3)
    # The relay acks right after the publish returns; a yield (no time passes) lets it.
    for _ in range(10):
        if await core.store.count_pending_events() == 0:
            break
        await asyncio.sleep(0)
    assert await core.store.count_pending_events() == 0
    assert len(recorder.events) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_relay_survives_failures_and_stops_on_its_event() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    await send_many(core, 2)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(run_relay(core, 0.05, stop, older_than_seconds=0))
    await recorder.wait_until(lambda: recorder.calls >= 3)  # failed rounds, logged, not raised
    assert not loop_task.done()
    recorder.down = False
    await recorder.wait_until(lambda: len(recorder.events) == 2)
    stop.set()
    await asyncio.wait_for(loop_task, 30)  # a safety bound: the stop event ends the loop
    assert len(recorder.events) == 2


class LambdaContext:
    function_name = "relay"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:relay"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 50_000


def test_the_relay_lambda_publishes_and_reports_the_backlog(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from functions import relay as relay_function

    recorder = Recorder()
    recorder.down = True

    async def prepare() -> Core:
        core = await core_with(recorder)
        await send_many(core, 4)
        return core

    core = relay_function._loop.run_until_complete(prepare())
    set_core(core)
    try:
        core.settings.outbox_relay_age_seconds = 0
        # Broker still down: nothing published, the backlog is reported
        result = relay_function.handler({}, LambdaContext())
        assert result == {"published": 0, "pending": 4, "error": "ConnectionError"}
        recorder.down = False
        result = relay_function.handler({}, LambdaContext())
        assert result == {"published": 4, "pending": 0, "error": None}
    finally:
        set_core(None)
    emitted = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "OutboxPending" in line
    ]
    assert [m["OutboxPending"] for m in emitted] == [[4.0], [0.0]]
    assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ESanteMessaging"


async def test_relay_pending_stops_taking_batches_when_its_budget_is_spent() -> None:
    recorder = Recorder()
    recorder.down = True
    core = await core_with(recorder)
    await send_many(core, 5)
    recorder.down = False
    ticks = iter(range(0, 1000, 10))  # every reading of the clock is 10 s later

    def clock() -> float:
        return float(next(ticks))

    sent = await relay_pending(core, older_than_seconds=0, batch=1, max_seconds=15, clock=clock)
    assert sent == 2  # batch one at t=10 (< 15), batch two at t=20: the budget is spent
    assert await core.store.count_pending_events() == 3
