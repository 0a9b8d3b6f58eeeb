"""The core's context: the ports one process uses, and the outbox dispatch shared by every rule."""

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .lru import LRU
from .models import Conversation, PendingEvent, Principal, UserProfile
from .revocation_cache import RevocationCache

if TYPE_CHECKING:  # the ports are only types here: not imported at run time (cold start, #19)
    from .ports import (
        EventPublisher,
        FileStore,
        PresenceStore,
        RateLimiter,
        RealtimeNotifier,
        RevocationStore,
        ScheduledRepository,
        Store,
        UploadRepository,
        UserDirectory,
    )

logger = logging.getLogger(__name__)

Push = tuple[str, str, dict[str, Any]]  # (user id, socket event, data)


def _memory_revocations() -> "RevocationStore":
    # The in-process store until the container installs Redis's: the memory adapters are
    # imported with the container, at the first request (cold start, #19), not with the core.
    from .adapters.memory import MemoryRevocations

    return MemoryRevocations()


@dataclass
class Core:
    settings: Settings
    store: "Store"
    directory: "UserDirectory"
    presence: "PresenceStore"
    publisher: "EventPublisher"
    notifier: "RealtimeNotifier"
    rate_limiter: "RateLimiter"
    files: "FileStore | None" = None
    uploads: "UploadRepository | None" = None
    # The socket tier publishes off the request path; a Lambda awaits before it returns.
    background_dispatch: bool = False
    # Ended sessions (Redis with REDIS_URL); read through a cache of a few seconds at most.
    revocations: "RevocationStore" = field(default_factory=_memory_revocations)
    revocation_cache: RevocationCache = field(default_factory=lambda: RevocationCache(2.0))
    # Conversations seen lately, for the participant check (participants never change); their
    # moving fields (lastMessage, seq) may be stale: see access.conversation_for.
    known_conversations: LRU[str, Conversation] = field(default_factory=lambda: LRU(10_000))
    _tasks: set["asyncio.Task[None]"] = field(default_factory=set)
    _acks: list[str] = field(default_factory=list)  # published, waiting for the next ack call
    _acking: bool = False  # a publish is acking (socket tier): the others leave theirs to it
    # Scheduled messages (issue #16 B): None refuses scheduling (503), never drops it.
    scheduled: "ScheduledRepository | None" = None

    async def identify(self, user: Principal) -> None:
        """Remember who presented a valid token (the embedded directory serves their name)."""
        await self.directory.remember(UserProfile(id=user.id, type=user.role, name=user.name))

    async def notify(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        """Push to every socket of a user; a realtime failure never fails the stored change."""
        try:
            await self.notifier.emit_to_user(user_id, event, data)
        except Exception as exc:
            logger.warning(
                "realtime emit failed", extra={"socket_event": event, "error": type(exc).__name__}
            )

    async def notify_after_reply(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        """Push once the current handler has answered: a sender sees `message_sent` (which maps
        its tempId to the message id) before any receipt about that id."""
        if self.background_dispatch:
            self._spawn(self.notify(user_id, event, data))
        else:
            await self.notify(user_id, event, data)

    # -- issue #19 (send path CPU): a send's after-reply effects in two tasks, not one per effect
    async def settle(self, events: Sequence[PendingEvent], receipts: Sequence[Push] = ()) -> None:
        """Publish a change's `events` in one batch and push each receipt (user, event, data).

        The socket tier runs them in the background, after its handler's reply (a sender sees
        `message_sent` before any receipt): one task publishes, started first so that events
        reach the publisher in the order of the changes (Kafka's order per conversation), and
        one pushes, so a slow broker never holds a receipt back. A Lambda awaits both."""
        if self.background_dispatch:
            if events:
                self._spawn(self._publish(list(events)))
            if receipts:
                self._spawn(self._push(list(receipts)))
            return
        if events:
            await self._publish(list(events))
        await self._push(list(receipts))

    async def _push(self, receipts: list[Push]) -> None:
        # Several (a care team's members) go out together: their Redis calls share one write.
        if len(receipts) == 1:
            await self.notify(*receipts[0])
        elif receipts:
            await asyncio.gather(*(self.notify(*r) for r in receipts))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def dispatch(self, events: Sequence[PendingEvent]) -> None:
        """Publish events recorded with their change; unconfirmed ones stay for the relay."""
        if not events:
            return
        if self.background_dispatch:
            self._spawn(self._publish(list(events)))
        else:
            await self._publish(list(events))

    async def _publish(self, events: list[PendingEvent]) -> None:
        try:
            await self.publisher.publish(events)
        except Exception as exc:
            logger.warning(
                "event publish failed; left pending for the relay",
                extra={"events": len(events), "error": type(exc).__name__},
            )
            return
        ids = [e.event_id for e in events]
        if not self.background_dispatch:
            await self._ack(ids)
            return
        # The socket tier: while one ack is with the store, what other publishes confirm
        # meanwhile waits and goes in the next call (a reconnect storm's thousands of `sync`
        # reads each publish an access record; each was a store write of its own, issue #19).
        # No task of its own: a publish alone acks at once, as before.
        self._acks.extend(ids)
        if self._acking:
            return  # the publish that is acking takes these in its next call
        self._acking = True
        try:
            while self._acks:  # bounded by what is published meanwhile
                batch, self._acks = self._acks, []
                await self._ack(batch)
        finally:
            self._acking = False

    async def _ack(self, ids: list[str]) -> None:
        try:
            await self.store.ack_events(ids)
        except Exception as exc:  # published but not acked: the relay re-sends the same eventId
            logger.warning("event ack failed", extra={"error": type(exc).__name__})

    async def drain(self) -> None:
        """Wait for background publishes (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            # A gather of tasks already done returns without yielding, before their done
            # callbacks have taken them out of the set: one loop turn lets them run (else a
            # task that finished in this very turn kept this loop spinning).
            await asyncio.sleep(0)

    # -- care teams (#18): one push to several users
    async def notify_many(self, user_ids: Sequence[str], event: str, data: dict[str, Any]) -> None:
        """Push to every socket of several users: a notifier that groups them (the Redis fan-out)
        publishes once per task holding any of them; one without `emit_to_users` goes user by
        user. A realtime failure never fails the stored change."""
        users = list(dict.fromkeys(user_ids))
        if not users:
            return
        emit_many = getattr(self.notifier, "emit_to_users", None)
        try:
            if emit_many is not None:
                await emit_many(users, event, data)
            else:
                for user_id in users:
                    await self.notifier.emit_to_user(user_id, event, data)
        except Exception as exc:
            logger.warning(
                "realtime emit failed", extra={"socket_event": event, "error": type(exc).__name__}
            )
