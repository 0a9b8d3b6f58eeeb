"""The Engine.IO socket of this tier: python-engineio's, with a websocket reader that makes no
task per packet, and sends written at once when nothing waits before them.

- python-engineio reads each websocket packet in a task of its own (`ensure_future`, then
  `wait_for` with the ping deadline); that task is created, scheduled and collected for every
  packet a client sends. Here the read is awaited in place under `asyncio.timeout`, with the
  same deadline, the same size limit and the same end of the connection.
- python-engineio queues every outgoing packet for a writer task, which wakes once per packet.
  Here a packet is written by the sender itself when the queue is empty and the writer idle, on
  a websocket that writes frames in the order its sends are called (`writes_in_call_order`,
  lean_ws.py); otherwise it is queued behind the others, as before.

The upgrade from long-polling (the official client's default first transport) keeps
python-engineio's own handler and queue: it is taken once per connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from engineio import async_socket, exceptions, packet

logger = logging.getLogger(__name__)


def writes_in_call_order(ws: Any) -> bool:
    """True if `ws` (python-engineio's ASGI websocket) writes each frame in the order its sends
    are called, even when some wait for the transport to drain (lean_ws.py)."""
    protocol = getattr(getattr(ws, "asgi_send", None), "__self__", None)
    return bool(getattr(protocol, "writes_in_call_order", False))


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose websocket reader awaits each packet in place, and whose sends
    are written at once when nothing is queued before them."""

    _direct: Any = None  # the websocket this socket writes to itself, once reading it
    _writing = False  # the writer holds a packet it took from the queue
    _ping_timer: asyncio.TimerHandle | None = None
    _ping_send: asyncio.Future[Any] | None = None  # held: a task nobody references may vanish
    last_ping: float | None  # python-engineio's: when the last PING left (None while waiting)

    def schedule_ping(self) -> None:
        # python-engineio starts a task that sleeps through the ping interval, for every socket
        # and every ping: a loop timer waits as well, and a task is made only to send the PING.
        if self.last_ping:
            self.last_ping = None
            loop = asyncio.get_running_loop()
            self._ping_timer = loop.call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        self._ping_timer = None
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self._ping_send = asyncio.ensure_future(self.send(packet.Packet(packet.PING)))

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # type: ignore[has-type]  # an upgrade from long-polling
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        writer = asyncio.ensure_future(self._write_to(ws))  # one task for the connection
        if writes_in_call_order(ws):
            self._direct = ws
        try:
            await self._read_from(ws)
        finally:
            self._direct = None
        await self.queue.put(None)  # ends the writer
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def send(self, pkt: packet.Packet) -> None:
        ws = self._direct
        if ws is None or self._writing or not self.queue.empty():
            await super().send(pkt)  # queued, behind what is already on its way
            return
        if not await self.check_ping_timeout():
            return
        try:
            await ws.send(pkt.encode())
        except Exception:
            # The client is gone: its reader sees the end and closes the socket, as it does
            # when the writer's send fails.
            return

    async def _read_from(self, ws: Any) -> None:
        # A client silent past a ping round is gone, as in python-engineio.
        idle = self.server.ping_interval + self.server.ping_timeout
        largest = self.server.max_http_buffer_size
        while True:  # ends with the connection: a close, a silence, an error
            try:
                async with asyncio.timeout(idle):
                    data = await ws.wait()
            except (Exception, asyncio.CancelledError):
                # Cancelled too: the connection ends here either way, and the writer and the
                # close below must still run (python-engineio's reader does the same).
                return
            if data is None or len(data) > largest:  # closed by the client, or too large
                return
            try:
                await self.receive(packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                continue
            except exceptions.SocketIsClosedError:
                return
            except Exception as exc:
                # The type only: an exception's text may carry what the client sent.
                logger.error("engine.io receive failed", extra={"error": type(exc).__name__})

    async def _write_to(self, ws: Any) -> None:
        # No deadline on the wait, unlike python-engineio's `poll`: with sends written at once
        # (pings too) the queue can stay empty on a live connection; the reader's deadline is
        # what ends a silent one.
        while True:  # ends with the reader's None, or when the client is gone
            pkt = await self.queue.get()
            self._writing = True  # from the queue to the wire: later sends queue behind it
            self.queue.task_done()
            try:
                if pkt is None:
                    break
                await ws.send(pkt.encode())
            except Exception:
                break
            finally:
                self._writing = False
        await ws.close()
