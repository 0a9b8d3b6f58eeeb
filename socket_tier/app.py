"""The realtime tier's process: Socket.IO server, presence, fan-out, background loops, shutdown.

With REDIS_URL: presence, rate limits and the cross-task fan-out live in Redis (any number of
tasks; any task may die). Without it (`make run`): in-process presence and delivery, one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import socketio
from messaging_core import messages
from messaging_core.clock import iso, utcnow
from messaging_core.config import Settings, get_settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.errors import DomainError, Unauthorized
from messaging_core.models import Principal
from messaging_core.ports import PresenceStore, RateLimiter, RealtimeNotifier, RevocationStore
from messaging_core.relay import start_background_relay
from messaging_core.retention import start_background_purge
from messaging_core.revocation import SESSION_REVOKED, check_not_revoked

from .namespace import MessagingNamespace
from .settings import SocketSettings, get_socket_settings
from .transport import DirectManager, GuardedServer, InboundLimits, JsonPacket
from .typing_relay import TypingRelay

logger = logging.getLogger(__name__)

SESSION_EXPIRED = "Session expired: reconnect with a new token"
TOO_MANY_SOCKETS = (
    "Too many connections for this account: this one, the oldest, was closed for a newer one"
)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def user_room(user_id: str) -> str:
    """Every device of a user joins this room; pushes address users, never socket ids."""
    return f"user:{user_id}"


def _no_browser_origin(origin: str | None, environ: Any = None) -> bool:
    return False


class ConnectionPresence(PresenceStore, Protocol):
    async def connect(self, user_id: str, sid: str) -> bool: ...
    async def disconnect(self, user_id: str, sid: str) -> bool: ...


class LocalNotifier:
    """Single-process delivery (no Redis): the user's room on this server."""

    def __init__(self, emit: Callable[[str, str, dict[str, Any]], Awaitable[None]]) -> None:
        self._emit = emit

    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self._emit(user_id, event, data)


