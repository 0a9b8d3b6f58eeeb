"""The Engine.IO socket's websocket reader (socket_tier/eio_socket.py): no task per packet, and
the same ends of a connection as python-engineio's reader."""

import asyncio
from typing import Any

import engineio
import pytest
from engineio import packet

from socket_tier.eio_socket import LeanSocket


class FakeWebSocket:
    """What the reader awaits: frames from a list, then silence (or the client's close)."""

    def __init__(self, frames: list[str | None], then_silent: bool = False) -> None:
        self.frames = list(frames)
        self.then_silent = then_silent
        self.sent: list[str] = []
        self.closed = False

    async def wait(self) -> str | None:
        if self.frames:
            await asyncio.sleep(0)  # a frame arrives on a later loop turn, as from a socket
            return self.frames.pop(0)
        if self.then_silent:
            await asyncio.sleep(3600)
        return None

    async def send(self, data: str) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


def message(text: str) -> str:
    return str(packet.Packet(packet.MESSAGE, data=text).encode())


@pytest.fixture
def server() -> tuple[Any, list[str]]:
    eio = engineio.AsyncServer(async_mode="asgi", ping_interval=0.2, ping_timeout=0.1)
    eio.async_handlers = False  # as python-socketio sets it: messages handled in the reader
    got: list[str] = []

    @eio.on("message")
    async def on_message(_sid: str, data: str) -> None:
        got.append(data)

    return eio, got


async def run(eio: Any, ws: FakeWebSocket) -> tuple[LeanSocket, int]:
    """The socket's whole websocket life; returns it and the tasks created meanwhile."""
    sock = LeanSocket(eio, "sid-1")
    eio.sockets["sid-1"] = sock
    loop = asyncio.get_running_loop()
    created = 0
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        nonlocal created
        created += 1
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        await asyncio.wait_for(sock._websocket_handler(ws), 5)
    finally:
        loop.set_task_factory(default)
    return sock, created


async def test_packets_are_read_in_order_without_a_task_each(server: Any) -> None:
    eio, got = server
    ws = FakeWebSocket([message(f"m{i}") for i in range(200)])
    sock, created = await run(eio, ws)
    assert got == [f"m{i}" for i in range(200)]
    # The writer is the one task of the connection (python-engineio's reader made 201 here).
    assert created == 1
    assert sock.closed
    assert ws.closed


async def test_a_silent_client_is_dropped_after_a_ping_round(server: Any) -> None:
    eio, got = server
    ws = FakeWebSocket([message("hello")], then_silent=True)
    # The client stays silent for an hour: the ping deadline (0.3 s here) ends it, or the run's
    # own bound fails the test.
    sock, _ = await run(eio, ws)
    assert got == ["hello"]
    assert sock.closed
    assert ws.closed


async def test_a_packet_over_the_size_limit_ends_the_connection_unread(server: Any) -> None:
    eio, got = server
    eio.max_http_buffer_size = 100
    ws = FakeWebSocket([message("small"), message("x" * 200), message("after")])
    sock, _ = await run(eio, ws)
    assert got == ["small"]
    assert sock.closed
    assert ws.closed
    assert ws.frames == [message("after")]  # nothing read past the oversized packet


async def test_what_the_server_queues_is_written_then_the_socket_closes(server: Any) -> None:
    eio, _got = server
    ws = FakeWebSocket([message("ping-me")])

    @eio.on("message")
    async def reply(sid: str, data: str) -> None:
        await eio.send(sid, "pong:" + data)

    await run(eio, ws)
    assert message("pong:ping-me") in ws.sent
