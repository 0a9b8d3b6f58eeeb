"""Leaner Socket.IO plumbing for a JSON-only server: packets and the room manager.

Both keep python-socketio's wire format; they only skip work this server never needs. Measured
with `bench/socket_bench.py --targets full` (server CPU per delivered message, bench/README.md).
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

# uvicorn's websocket options for this tier. permessage-deflate is off: browsers offer it on
# every connection and uvicorn then compresses every frame, while chat frames are a few hundred
# bytes; it cost 60 µs of server CPU per delivered message on the bare relay and four times
# that in the client (bench/README.md). socket.io's own server has shipped with it off since
# engine.io 4 for the same reason.
UVICORN_WS = "websockets-sansio"
UVICORN_WS_DEFLATE = False


class JsonPacket(sio_packet.Packet):  # type: ignore[misc]
    """Never looks for binary attachments in what we emit: every payload here is JSON.

    The stock packet walks each payload recursively, on every emit, to find `bytes`. A `bytes`
    value would now fail to encode, loudly, instead of travelling as an attachment. Incoming
    binary packets still decode as before.
    """

    uses_binary_events = False


class DirectManager(socketio.AsyncManager):  # type: ignore[misc]
    """Room emits without a task per recipient.

    The stock manager wraps each recipient's send in its own task and waits for them all, though
    a send only queues the packet for that socket's writer task. Here the common case (no ack
    callback, no skipped socket, one dict payload) encodes once and queues inline; anything else
    goes the stock way.
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        stock = callback is not None or skip_sid is not None or not isinstance(data, dict)
        if stock or namespace not in self.rooms:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to,
                **kwargs,
            )  # fmt: skip
            return
        participants = list(self.get_participants(namespace, to or room))
        if not participants:
            return
        pkt = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data])
        encoded = eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())
        for _sid, eio_sid in participants:
            try:
                await self.server._send_eio_packet(eio_sid, encoded)
            except Exception as exc:  # one closing socket must not starve the others
                logger.warning("emit to one socket failed", extra={"error": type(exc).__name__})
