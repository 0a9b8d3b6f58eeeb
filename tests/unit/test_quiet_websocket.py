"""Issue #11: a closed websocket ends engine.io's reader without leaving cyclic garbage."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

import engineio
import pytest
from engineio.async_drivers import asgi
from engineio.async_socket import AsyncSocket

from socket_tier.quiet_websocket import QuietWebSocket, install


def _websocket(kind: type[Any], *, upgrade: bool, events: list[dict[str, Any]]) -> Any:
    owner = SimpleNamespace(connected=upgrade)
    handler = SimpleNamespace(__self__=owner)
    ws = kind(handler, None)
    pending = list(events)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    ws.asgi_receive = receive
    return ws


MESSAGES = [
    {"type": "websocket.receive", "text": "4hello"},
    {"type": "websocket.receive", "text": "4again"},
    {"type": "websocket.disconnect", "code": 1000},
]


async def test_a_closed_connection_reads_as_none_after_its_messages() -> None:
    ws = _websocket(QuietWebSocket, upgrade=False, events=list(MESSAGES))
    assert await ws.wait() == "4hello"
    assert await ws.wait() == "4again"
    assert await ws.wait() is None


async def test_an_upgrades_probe_reads_still_raise_on_close() -> None:
    events = [{"type": "websocket.disconnect"}, {"type": "websocket.disconnect"}]
    ws = _websocket(QuietWebSocket, upgrade=True, events=events)
    for _ in range(2):  # engine.io's upgrade code catches OSError, not None
        with pytest.raises(OSError):  # noqa: PT011 (engine.io raises a bare OSError())
            await ws.wait()


async def test_the_stock_close_leaves_a_cycle_and_ours_none() -> None:
    """engine.io's own reader (AsyncSocket._websocket_handler) on one websocket session."""
    server = engineio.AsyncServer(async_mode="asgi")
    received: list[str] = []

    async def on_message(_sid: str, data: str) -> None:
        received.append(data)

    server.on("message", on_message)

    async def garbage_after(kind: type[Any]) -> int:
        socket = AsyncSocket(server, "sid-" + kind.__name__)
        server.sockets[socket.sid] = socket
        ws = kind(socket._websocket_handler, server)
        pending = list(MESSAGES)

        async def receive() -> dict[str, Any]:
            return pending.pop(0)

        async def send(_: dict[str, Any]) -> None:
            return None

        ws.asgi_receive, ws.asgi_send = receive, send
        gc.collect()
        await socket._websocket_handler(ws)
        await asyncio.sleep(0.05)  # the message handlers' tasks
        server.sockets.pop(socket.sid, None)
        del socket, ws
        return gc.collect()

    gc.disable()
    try:
        stock_cycles = await garbage_after(asgi.WebSocket)
        quiet_cycles = await garbage_after(QuietWebSocket)
    finally:
        gc.enable()
    assert received == ["hello", "again"] * 2
    assert stock_cycles > 0, "the stock wrapper's OSError is what this guards against"
    assert quiet_cycles < stock_cycles / 2, (quiet_cycles, stock_cycles)


def test_install_swaps_this_servers_websocket_only() -> None:
    server = SimpleNamespace(_async=asgi._async)
    install(server)
    assert server._async["websocket"] is QuietWebSocket
    assert asgi._async["websocket"] is asgi.WebSocket
