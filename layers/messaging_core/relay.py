"""The outbox relay: publishes what requests could not confirm (publisher.py is the publisher).

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
from collections.abc import Callable
from datetime import timedelta

from .clock import utcnow
from .core import Core
from .publisher import GuardedPublisher

logger = logging.getLogger(__name__)


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
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Relay batch after batch until the backlog is drained or `max_seconds` have passed."""
    # The clock is a parameter so a test can run out the budget without waiting for it.
    started = clock()
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
        if clock() - started >= max_seconds:
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
