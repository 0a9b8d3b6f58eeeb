"""The realtime tier's process: one `Realtime` assembles the server, the connections it holds,
its lifecycle and its health page (each in its own module).

With REDIS_URL: presence, rate limits and the cross-task fan-out live in Redis (any number of
tasks; any task may die). Without it (`make run`): in-process presence and delivery, one process.
The wiring of either lives in the composition root (`messaging_core.container`).
"""

from __future__ import annotations

from typing import Any

import socketio
from messaging_core.care_teams import typing_members
from messaging_core.config import Settings, get_settings
from messaging_core.core import Core
from messaging_core.models import Principal
from messaging_core.ports import ConnectionPresence

from .connections import SESSION_EXPIRED, TOO_MANY_SOCKETS, Connections, user_room
from .eio_request import install as install_eio_request
from .health import ASGIApp, health_app
from .lean_queue import LeanQueue
from .lifecycle import Lifecycle
from .namespace import MessagingNamespace
from .quiet_websocket import install as install_quiet_websocket
from .settings import SocketSettings, get_socket_settings
from .sio_server import build_server
from .tasks import BackgroundTasks
from .typing_relay import TypingRelay

__all__ = ["SESSION_EXPIRED", "TOO_MANY_SOCKETS", "Realtime", "user_room"]


class Realtime:
    """Everything one socket process holds; the namespace sees it as a `SocketContext`."""

    def __init__(
        self, settings: Settings | None = None, sock: SocketSettings | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.sock = sock or get_socket_settings()
        self.sio = build_server(self.settings, self.sock)
        # Issue #19 (memory per idle socket): each Engine.IO session's queue, 3 KiB -> ~0.2.
        self.sio.eio.create_queue = LeanQueue
        # Issue #11 (p99 under a flood): a closed websocket leaves no traceback cycle behind.
        install_quiet_websocket(self.sio.eio)
        # Issue #19 (connects per second): no class built per HTTP request or handshake.
        install_eio_request(self.sio.eio)
        self.tasks = BackgroundTasks()
        self.typing = TypingRelay(
            self._notify, self.sock.typing_timeout_seconds, self.sock.typing_throttle_seconds
        )
        self.lifecycle = Lifecycle(
            self.settings,
            self.sock,
            local_emit=self.emit_local,
            tasks=self.tasks,
            typing=self.typing,
            sweep_revoked=self.sweep_revoked,
            on_close=self._close_asked,
        )
        self.connections = Connections(self.sio, self.sock, self.lifecycle, self.typing, self.tasks)
        self.sio.register_namespace(MessagingNamespace(self))

    @property
    def core(self) -> Core:
        return self.lifecycle.core

    @property
    def presence(self) -> ConnectionPresence:
        return self.lifecycle.presence

    @property
    def users(self) -> dict[str, Principal]:
        return self.connections.users

    @property
    def sockets_of(self) -> dict[str, list[str]]:
        return self.connections.sockets_of

    async def start(self) -> None:
        await self.lifecycle.start()
        runtime = self.lifecycle.runtime
        if runtime.cluster is not None and runtime.client is not None:
            self.connections.share_cap(runtime.cluster, runtime.client)

    async def _close_asked(self, user_id: str, sid: str) -> None:
        await self.connections.close_asked(user_id, sid)

    async def stop(self) -> None:
        await self.lifecycle.stop()

    def asgi(self, other_asgi_app: ASGIApp | None = None) -> socketio.ASGIApp:
        return socketio.ASGIApp(
            self.sio, other_asgi_app=other_asgi_app, on_startup=self.start, on_shutdown=self.stop
        )

    def health_app(self) -> ASGIApp:
        return health_app(lambda: self.core)

    # The SocketContext of the namespace.
    def user_of(self, sid: str) -> Principal:
        return self.connections.user_of(sid)

    async def connected(self, sid: str, user: Principal) -> None:
        await self.connections.connected(sid, user)

    async def disconnected(self, sid: str) -> None:
        await self.connections.disconnected(sid)

    async def sweep_revoked(self) -> int:
        return await self.connections.sweep_revoked()

    async def emit_local(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        """Delivery to a user's sockets on this task (the fan-out's last hop)."""
        await self.sio.emit(event, data, room=user_room(user_id))

    async def _notify(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        members = typing_members(user_id)  # a care team's typing target (#18)
        if members is not None:
            await self.core.notify_many(members, event, data)
            return
        await self.core.notify(user_id, event, data)
