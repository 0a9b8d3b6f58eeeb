"""The ASGI server under the socket tier, chosen by SOCKET_SERVER: uvicorn (default) or granian.

granian (Rust HTTP/websocket server) delivered about twice the messages per second of uvicorn
for the same python-socketio relay (issue #19, bench/RESULTS-connections.md). It has no
permessage-deflate (chat frames are a few hundred bytes: compression cost CPU, see
transport.py), and on stop it cuts open websockets without a close handshake, so this module
drains first: new sessions and the ALB health check get 503 while every open Engine.IO session
is closed from our side (clients see a transport close and reconnect, through the ALB, to
another task); then granian stops and the lifespan shutdown cleans presence as under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, Literal

import socketio
import uvicorn

from .health import ASGIApp
from .transport import GuardedServer

logger = logging.getLogger(__name__)

ServerKind = Literal["granian", "uvicorn"]
DRAINING = "This task is shutting down: reconnect"
# How long `make run` waits for the port to answer before it gives up announcing (bounded).
READY_POLLS = 1200
READY_POLL_SECONDS = 0.05
# After the drain, how long the lifespan shutdown may take before the process exits anyway.
STOP_SLACK_SECONDS = 15.0


def _is_new_session(scope: dict[str, Any]) -> bool:
    """An Engine.IO handshake (no `sid` yet) or the health check; open sessions keep going."""
    path = str(scope.get("path", ""))
    if path == "/health":
        return True
    if path.startswith("/socket.io"):
        return b"sid=" not in bytes(scope.get("query_string", b""))
    return False


class DrainGate:
    """ASGI middleware: once `closing`, refuses new sessions and fails the health check (503),
    so the load balancer takes the task out and clients retry on another one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.closing = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.closing and scope["type"] in ("http", "websocket") and _is_new_session(scope):
            if scope["type"] == "websocket":
                # Before `accept`: the server answers the upgrade with an HTTP refusal.
                await send({"type": "websocket.close", "code": 1012})
                return
            body = json.dumps({"message": DRAINING}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"1"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def drain(sio: socketio.AsyncServer, gate: DrainGate, grace_seconds: float) -> int:
    """Closes every open Engine.IO session (bounded by the grace); returns how many there were.

    The CLOSE packet goes out on each session (a long-poll answers it at once, a websocket
    writes it then closes): the official client then reconnects, as after uvicorn's 1012. Each
    session's disconnect handler runs as usual (presence, typing)."""
    gate.closing = True
    if isinstance(sio, GuardedServer):
        sio.draining = True  # these users' partners hear `user_offline` only if they stay away
    eio = sio.eio
    sids = list(eio.sockets)
    if not sids:
        return 0

    async def close(sid: str) -> None:
        session = eio.sockets.get(sid)
        with contextlib.suppress(Exception):  # one broken session must not stop the others
            await eio.disconnect(sid)
        if session is not None:
            # A None ends the session's writer, which closes the websocket without waiting for
            # the client to answer the CLOSE (as GuardedServer._close_transport does).
            session.queue.put_nowait(None)

    tasks = [asyncio.create_task(close(sid)) for sid in sids]
    _done, pending = await asyncio.wait(tasks, timeout=max(grace_seconds, 0.1))
    for task in pending:
        task.cancel()
    logger.info("socket task drained", extra={"sessions": len(sids), "late": len(pending)})
    return len(sids)


async def wait_listening(port: int, started: Callable[[], bool]) -> bool:
    """True once the lifespan start has run and the port accepts a TCP connection (bounded)."""
    loop = asyncio.get_running_loop()
    for _ in range(READY_POLLS):
        if started():
            with socket.socket() as probe:
                probe.setblocking(False)
                try:
                    await loop.sock_connect(probe, ("127.0.0.1", port))
                    return True
                except OSError:
                    pass
        await asyncio.sleep(READY_POLL_SECONDS)
    return False


async def serve_granian(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    sio: socketio.AsyncServer,
    grace_seconds: float,
    proxy_headers: bool = False,
    on_ready: Callable[[], Awaitable[None]] | None = None,
    started: Callable[[], bool] = lambda: True,
) -> None:
    """Serves `app` on granian in this event loop; SIGTERM/SIGINT drain, then stop."""
    from granian.constants import Interfaces
    from granian.server.embed import Server

    gate = DrainGate(app)
    target: Any = gate
    if proxy_headers:  # behind the ALB: the client's address from X-Forwarded-For
        from granian.utils.proxies import wrap_asgi_with_proxy_headers

        target = wrap_asgi_with_proxy_headers(gate, trusted_hosts="*")
    # granian's own logger says "Embedded server is experimental!" at every start: the embedded
    # mode is what lets the drain, the lifespan and `make run`'s local S3 share one process.
    logging.getLogger("_granian").setLevel(logging.ERROR)
    logging.getLogger("granian").setLevel(logging.ERROR)
    server = Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        websockets=True,
        log_enabled=False,
        backlog=2048,  # a reconnect storm arrives at once (bench/connections.py)
    )
    stopping: set[asyncio.Task[None]] = set()

    async def shut_down() -> None:
        try:
            await drain(sio, gate, grace_seconds)
        finally:
            server.stop()  # type: ignore[no-untyped-call]
            # The lifespan shutdown has no bound of its own (nor has granian's wait for it): a
            # stuck one (a database that stopped answering) must not keep the task past ECS's
            # stop timeout holding its presence entries, which the TTL then expires.
            asyncio.get_running_loop().call_later(grace_seconds + STOP_SLACK_SECONDS, stuck)

    def stuck() -> None:
        logger.error("socket task did not stop in time: exiting")
        exit_after_granian(1)

    def on_signal() -> None:
        if stopping:
            server.stop()  # type: ignore[no-untyped-call]  # a second signal: stop now
            return
        task = asyncio.get_running_loop().create_task(shut_down())
        stopping.add(task)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    announcer = None
    if on_ready is not None:

        async def announce() -> None:
            if await wait_listening(port, started):
                await on_ready()

        announcer = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        if announcer is not None:
            announcer.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


class DrainingUvicorn(uvicorn.Server):
    """uvicorn, with the same drain before its own shutdown: uvicorn closes websockets (1012) but
    waits out long-polls until its graceful timeout, so a polling client would hear nothing."""

    def __init__(self, config: uvicorn.Config, sio: socketio.AsyncServer, gate: DrainGate) -> None:
        super().__init__(config)
        self._sio = sio
        self._gate = gate
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is not None or self.should_exit:
            super().handle_exit(sig, frame)  # a second signal: uvicorn's own (forced) exit
            return

        async def drain_then_exit() -> None:
            try:
                await drain(self._sio, self._gate, self.config.timeout_graceful_shutdown or 5)
            finally:
                super(DrainingUvicorn, self).handle_exit(sig, frame)

        self._draining = asyncio.get_running_loop().create_task(drain_then_exit())


def uvicorn_server(app: ASGIApp, *, sio: socketio.AsyncServer, **config: Any) -> DrainingUvicorn:
    """A uvicorn server for `app` whose SIGTERM drains first (config: uvicorn.Config's)."""
    gate = DrainGate(app)
    return DrainingUvicorn(uvicorn.Config(gate, **config), sio, gate)


def exit_after_granian(code: int = 0) -> None:
    """Ends the process once granian's serve() has returned (lifespan shutdown done).

    granian's Rust threads outlive serve() while a kept-alive HTTP connection stays open (a load
    balancer's, a health checker's), and the process would linger past ECS's stop timeout; all
    that had to run on the way out (drain, presence clean-up, producer flush) has run."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
