"""engine.io's ASGI websocket, ending a closed connection's read loop without an exception.

The stock wrapper raises `OSError` when the client has gone (`websocket.disconnect`); engine.io's
reader catches it and stops. Raised under `asyncio.wait_for`, that exception's traceback holds
the reader's frames, which hold it back: a cycle only the cyclic collector frees. Every closed
websocket left a few hundred such objects, and a flooder's refused reconnects (~20 a second)
brought the collector's pauses forward into other users' p99 (issue #11, bench/RESULTS-abuse.md).
engine.io's reader already ends on `None` ("connection closed by client"): we return that.
"""

from __future__ import annotations

from typing import Any

from engineio.async_drivers import asgi


class QuietWebSocket(asgi.WebSocket):  # type: ignore[misc]
    """`wait()` returns None once the client is gone, instead of raising OSError."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        # An upgrade from long-polling reads the probe and the upgrade packets first, in code
        # that expects OSError on a close (it does not handle None): those two reads keep it.
        socket = getattr(handler, "__self__", None)
        self._stock_reads = 2 if getattr(socket, "connected", False) else 0

    async def wait(self) -> Any:
        if self._stock_reads:
            self._stock_reads -= 1
            return await super().wait()
        event = await self.asgi_receive()
        if event["type"] != "websocket.receive":
            return None
        data = event.get("bytes")
        return data if data is not None else event.get("text")


def install(eio_server: Any) -> None:
    """This server builds its websockets with QuietWebSocket (the driver table is shared by
    every engine.io server of the process: this server gets its own copy)."""
    eio_server._async = {**eio_server._async, "websocket": QuietWebSocket}
