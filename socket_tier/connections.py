"""The sockets this task holds: who is behind each, per-user limits, token expiry, revocation.

Presence announcements and catch-up delivery are decided in the core; this module only tracks
sockets and tells the core when a user came or went.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from messaging_core import messages, presence
from messaging_core.budgets import budget_key, budget_of, spend
from messaging_core.core import Core
from messaging_core.errors import DomainError, Unauthorized
from messaging_core.models import Principal
from messaging_core.ports import ConnectionPresence
from messaging_core.revocation import SESSION_REVOKED, check_not_revoked

from .settings import SocketSettings
from .tasks import BackgroundTasks
from .transport import GuardedServer
from .typing_relay import TypingRelay

if TYPE_CHECKING:  # redis is imported only when REDIS_URL is set
    from messaging_core.adapters.redis_presence import RedisPresence
    from redis.asyncio import Redis

    from .socket_cap import SharedSocketCap

logger = logging.getLogger(__name__)

SESSION_EXPIRED = "Session expired: reconnect with a new token"
TOO_MANY_SOCKETS = (
    "Too many connections for this account: this one, the oldest, was closed for a newer one"
)


def user_room(user_id: str) -> str:
    """Every device of a user joins this room; pushes address users, never socket ids."""
    return f"user:{user_id}"


class Running(Protocol):
    """The started process's Core and presence (the lifecycle holds them)."""

    @property
    def core(self) -> Core: ...

    @property
    def presence(self) -> ConnectionPresence: ...


