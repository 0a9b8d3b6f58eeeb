"""Leaner Socket.IO plumbing for a JSON-only server: packets and the room manager.

Both keep python-socketio's wire format; they only skip work this server never needs. Measured
with `bench/socket_bench.py --targets full` (server CPU per delivered message, bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import socketio
from engineio import async_socket as eio_async_socket
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from .cooldown import COOLING_DOWN, Cooldown, presented_token, token_key, user_key
from .eio_socket import LeanSocket

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


class _SidSet(dict[str, None]):
    """The sids python-socketio keeps in a list while they connect or disconnect, with the
    list's `append`, `remove`, `in`, `len` and order, each in constant time."""

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        try:
            del self[sid]
        except KeyError:
            raise ValueError(f"{sid!r} is not pending") from None  # as list.remove


class _PendingSids(dict[str, _SidSet]):
    """namespace -> its pending sids: the list python-socketio stores becomes a _SidSet."""

    def __setitem__(self, namespace: str, sids: Iterable[str]) -> None:
        super().__setitem__(namespace, _SidSet((sid, None) for sid in sids))


class DirectManager(socketio.AsyncManager):  # type: ignore[misc]
    """Room emits without a task per recipient, and a socket's rooms known without a search.

    The stock manager wraps each recipient's send in its own task and waits for them all, though
    a send only queues the packet for that socket's writer task. Here the common case (no ack
    callback, no skipped socket, one dict payload) encodes once and queues inline; anything else
    goes the stock way.

    The stock manager also finds the rooms of a disconnecting socket by testing every room of
    the task (each socket has two or three: its own, its user's, the None room of sids): about
    1,800 tests per disconnect at 1,000 sockets, 30,000 at 10,000, so a drain or a wave of phone
    reconnects cost the square of the sockets. Here each socket's rooms are indexed
    (bench/rooms_bench.py).

    The same for the sockets being connected or disconnected (`pending_connect`,
    `pending_disconnect`): the stock manager lists them, and every event received
    (`is_connected`) and every end of a connect or disconnect searched the list. A drain has
    every socket there at once, a reconnect storm thousands of connects awaiting Redis.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending_connect: dict[str, _SidSet] = _PendingSids()
        self.pending_disconnect: dict[str, _SidSet] = _PendingSids()
        # namespace -> sid -> its rooms, None room included. A list: a socket is in three or
        # four, and a list of three costs a third of a dict's memory per idle socket.
        self._rooms_of: dict[str, dict[str, list[Any]]] = {}

    def basic_enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # raises if refused
        rooms = self._rooms_of.setdefault(namespace, {}).setdefault(sid, [])
        if room not in rooms:
            rooms.append(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        of_namespace = self._rooms_of.get(namespace)
        if of_namespace is None or sid not in of_namespace:
            return
        rooms = of_namespace[sid]
        if room in rooms:
            rooms.remove(room)
        if not rooms:
            del of_namespace[sid]
            if not of_namespace:
                del self._rooms_of[namespace]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """The stock method's work, with the socket's rooms read from the index."""
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get(namespace, {}).get(sid, ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The rooms a client is in (its own room included, as the stock method returns)."""
        return [r for r in self._rooms_of.get(namespace, {}).get(sid, ()) if r is not None]

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


BINARY_REFUSED = "Binary packets are not accepted by this service"
FLOOD_REFUSED = "Too much traffic on this connection: it is closed, reconnect and slow down"
# Socket.IO packet types 5 (BINARY_EVENT) and 6 (BINARY_ACK): the only ones with attachments.
_BINARY_TYPES = ("5", "6")


@dataclass(slots=True)
class _Meter:
    """Inbound traffic of one connection in the current one-second window."""

    window_start: float
    packets: int = 0
    size: int = 0
    refused: bool = False