class Realtime:
    """Everything one socket process holds; the namespace calls into it."""

    def __init__(
        self, settings: Settings | None = None, sock: SocketSettings | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.sock = sock or get_socket_settings()
        self.sio = GuardedServer(
            limits=InboundLimits(
                packets_per_second=self.sock.inbound_packets_per_second,
                bytes_per_second=self.sock.inbound_bytes_per_second,
                connect_timeout_seconds=self.sock.connect_timeout_seconds,
            ),
            async_mode="asgi",
            # No origin configured: refuse every browser origin ([] would switch the check off).
            cors_allowed_origins=self.settings.frontend_origins or _no_browser_origin,
            cors_credentials=False,  # bearer tokens, no cookies
            ping_interval=self.sock.ping_interval_seconds,
            ping_timeout=self.sock.ping_timeout_seconds,
            max_http_buffer_size=self.sock.max_payload_bytes,
            client_manager=DirectManager(),
            serializer=JsonPacket,
            logger=False,
            engineio_logger=False,
        )
        self.sio.register_namespace(MessagingNamespace(self))
        self.users: dict[str, Principal] = {}
        # Each user's sockets on this task, oldest first (MAX_SOCKETS_PER_USER).
        self.sockets_of: dict[str, list[str]] = {}
        # One timer per socket whose token expires: the socket closes when its token does.
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self.typing = TypingRelay(
            self._notify, self.sock.typing_timeout_seconds, self.sock.typing_throttle_seconds
        )
        self._core: Core | None = None
        self._presence: ConnectionPresence | None = None
        self._redis: Any = None
        self._channel: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def core(self) -> Core:
        if self._core is None:
            raise RuntimeError("the realtime tier is not started")
        return self._core

    @property
    def presence(self) -> ConnectionPresence:
        if self._presence is None:
            raise RuntimeError("the realtime tier is not started")
        return self._presence

    async def start(self) -> None:
        try:
            await self._start()
        except Exception as exc:
            # python-socketio's lifespan hides the cause; say which dependency failed.
            logger.error("socket tier failed to start", extra={"error": repr(exc)[:200]})
            raise

    async def _start(self) -> None:
        notifier: RealtimeNotifier
        limiter: RateLimiter | None = None
        revocations: RevocationStore | None = None
        if self.settings.redis_url:
            from messaging_core.adapters.redis_client import redis_client
            from messaging_core.adapters.redis_fanout import RedisFanout, TaskChannel
            from messaging_core.adapters.redis_presence import RedisPresence
            from messaging_core.adapters.redis_ratelimit import RedisRateLimiter
            from messaging_core.adapters.redis_revocation import RedisRevocations

            self._redis = redis_client(self.settings, self.sock.redis_pool_size)
            presence = RedisPresence(
                self._redis, task_id=self.sock.task_id, ttl_seconds=self.sock.presence_ttl_seconds
            )
            self._presence = presence
            notifier = RedisFanout(
                self._redis,
                task_id=self.sock.task_id,
                local_emit=self.emit_local,
                has_local=presence.has_local,
            )
            limiter = RedisRateLimiter(self._redis)
            revocations = RedisRevocations(self._redis)  # on this task's pool, not a second one
            self._channel = TaskChannel(self._redis, self.sock.task_id, self.emit_local)
            self._loops.append(asyncio.create_task(self._channel.run()))
            self._loops.append(asyncio.create_task(self._heartbeat_loop(presence)))
            await asyncio.wait_for(self._channel.ready.wait(), timeout=10)
        else:
            from messaging_core.adapters.memory import MemoryPresence

            self._presence = MemoryPresence()
            notifier = LocalNotifier(self.emit_local)
        self._core = await build_core(
            self.settings,
            presence=self._presence,
            notifier=notifier,
            rate_limiter=limiter,
            revocations=revocations,
            background_dispatch=True,
        )
        set_core(self._core)  # the REST routers of `make run` share this Core
        # Publishes what a failed immediate publish left pending (Kafka down, crash mid-way).
        self._loops.append(start_background_relay(self._core))
        if self.settings.purge_interval_seconds > 0:  # `make run`; in AWS a scheduled Lambda
            self._loops.append(start_background_purge(self._core))
        self._loops.append(asyncio.create_task(self._revocation_loop()))
        # Everything built so far (modules, the app, clients) lives as long as the process: out
        # of the collector's sight, a full collection only walks what came after. Those full
        # collections were the p99 of the realtime benchmark (bench/RESULTS-socket.md).
        gc.freeze()
        logger.info("socket tier started", extra={"task_id": self.sock.task_id})

    async def stop(self) -> None:
        """SIGTERM: uvicorn has stopped accepting and closed the websockets with 1012 (clients
        reconnect to another task); take this task's remaining connections out of presence."""
        self.typing.close()
        if self._presence is not None and hasattr(self._presence, "leave_all"):
            for user in await self._presence.leave_all():
                await self._announce(user, "user_offline")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.sock.shutdown_grace_seconds)
        if self._channel is not None:
            self._channel.stop()
        for loop_task in self._loops:
            loop_task.cancel()
        for loop_task in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop_task
        if self._core is not None:
            await self._core.drain()
            await self._core.publisher.close()  # flush the producer (bounded) before exit
        if self._redis is not None:
            from messaging_core.adapters.redis_client import script_batcher

            script_batcher(self._redis).close()
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        logger.info("socket tier stopped", extra={"task_id": self.sock.task_id})

    def asgi(self, other_asgi_app: ASGIApp | None = None) -> socketio.ASGIApp:
        return socketio.ASGIApp(
            self.sio, other_asgi_app=other_asgi_app, on_startup=self.start, on_shutdown=self.stop
        )

    # ------------------------------------------------------------------ connections
    def user_of(self, sid: str) -> Principal:
        user = self.users.get(sid)
        if user is None:
            raise Unauthorized("Not authenticated")
        if user.expires_at is not None and time.time() >= user.expires_at:
            raise Unauthorized(SESSION_EXPIRED)  # the timer closes the socket right after
        return user

    async def connected(self, sid: str, user: Principal) -> None:
        self.users[sid] = user
        sids = self.sockets_of.setdefault(user.id, [])
        sids.append(sid)
        while len(sids) > self.sock.max_sockets_per_user:
            self.spawn(self._evict(sids.pop(0)))
        await self.sio.enter_room(sid, user_room(user.id))
        # Registered before the handshake completes: a message sent right after is "delivered".
        came_online = await self.presence.connect(user.id, sid)
        if user.expires_at is not None:
            delay = max(0.0, user.expires_at - time.time())
            self._expiry[sid] = asyncio.get_running_loop().call_later(
                delay, lambda: self.spawn(self._end_session(sid, SESSION_EXPIRED))
            )
        self.spawn(self._after_connect(user, came_online))

    async def _after_connect(self, user: Principal, came_online: bool) -> None:
        await self.core.identify(user)
        if came_online:
            await self._announce(user.id, "user_online")
        # Everything that waited for this user is now delivered; each sender hears about it.
        await messages.deliver_pending(self.core, user, None)

    async def _end_session(self, sid: str, message: str) -> None:
        """A token is good until its `exp` or its revocation, the socket it opened too: tell the
        client, close."""
        if sid not in self.users:
            return
        await self.sio.emit("error", {"event": "session", "message": message}, to=sid)
        await self.sio.disconnect(sid)

    async def sweep_revoked(self) -> int:
        """Close the sockets whose user or token was revoked since they connected."""
        closed = 0
        for sid, user in list(self.users.items()):  # one pass over a snapshot: bounded
            try:
                await check_not_revoked(self.core, user)
            except Unauthorized:
                closed += 1
                await self._end_session(sid, SESSION_REVOKED)
            except DomainError as exc:
                # Marks unreadable (Redis blip): keep the socket; its next connect is refused
                # if the blip lasts, and the next sweep tries again.
                logger.warning("revocation sweep skipped", extra={"error": type(exc).__name__})
                break
        return closed

    async def _revocation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sock.revocation_sweep_seconds)
            try:
                await self.sweep_revoked()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("revocation sweep failed", extra={"error": type(exc).__name__})

    async def _evict(self, sid: str) -> None:
        """Over the per-user socket limit: the oldest socket hears why, then closes."""
        await self.sio.emit("error", {"event": "connection", "message": TOO_MANY_SOCKETS}, to=sid)
        await self.sio.disconnect(sid)

    async def disconnected(self, sid: str) -> None:
        timer = self._expiry.pop(sid, None)
        if timer is not None:
            timer.cancel()
        user = self.users.pop(sid, None)
        if user is None:
            return
        sids = self.sockets_of.get(user.id)
        if sids is not None:
            if sid in sids:
                sids.remove(sid)
            if not sids:
                del self.sockets_of[user.id]
        await self.typing.drop_socket(sid)
        if await self.presence.disconnect(user.id, sid):
            await self._announce(user.id, "user_offline")

    async def _announce(self, user_id: str, event: str) -> None:
        """`user_online`/`user_offline` to the user's conversation partners who are online, only."""
        partners = await self.core.store.partners_of(user_id)
        if not partners:
            return
        online = await self.core.presence.online_among(partners)
        payload = {"userId": user_id, "timestamp": iso(utcnow())}
        await asyncio.gather(*(self.core.notify(p, event, payload) for p in online))

    async def _heartbeat_loop(self, presence: Any) -> None:
        interval = self.sock.presence_heartbeat_seconds
        while True:
            try:
                await presence.heartbeat()
                # Users of a task that died: exactly one surviving task announces each of them.
                for user in await presence.reap():
                    await self._announce(user, "user_offline")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("presence heartbeat failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ delivery
    async def emit_local(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=user_room(user_id))

    async def _notify(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self.core.notify(user_id, event, data)

    async def typing_ended(self, user: Principal, conversation_id: str, other: str) -> None:
        """A sent message ends the sender's typing state in that conversation."""
        if self.typing.is_typing(user.id, conversation_id):
            await self.typing.stop(user.id, conversation_id, other)

    async def name_of(self, user: Principal) -> str | None:
        if user.name:
            return user.name
        profile = await self.core.directory.get_profile(user.id)
        return profile.name if profile else None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception as exc:
            logger.warning("background step failed", extra={"error": type(exc).__name__})

    # ------------------------------------------------------------------ health
    async def health(self) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "service": "Messaging Service",
            "status": "healthy",
            "timestamp": iso(utcnow()),
            "onlineUsers": None,
        }
        try:
            body["onlineUsers"] = await asyncio.wait_for(self.presence.online_count(), 2.0)
        except Exception as exc:
            # Still 200: a Redis blip must not make the ALB replace every task at once.
            body["status"] = "degraded"
            logger.warning("health: presence unavailable", extra={"error": type(exc).__name__})
        return 200, body

    def health_app(self) -> ASGIApp:
        """A tiny ASGI app for `GET /health` (the Fargate image has no FastAPI)."""

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            if scope["path"] != "/health" or scope["method"] not in ("GET", "HEAD"):
                status, body = 404, {"message": "Not found"}
            else:
                status, body = await self.health()
            raw = json.dumps(body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(raw)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": raw})

        return app
