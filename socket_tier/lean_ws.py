"""uvicorn's websocket options for this tier, lighter per idle socket (issue #19).

- The protocol (transport.py's choice, websockets-sansio) with the small queue and event of
  lean_queue.py (what each socket receives; its send pause), instead of asyncio's 3.9 KiB.
- No uvicorn keep-alive ping: Engine.IO already pings every client (PING_INTERVAL_SECONDS) and
  drops a silent one, and that ping also keeps the ALB's idle timer alive; uvicorn's second ping
  cost a timer per socket and a frame each way every 20 s.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .lean_queue import LeanEvent, LeanQueue
from .transport import UVICORN_WS, UVICORN_WS_DEFLATE


class LeanSansIOProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol; only its receive queue and send pause are lean."""

    # Each send writes its frame before it returns, or waits on `writable` first, whose waiters
    # resume in the order they came (LeanEvent): frames go out in the order the sends were
    # called. The Engine.IO socket relies on it to write without its queue (eio_socket.py).
    writes_in_call_order = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Used as put_nowait / get / empty only, which LeanQueue keeps as asyncio.Queue has them.
        self.queue = LeanQueue()  # type: ignore[assignment]
        # Paused sends wait on it (set / clear / wait): the same without a deque.
        self.writable = LeanEvent()  # type: ignore[assignment]
        self.writable.set()


def uvicorn_ws_options() -> dict[str, Any]:
    """The `ws*` keyword arguments of uvicorn.Config for the socket tier."""
    ws: Any = LeanSansIOProtocol if UVICORN_WS == "websockets-sansio" else UVICORN_WS
    return {
        "ws": ws,
        "ws_per_message_deflate": UVICORN_WS_DEFLATE,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
    }