@dataclass(frozen=True, slots=True)
class InboundLimits:
    packets_per_second: int
    bytes_per_second: int
    # A connection that has not joined the namespace (authenticated connect) by then is dropped.
    connect_timeout_seconds: float
    # A token closed for flooding or refused at connect waits this long (cooldown.py); 0: off.
    cooldown_seconds: float = 0.0
    # A connect refused for cooling down hears so after this pause, not at once: a script that
    # reconnects as soon as it is refused is slowed to one handshake per pause. At most
    # `held_max` connections wait at a time on a task; past that, they are refused at once.
    refusal_delay_seconds: float = 0.0
    held_max: int = 0


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """A Socket.IO server that refuses what a chat never needs, before it costs memory.

    - A packet that declares binary attachments closes its connection at once: the stock server
      would buffer attachments until the declared count (up to ten digits) arrived.
    - Each connection has an inbound budget (packets and bytes per second); over it, the client
      gets `error {event: "connection", message}` and the connection closes.
    - An Engine.IO connection that never completes its Socket.IO connect is dropped after
      `connect_timeout_seconds` (a refused token leaves one open too).
    - A token closed for flooding, or refused at connect, is refused for `cooldown_seconds`
      before any verification (cooldown.py): after `refusal_delay_seconds`, during which the
      connection is held and nothing it sends is parsed, then closed.
    """

    def __init__(
        self,
        *args: Any,
        limits: InboundLimits,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._clock = clock
        self._meters: dict[str, _Meter] = {}
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Set by the drain (serving.py): the sockets closing now belong to a task going away,
        # whose users' `user_offline` the presence defers (presence:leaving, redis_presence.py).
        self.draining = False
        self.refused_binary = 0  # counters for tests and the benchmark
        self.refused_flood = 0
        self.dropped_unauthenticated = 0
        # Reads the clock through self._clock at call time: tests swap the clock after start.
        self.cooldown = Cooldown(limits.cooldown_seconds, clock=lambda: self._clock())
        # eio sid -> the cooldown keys of its connect's token and of the user it claims.
        self._connect_keys: dict[str, tuple[bytes | None, bytes | None]] = {}
        self.refused_cooling = 0
        # eio sid -> the timer that refuses a held cooling-down connect (at most held_max).
        self.held: dict[str, asyncio.TimerHandle] = {}

    def buffered_attachment_bytes(self) -> int:
        """Bytes held for incomplete binary packets (always 0 here; the stock server grows)."""
        return sum(
            len(a) for pkt in self._binary_packet.values() for a in getattr(pkt, "attachments", [])
        )

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        # python-engineio makes its stock socket; ours differs in its websocket reader, its
        # writes and its pings (eio_socket.py). This event comes before the transport starts.
        sock = self.eio.sockets.get(eio_sid)
        if sock is not None and type(sock) is eio_async_socket.AsyncSocket:
            sock.__class__ = LeanSocket
        await super()._handle_eio_connect(eio_sid, environ)
        self._meters[eio_sid] = _Meter(self._clock())
        loop = asyncio.get_running_loop()
        self._connect_timers[eio_sid] = loop.call_later(
            self.limits.connect_timeout_seconds, self._connect_expired, eio_sid
        )

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        meter = self._meters.get(eio_sid)
        if meter is None or meter.refused:
            return  # already being closed (or unknown): nothing more is parsed
        if isinstance(data, bytes | bytearray) or str(data)[:1] in _BINARY_TYPES:
            self.refused_binary += 1
            await self._refuse(eio_sid, meter, BINARY_REFUSED, "binary")
            return
        now = self._clock()
        if now - meter.window_start >= 1.0:
            meter.window_start, meter.packets, meter.size = now, 0, 0
        meter.packets += 1
        meter.size += len(data)
        if (
            meter.packets > self.limits.packets_per_second
            or meter.size > self.limits.bytes_per_second
        ):
            self.refused_flood += 1
            await self._refuse(eio_sid, meter, FLOOD_REFUSED, "inbound budget")
            return
        await super()._handle_eio_message(eio_sid, data)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """A cooling-down token is refused here, before the namespace verifies it."""
        token = presented_token(data, self.environ.get(eio_sid))
        key, user = token_key(token), user_key(token)
        if self.cooldown.refuses(key) or self.cooldown.refuses(user):
            self.refused_cooling += 1
            meter = self._meters.get(eio_sid)
            if meter is not None:
                meter.refused = True  # held or refused: nothing more it sends is parsed
            delay = self.limits.refusal_delay_seconds
            if delay > 0 and len(self.held) < self.limits.held_max:
                # A timer, not a task: a held connection costs its memory and no CPU.
                self.held[eio_sid] = asyncio.get_running_loop().call_later(
                    delay, self._release_held, eio_sid, namespace
                )
                return
            await self._refuse_cooling(eio_sid, namespace)
            return
        self._connect_keys[eio_sid] = (key, user)
        await super()._handle_connect(eio_sid, namespace, data)
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is None:
            self.cooldown.punish(key)  # refused: its retries with this token are cheap now

    async def _refuse_cooling(self, eio_sid: str, namespace: str | None) -> None:
        await self._send_packet(
            eio_sid,
            self.packet_class(
                sio_packet.CONNECT_ERROR, data={"message": COOLING_DOWN}, namespace=namespace
            ),
        )
        await self._close_transport(eio_sid)

    def _release_held(self, eio_sid: str, namespace: str | None) -> None:
        if self.held.pop(eio_sid, None) is None:
            return  # gone meanwhile
        self._in_background(self._refuse_cooling(eio_sid, namespace))

    def _in_background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._closing.add(task)  # held until done: a task only weakly referenced can vanish
        task.add_done_callback(self._closing.discard)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        self._connect_keys.pop(eio_sid, None)
        self._meters.pop(eio_sid, None)
        held = self.held.pop(eio_sid, None)
        if held is not None:
            held.cancel()
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        self._binary_packet.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _refuse(self, eio_sid: str, meter: _Meter, message: str, kind: str) -> None:
        """Tell the client why (when it has joined the namespace), then close the transport."""
        meter.refused = True
        key, user = self._connect_keys.get(eio_sid, (None, None))
        self.cooldown.punish(key)
        # The kind and the counts only: never the payload.
        logger.warning(
            "socket closed: %s",
            kind,
            extra={"reason": kind, "packets": meter.packets, "bytes": meter.size},
        )
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is not None:
            self.cooldown.punish(user)  # connected: its token was verified, so is the claim
            await self.emit("error", {"event": "connection", "message": message}, to=sid)
        await self._close_transport(eio_sid)

    async def _close_transport(self, eio_sid: str) -> None:
        """Close, and do not wait for the client to agree: Engine.IO's close only sends CLOSE
        and keeps reading (one task per frame) until the client hangs up, which a hostile one
        never does. A `None` in the socket's queue ends its writer, which closes the websocket
        and with it the reader."""
        socket = self.eio.sockets.get(eio_sid)
        await self.eio.disconnect(eio_sid)
        if socket is not None:
            socket.queue.put_nowait(None)

    def _connect_expired(self, eio_sid: str) -> None:
        self._connect_timers.pop(eio_sid, None)
        if eio_sid not in self.environ or self.manager.sid_from_eio_sid(eio_sid, "/"):
            return  # gone already, or connected in time
        if eio_sid in self.held:
            return  # its refusal is on its way
        self.dropped_unauthenticated += 1
        self._in_background(self._close_transport(eio_sid))
