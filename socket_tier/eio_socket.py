"""The Engine.IO socket of this tier: python-engineio's, with a websocket reader that makes no
task per packet.

python-engineio reads each websocket packet in a task of its own (`ensure_future`, then
`wait_for` with the ping deadline); that task is created, scheduled and collected for every
packet a client sends. Here the read is awaited in place under `asyncio.timeout`, with the same
deadline, the same size limit and the same end of the connection. The upgrade from long-polling
(the official client's default first transport) keeps python-engineio's own handler: it is
taken once per connection, and its packets after the upgrade are few.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engineio import async_socket, exceptions, packet

logger = logging.getLogger(__name__)


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose websocket reader awaits each packet in place."""

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # type: ignore[has-type]  # an upgrade from long-polling
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        writer = asyncio.ensure_future(self._write_to(ws))  # one task for the connection
        await self._read_from(ws)
        await self.queue.put(None)  # ends the writer
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

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
            except Exception:
                logger.exception("engine.io receive failed")

    async def _write_to(self, ws: Any) -> None:
        while True:  # ends when the queue says so (closed) or the client is gone
            try:
                packets = await self.poll()
            except exceptions.QueueEmpty:
                break
            if not packets:
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()
