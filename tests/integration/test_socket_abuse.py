"""Hostile socket clients against one socket-tier server served in this process on loopback (so
the test can read the server's own buffers): binary packets, floods, too many sockets, and
connections that never authenticate. Each test performs the attack."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import engineio
import pytest
import socketio
import uvicorn
from messaging_core.config import Settings
from messaging_core.container import set_core

from socket_tier.app import TOO_MANY_SOCKETS, Realtime
from socket_tier.eio_socket import LeanSocket
from socket_tier.settings import SocketSettings
from socket_tier.transport import BINARY_REFUSED, FLOOD_REFUSED, UVICORN_WS
from tests.e2e.socket_harness import free_port, new_user

pytestmark = pytest.mark.integration

ATTACK_HEADER = '59999999999-["send_message",{"_placeholder":true,"num":0}]'
FRAME = b"\0" * 100_000


class Served:
    def __init__(self, rt: Realtime, url: str) -> None:
        self.rt = rt
        self.url = url


async def _serve(**sock: Any) -> AsyncIterator[Served]:
    rt = Realtime(
        Settings(_env_file=None),  # type: ignore[call-arg]  # development: in-memory store
        SocketSettings(_env_file=None, **sock),  # type: ignore[call-arg]
    )
    port = free_port()
    config = uvicorn.Config(
        rt.asgi(), host="127.0.0.1", port=port, ws=UVICORN_WS, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # bounded: 10 s at most
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the in-process server did not start"
    try:
        yield Served(rt, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        set_core(None)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async for s in _serve(connect_timeout_seconds=0.5, flood_refusal_delay_seconds=0):
        yield s


class Probe:
    """A raw python-socketio client: records `error` events and waits for its disconnect."""

    def __init__(self, user: dict[str, str] | None = None) -> None:
        self.user = user or new_user("doctor")
        self.sio = socketio.AsyncClient(reconnection=False)
        self.errors: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.sio.on("error", self._error)
        self.sio.on("disconnect", self._gone)

    async def _error(self, data: Any) -> None:
        self.errors.append(data)

    async def _gone(self, *_: Any) -> None:
        self.gone.set()

    async def connect(self, url: str) -> Probe:
        await self.sio.connect(
            url, auth={"token": self.user["token"]}, transports=["websocket"], wait_timeout=5
        )
        return self

    async def closed_with(self, reason: str) -> list[str]:
        """Wait for the server to close this socket and for `reason` among its `error` messages
        (the client runs event handlers in tasks: the last may land just after the close)."""
        await asyncio.wait_for(self.gone.wait(), 5)
        await _until(lambda: reason in [e["message"] for e in self.errors], timeout=2.0)
        return [e["message"] for e in self.errors]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def probes(*ps: Probe) -> AsyncIterator[tuple[Probe, ...]]:
    try:
        yield ps
    finally:
        for p in ps:
            await p.close()


async def _until(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait (bounded) for a condition the server reaches on its own."""
    for _ in range(int(timeout / 0.05)):
        if pred():
            return True
        await asyncio.sleep(0.05)
    return pred()


async def test_a_binary_packet_closes_the_socket_and_buffers_nothing(served: Served) -> None:
    sio = served.rt.sio
    async with probes(Probe(), Probe()) as (attacker, bystander):
        await attacker.connect(served.url)
        await bystander.connect(served.url)
        # When the attacker declares 9,999,999,999 attachments and sends 100 kB frames
        await attacker.sio.eio.send(ATTACK_HEADER)
        sent = 0
        for _ in range(200):  # 20 MB if the server kept reading
            if attacker.gone.is_set():
                break
            with contextlib.suppress(Exception):
                await attacker.sio.eio.send(FRAME)
                sent += 1
            # Measure after every frame: nothing may ever be held for the packet
            assert sio.buffered_attachment_bytes() == 0
            await asyncio.sleep(0)
        # Then the socket is closed, with a reason, and nothing was buffered for it
        assert await attacker.closed_with(BINARY_REFUSED) == [BINARY_REFUSED]
        assert sio.refused_binary >= 1
        assert not sio._binary_packet
        assert sio.buffered_attachment_bytes() == 0
        # And the bystander is still served
        ack = await bystander.sio.call("join_conversation", {"conversationId": "6" * 24}, timeout=5)
        assert ack == {"ok": False, "message": "Conversation not found"}


async def test_a_lone_binary_frame_closes_the_socket(served: Served) -> None:
    async with probes(Probe()) as (attacker,):
        await attacker.connect(served.url)
        await attacker.sio.eio.send(FRAME)
        await asyncio.wait_for(attacker.gone.wait(), 5)
        assert served.rt.sio.buffered_attachment_bytes() == 0


