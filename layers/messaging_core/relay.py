"""The outbox relay, and the publisher a process uses (Kafka behind a circuit breaker).

Every state change stores its events in the same document write (`pendingEvents`); the request
then publishes them right away and acks them. What that publish could not confirm (broker down,
timeout, process killed in between) stays pending, and the relay publishes it later, oldest
first, then acks it. Delivery is therefore at least once: a duplicate carries the same eventId.

The relay runs as a scheduled Lambda (functions/relay.py) and, in long-lived processes (the
socket tier, `make run`), as a background task (`start_background_relay`).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from .clock import utcnow
from .config import Settings
from .core import Core
from .models import PendingEvent
from .ports import EventPublisher

logger = logging.getLogger(__name__)


class PublisherUnavailable(Exception):
    """The circuit is open: the event stays pending and the relay publishes it."""


class CircuitBreaker:
    """After a failed publish, skip the broker for `open_seconds` rather than wait on it again.

    With a relay in the same process (`hold_for_relay`), the circuit stays open until the relay
    has drained the backlog, so new events do not overtake older pending ones of the same
    conversation; `max_hold_seconds` bounds that in case the relay is stuck.
    """

    def __init__(
        self,
        open_seconds: float,
        *,
        max_hold_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.open_seconds = open_seconds
        self.max_hold_seconds = max_hold_seconds
        self.hold_for_relay = False
        self._clock = clock
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        """May a request try the broker now? (Half-open once the open period is over.)"""
        if self._opened_at is None or self.open_seconds <= 0:
            return True
        waited = self._clock() - self._opened_at
        if self.hold_for_relay:
            return waited >= max(self.max_hold_seconds, self.open_seconds)
        return waited >= self.open_seconds

    def record_success(self) -> None:
        self._opened_at = None

    def record_failure(self) -> None:
        self._opened_at = self._clock()


class GuardedPublisher:
    """Wraps a publisher with a circuit breaker; the relay may bypass it (`force=True`)."""

    def __init__(self, inner: EventPublisher, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    async def publish(self, events: Sequence[PendingEvent], *, force: bool = False) -> None:
        if not force and not self.breaker.allow():
            raise PublisherUnavailable("event publisher circuit open")
        # No await before the inner call: concurrent callers reach the producer in call order.
        try:
            await self.inner.publish(events)
        except Exception:
            self.breaker.record_failure()
            raise
        if not force:
            # The relay closes the circuit itself, once the backlog is drained.
            self.breaker.record_success()

    async def close(self) -> None:
        await self.inner.close()


def build_publisher(settings: Settings) -> EventPublisher:
    """Kafka when KAFKA_BROKER is set (kafka-python imported only then), else in-process."""
    publisher: EventPublisher
    if settings.kafka_broker:
        from .adapters.kafka import KafkaEventPublisher

        publisher = KafkaEventPublisher.from_settings(settings)
    else:
        from .adapters.memory import MemoryEventPublisher

        publisher = MemoryEventPublisher(log_events=settings.print_events)
    if settings.notification_service_url:
        from .adapters.notifications import HttpNotificationSender, NotifyingPublisher

        sender = HttpNotificationSender(
            settings.notification_service_url, settings.notification_timeout_seconds
        )
        publisher = NotifyingPublisher(publisher, sender, settings.notification_timeout_seconds)
    if settings.kafka_broker:
        publisher = GuardedPublisher(publisher, CircuitBreaker(settings.kafka_circuit_open_seconds))
    return publisher


async def relay_once(core: Core, older_than_seconds: float = 5.0, batch: int = 200) -> int:
    """Publish up to `batch` pending events older than `older_than_seconds`, oldest first, and
    ack them; return how many. Raises when the publish fails (nothing is acked then)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    pending = await core.store.pending_events(cutoff, batch)
    if not pending:
        return 0
    publisher = core.publisher
    if isinstance(publisher, GuardedPublisher):
        await publisher.publish(pending, force=True)
    else:
        await publisher.publish(pending)
    await core.store.ack_events([e.event_id for e in pending])
    return len(pending)


async def relay_pending(
    core: Core,
    *,
    older_than_seconds: float = 5.0,
    batch: int = 200,
    max_seconds: float = 30.0,
) -> int:
    """Relay batch after batch until the backlog is drained or `max_seconds` have passed."""
    started = time.monotonic()
    total = 0
    guard = core.publisher if isinstance(core.publisher, GuardedPublisher) else None
    if guard is not None and guard.breaker.is_open:
        # Requests skip the broker while the circuit is open, so no one else is publishing
        # these: take every pending event, however young, before closing the circuit.
        older_than_seconds = 0.0
    while True:
        sent = await relay_once(core, older_than_seconds, batch)
        total += sent
        if sent < batch:
            # Drained: requests may publish directly again without overtaking older events.
            if guard is not None:
                guard.breaker.record_success()
            break
        if time.monotonic() - started >= max_seconds:
            break
    if total:
        logger.info("outbox relay published pending events", extra={"events": total})
    return total


async def run_relay(
    core: Core,
    interval: float,
    stop_event: asyncio.Event,
    *,
    older_than_seconds: float | None = None,
    batch: int | None = None,
) -> None:
    """Relay every `interval` seconds until `stop_event` is set; failures are logged, retried."""
    settings = core.settings
    age = settings.outbox_relay_age_seconds if older_than_seconds is None else older_than_seconds
    size = settings.outbox_relay_batch if batch is None else batch
    while not stop_event.is_set():
        try:
            await relay_pending(core, older_than_seconds=age, batch=size, max_seconds=interval)
        except Exception as exc:
            logger.warning("outbox relay failed; retrying", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)


def start_background_relay(core: Core, interval: float | None = None) -> "asyncio.Task[None]":
    """Run the relay in this process until the returned task is cancelled (socket tier, local)."""
    if isinstance(core.publisher, GuardedPublisher):
        core.publisher.breaker.hold_for_relay = True
    every = core.settings.outbox_relay_interval_seconds if interval is None else interval
    return asyncio.get_running_loop().create_task(
        run_relay(core, every, asyncio.Event()), name="outbox-relay"
    )