class Connections:
    def __init__(
        self,
        sio: GuardedServer,
        sock: SocketSettings,
        running: Running,
        typing: TypingRelay,
        tasks: BackgroundTasks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sio = sio
        self._sock = sock
        self._running = running
        self._typing = typing
        self._tasks = tasks
        self._clock = clock  # epoch seconds, as token `exp` claims are
        self.users: dict[str, Principal] = {}
        # Each user's sockets on this task, oldest first (MAX_SOCKETS_PER_USER).
        self.sockets_of: dict[str, list[str]] = {}
        # Sockets close when their token expires. One timer for the whole task, set for the
        # earliest expiry of a heap, instead of one per socket (issue #19: about 0.5 KiB per
        # idle socket). Entries of sockets gone meanwhile are skipped when they come up.
        self._expiries: list[tuple[float, str]] = []
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._expiry_due: float | None = None
        # With Redis, MAX_SOCKETS_PER_USER counts the user's sockets on every task.
        self.cap: SharedSocketCap | None = None

    def share_cap(self, cluster: RedisPresence, client: Redis) -> None:
        """Count sockets across tasks (Redis); the oldest over the cap closes where it lives."""
        from .socket_cap import SharedSocketCap  # imports redis: only with REDIS_URL

        self.cap = SharedSocketCap(
            cluster,
            client,
            self._sock.max_sockets_per_user,
            users=self.users,
            evict=lambda sid: self._tasks.spawn(self._evict(sid)),
        )

    async def close_asked(self, user_id: str, sid: str) -> None:
        """Another task's cap asks this one to close one of its sockets."""
        if self.cap is not None:
            await self.cap.close_here(user_id, sid)

    def user_of(self, sid: str) -> Principal:
        user = self.users.get(sid)
        if user is None:
            raise Unauthorized("Not authenticated")
        if user.expires_at is not None and self._clock() >= user.expires_at:
            raise Unauthorized(SESSION_EXPIRED)  # the timer closes the socket right after
        return user

    async def connected(self, sid: str, user: Principal) -> None:
        """Hold a socket whose token was accepted, once its connect budget allows it (else
        RateLimited, and nothing is held)."""
        core = self._running.core
        if self.cap is None:  # alone: the budget first, then this task's own bookkeeping
            await spend(core, user, "connect")
        self.users[sid] = user
        self._drop_request_headers(sid)
        sids = self.sockets_of.setdefault(user.id, [])
        sids.append(sid)
        # Alone (no Redis) the cap counts this task's sockets; with Redis, every task's (below).
        while self.cap is None and len(sids) > self._sock.max_sockets_per_user:
            self._tasks.spawn(self._evict(sids.pop(0)))
        room = user_room(user.id)
        await self._sio.enter_room(sid, room)
        # Registered before the handshake completes: a message sent right after is "delivered".
        if self.cap is None:
            came_online = await self._running.presence.connect(user.id, sid)
        else:
            # With Redis the budget, presence and the cap take one round trip (issue #19); the
            # connects of one loop turn share it. Awaited: sockets are ordered as their connects
            # complete.
            budget = budget_of(core.settings, "connect")
            window = (budget_key("connect", user), budget.count, budget.window_seconds)
            try:
                entered = await self.cap.enter(user.id, sid, window, budget.message)
            except BaseException:  # refused (budget, Redis): the socket is not held
                self._release(sid)
                await self._sio.leave_room(sid, room)
                raise
            came_online = entered.came_online
            await self.cap.close_over_cap(user.id, entered.over_cap)
        if user.expires_at is not None:
            self._expire_at(user.expires_at, sid)
        self._tasks.spawn(self._after_connect(user, came_online))

    def _drop_request_headers(self, sid: str) -> None:
        """The handshake's request headers are read once, at connect (the token, the upgrade);
        python-socketio keeps that request's environ for the socket's life. Dropping them saves
        a few KiB per idle socket (more behind a browser's cookies and user agent; issue #19)
        and keeps no copy of an `Authorization` header's token."""
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        environ = self._sio.environ.get(eio_sid) if eio_sid is not None else None
        if environ:
            for key in [k for k in environ if k.startswith("HTTP_")]:
                del environ[key]

    def _expire_at(self, at: float, sid: str) -> None:
        if len(self._expiries) > 2 * len(self.users) + 64:
            # Mostly sockets gone (a reconnect storm): rebuild from the live ones (bounded).
            self._expiries = [(t, s) for t, s in self._expiries if s in self.users]
            heapq.heapify(self._expiries)
        heapq.heappush(self._expiries, (at, sid))
        if self._expiry_due is None or at < self._expiry_due:
            self._arm_expiry()

    def _arm_expiry(self) -> None:
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
        self._expiry_due = None
        if not self._expiries:
            return
        due = self._expiries[0][0]
        self._expiry_due = due
        delay = max(0.0, due - self._clock())
        self._expiry_timer = asyncio.get_running_loop().call_later(delay, self._expire_due)

    def _expire_due(self) -> None:
        """Close every socket whose token has expired by now; then wait for the next expiry."""
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:  # bounded by the heap's size
            _at, sid = heapq.heappop(self._expiries)
            if sid in self.users:
                self._tasks.spawn(self.end_session(sid, SESSION_EXPIRED))
        self._arm_expiry()

    async def _after_connect(self, user: Principal, came_online: bool) -> None:
        core = self._running.core
        await core.identify(user)
        if came_online:
            await presence.announce(core, user.id, "user_online")
        # Everything that waited for this user is now delivered; each sender hears about it.
        await messages.deliver_pending(core, user, None)

    async def end_session(self, sid: str, message: str) -> None:
        """A token is good until its `exp` or its revocation, the socket it opened too: tell the
        client, close."""
        if sid not in self.users:
            return
        await self._sio.emit("error", {"event": "session", "message": message}, to=sid)
        await self._sio.disconnect(sid)

    async def sweep_revoked(self) -> int:
        """Close the sockets whose user or token was revoked since they connected."""
        closed = 0
        for sid, user in list(self.users.items()):  # one pass over a snapshot: bounded
            try:
                await check_not_revoked(self._running.core, user)
            except Unauthorized:
                closed += 1
                await self.end_session(sid, SESSION_REVOKED)
            except DomainError as exc:
                # Marks unreadable (Redis blip): keep the socket; its next connect is refused
                # if the blip lasts, and the next sweep tries again.
                logger.warning("revocation sweep skipped", extra={"error": type(exc).__name__})
                break
        return closed

    async def _evict(self, sid: str) -> None:
        """Over the per-user socket limit: the oldest socket hears why, then closes."""
        await self._sio.emit("error", {"event": "connection", "message": TOO_MANY_SOCKETS}, to=sid)
        await self._sio.disconnect(sid)

    def _release(self, sid: str) -> Principal | None:
        """Forget a socket's user and its place among the user's sockets."""
        user = self.users.pop(sid, None)  # its expiry entry, if any, is skipped when due
        if user is None:
            return None
        sids = self.sockets_of.get(user.id)
        if sids is not None:
            if sid in sids:
                sids.remove(sid)
            if not sids:
                del self.sockets_of[user.id]
        return user

    async def disconnected(self, sid: str) -> None:
        user = self._release(sid)
        if user is None:
            return
        await self._typing.drop_socket(sid)
        # Closed by this task's drain: the user goes offline at once, and their partners hear it
        # only if they do not connect again (elsewhere) before the presence's settle time.
        leaving = self._sio.draining
        if await self._running.presence.disconnect(user.id, sid, leaving=leaving):
            await presence.announce(self._running.core, user.id, "user_offline")