async def test_a_packet_flood_closes_that_socket_only() -> None:
    async for served in _serve(inbound_packets_per_second=20):
        # A frozen clock: the one-second window never turns over, whatever this machine's speed.
        served.rt.sio._clock = lambda: 0.0
        async with probes(Probe(), Probe()) as (flooder, calm):
            await flooder.connect(served.url)
            await calm.connect(served.url)
            for _ in range(60):  # bounded; emits without waiting, as a script would
                if flooder.gone.is_set():
                    break
                with contextlib.suppress(Exception):
                    await flooder.sio.emit("typing_stop", {"conversationId": "6" * 24})
                await asyncio.sleep(0)
            assert FLOOD_REFUSED in await flooder.closed_with(FLOOD_REFUSED)
            assert served.rt.sio.refused_flood == 1
            ack = await calm.sio.call("join_conversation", {"conversationId": "6" * 24}, timeout=5)
            assert ack["ok"] is False
            assert calm.sio.connected


async def test_a_byte_flood_closes_that_socket() -> None:
    async for served in _serve(inbound_bytes_per_second=50_000):
        served.rt.sio._clock = lambda: 0.0
        async with probes(Probe()) as (flooder,):
            await flooder.connect(served.url)
            big = {"conversationId": "6" * 24, "content": "x" * 20_000}
            for _ in range(10):
                if flooder.gone.is_set():
                    break
                with contextlib.suppress(Exception):
                    await flooder.sio.emit("send_message", big)
            assert FLOOD_REFUSED in await flooder.closed_with(FLOOD_REFUSED)


async def test_the_eleventh_socket_of_a_user_closes_the_oldest(served: Served) -> None:
    user = new_user("doctor")
    ps = [Probe(user) for _ in range(11)]
    async with probes(*ps):
        for p in ps:
            await p.connect(served.url)
        # The oldest is told why and closed; the ten newest stay
        assert await ps[0].closed_with(TOO_MANY_SOCKETS) == [TOO_MANY_SOCKETS]
        assert all(p.sio.connected for p in ps[1:])
        assert await _until(lambda: len(served.rt.sockets_of[user["id"]]) == 10)
        assert not any(p.errors for p in ps[1:])


async def test_a_connection_that_never_authenticates_is_dropped(served: Served) -> None:
    # Given an Engine.IO connection that never sends its Socket.IO connect
    eio = engineio.AsyncClient()
    gone = asyncio.Event()

    @eio.on("disconnect")  # type: ignore[misc]
    async def _gone(*_: Any) -> None:
        gone.set()

    await eio.connect(served.url, transports=["websocket"], engineio_path="socket.io")
    try:
        # Then the server drops it after CONNECT_TIMEOUT_SECONDS (0.5 s here)
        await asyncio.wait_for(gone.wait(), 10)
        assert served.rt.sio.dropped_unauthenticated == 1
        assert not served.rt.sio.environ
    finally:
        with contextlib.suppress(Exception):
            await eio.disconnect()


async def test_a_refused_token_does_not_keep_its_connection_open(served: Served) -> None:
    # Given a raw client whose Socket.IO connect is refused, and which keeps the connection open
    eio = engineio.AsyncClient()
    got: list[str] = []
    gone = asyncio.Event()

    @eio.on("message")  # type: ignore[misc]
    async def _message(data: Any) -> None:
        got.append(str(data))

    @eio.on("disconnect")  # type: ignore[misc]
    async def _gone(*_: Any) -> None:
        gone.set()

    await eio.connect(served.url, transports=["websocket"], engineio_path="socket.io")
    try:
        await eio.send('0{"token":"nope"}')
        # Then it hears CONNECT_ERROR (type 4), and the server drops the connection anyway
        await asyncio.wait_for(gone.wait(), 10)
        assert any(m.startswith("4") for m in got)
        assert served.rt.sio.dropped_unauthenticated == 1
    finally:
        with contextlib.suppress(Exception):
            await eio.disconnect()


async def test_an_authenticated_socket_is_not_dropped_by_the_connect_timer(served: Served) -> None:
    async with probes(Probe()) as (p,):
        await p.connect(served.url)
        # Wait for the socket's connect timer to fire (it removes itself when it does)
        assert await _until(lambda: not served.rt.sio._connect_timers)
        assert served.rt.sio.dropped_unauthenticated == 0
        assert p.sio.connected
        assert not p.gone.is_set()
        # Its Engine.IO socket reads without a task per packet (socket_tier/eio_socket.py).
        assert [type(s) for s in served.rt.sio.eio.sockets.values()] == [LeanSocket]


async def test_a_client_that_ignores_close_is_cut_off_by_the_server(served: Served) -> None:
    # Given a raw websocket client that ignores the server's CLOSE and keeps sending frames
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    user = new_user("doctor")
    url = served.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with connect(url, max_size=None) as ws:
        assert str(await ws.recv()).startswith("0")  # Engine.IO open
        await ws.send("40" + json.dumps({"token": user["token"]}))
        assert str(await ws.recv()).startswith("40")  # Socket.IO connected
        await ws.send(ATTACK_HEADER)
        # When it keeps sending 100 kB frames, whatever the server says
        closed = False
        for _ in range(200):  # bounded: 20 MB at most
            try:
                await ws.send(FRAME)
                await asyncio.sleep(0.01)
            except ConnectionClosed:
                closed = True
                break
        # Then the server closed the websocket itself, and held nothing for the packet
        assert closed or ws.close_code is not None
        assert served.rt.sio.buffered_attachment_bytes() == 0
        assert served.rt.sio.refused_binary == 1
