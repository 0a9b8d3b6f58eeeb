"""The publisher a process uses: Kafka (or in-process) behind a circuit breaker.

After a failed publish, requests skip the broker for a while and leave their events pending in
the outbox; the relay (relay.py) publishes them and closes the circuit once the backlog is gone.
"""

import time
from collections.abc import Callable, Sequence

from .config import Settings
from .models import PendingEvent
from .ports import EventPublisher


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
