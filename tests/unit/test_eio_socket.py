"""The Engine.IO socket's websocket reader (socket_tier/eio_socket.py): no task per packet, and
the same ends of a connection as python-engineio's reader."""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import engineio
import pytest
from engineio import packet
from websockets.protocol import State
from websockets.server import ServerProtocol

from socket_tier.eio_socket import LeanSocket, writes_in_call_order
from socket_tier.lean_queue import LeanEvent
from socket_tier.lean_ws import LeanSansIOProtocol


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


@contextlib.contextmanager
def tasks_created() -> Iterator[list[str]]:
    """The tasks the running loop creates meanwhile, by coroutine name."""
    loop = asyncio.get_running_loop()
    created: list[str] = []
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        created.append(coro.__qualname__)
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        yield created
    finally:
        loop.set_task_factory(default)


async def run(eio: Any, ws: FakeWebSocket) -> tuple[LeanSocket, int]:
    """The socket's whole websocket life; returns it and the tasks created meanwhile."""
    sock = LeanSocket(eio, "sid-1")
    eio.sockets["sid-1"] = sock
    with tasks_created() as created:
        await asyncio.wait_for(sock._websocket_handler(ws), 5)
    return sock, len(created)


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


class OrderedProtocol:
    """Stands for lean_ws.LeanSansIOProtocol: frames are written in the order sends are called."""

    writes_in_call_order = True

    async def send(self, message: dict[str, Any]) -> None:  # python-engineio's asgi_send
        raise AssertionError("not used by the fake websocket")


class OrderedWebSocket(FakeWebSocket):
    def __init__(self, frames: list[str | None]) -> None:
        super().__init__(frames)
        self.asgi_send = OrderedProtocol().send


async def test_on_an_ordered_websocket_a_reply_is_written_by_its_sender(server: Any) -> None:
    eio, _got = server
    ws = OrderedWebSocket([message("a"), message("b")])
    queued: list[Any] = []

    @eio.on("message")
    async def reply(sid: str, data: str) -> None:
        sock = eio.sockets[sid]
        if not queued:  # the first message: watch the queue from now on
            put = sock.queue.put

            async def counting_put(item: Any) -> None:
                queued.append(item)
                await put(item)

            queued.append("watching")
            sock.queue.put = counting_put
        await eio.send(sid, "re:" + data)

    await run(eio, ws)
    assert ws.sent == [message("re:a"), message("re:b")]
    # Only the reader's end-of-connection mark went through the queue.
    assert queued == ["watching", None]


async def test_a_send_behind_queued_packets_waits_its_turn(server: Any) -> None:
    eio, _got = server
    ws = OrderedWebSocket([message("go")])

    @eio.on("message")
    async def reply(sid: str, _data: str) -> None:
        sock = eio.sockets[sid]
        # A packet already queued (as python-engineio's own code queues some) is ahead:
        await sock.queue.put(packet.Packet(packet.MESSAGE, data="first"))
        await eio.send(sid, "second")

    await run(eio, ws)
    assert ws.sent == [message("first"), message("second")]


def test_the_servers_websocket_protocol_declares_its_order() -> None:

    class Wrapped:
        asgi_send = LeanSansIOProtocol.send.__get__(object.__new__(LeanSansIOProtocol))

    assert writes_in_call_order(Wrapped())
    assert not writes_in_call_order(FakeWebSocket([]))


class RecordingTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


async def test_the_servers_websocket_writes_paused_sends_in_call_order() -> None:
    """What `writes_in_call_order` promises: sends that wait for a full transport to drain go
    out in the order they were called, behind nothing and ahead of nothing."""

    proto = object.__new__(LeanSansIOProtocol)  # only what `send` reads, on an open connection
    proto.writable = LeanEvent()  # type: ignore[assignment]  # cleared: the transport is full
    proto.disconnected = False
    proto.handshake_complete = True
    proto.initial_response = None
    proto.close_sent = False
    proto.conn = ServerProtocol()
    proto.conn.state = State.OPEN
    transport = RecordingTransport()
    proto.transport = transport  # type: ignore[assignment]

    waiting = [
        asyncio.create_task(proto.send({"type": "websocket.send", "text": str(i)}))
        for i in range(5)
    ]
    await asyncio.sleep(0)
    assert transport.written == []  # all five wait for the drain
    proto.writable.set()
    await asyncio.gather(*waiting)
    await proto.send({"type": "websocket.send", "text": "5"})  # not paused: written at once
    # Server frames are unmasked: opcode byte, length byte, then the text.
    assert [frame[2:].decode() for frame in transport.written] == [str(i) for i in range(6)]


async def test_a_failed_receive_is_logged_without_what_the_client_sent(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    eio, _got = server
    ws = FakeWebSocket([message("first"), message("second")])

    async def failing(_sock: LeanSocket, pkt: packet.Packet) -> None:
        raise ValueError(f"could not handle {pkt.data}")  # carries the client's text

    monkeypatch.setattr(LeanSocket, "receive", failing)
    with caplog.at_level("ERROR", logger="socket_tier.eio_socket"):
        await run(eio, ws)
    failures = [r for r in caplog.records if r.name == "socket_tier.eio_socket"]
    assert [r.getMessage() for r in failures] == ["engine.io receive failed"] * 2
    assert [getattr(r, "error", None) for r in failures] == ["ValueError"] * 2
    assert all(r.exc_info is None for r in failures)
    assert "first" not in caplog.text
    assert "second" not in caplog.text


async def test_pings_wait_on_a_timer_not_a_sleeping_task(server: Any) -> None:
    eio, _got = server
    eio.ping_interval = 0.05
    sock = LeanSocket(eio, "sid-ping")
    eio.sockets["sid-ping"] = sock
    with tasks_created() as created:
        sock.schedule_ping()  # as python-engineio does once the connection is open
        await asyncio.sleep(0.01)
        assert created == []  # waiting costs no task (python-engineio's: one per socket)
        assert sock.last_ping is None
        await asyncio.sleep(0.1)
        assert sock.queue.get_nowait().packet_type == packet.PING  # sent after the interval
        assert sock.last_ping is not None
        assert len(created) == 1  # the send itself
        # The client's PONG starts the next wait; a closed socket sends no more.
        await sock.receive(packet.Packet(packet.PONG))
        assert sock.last_ping is None
        sock.closed = True
        await asyncio.sleep(0.1)
        assert sock.queue.empty()
