"""The leaner Socket.IO plumbing keeps python-socketio's wire format and delivery rules."""

from __future__ import annotations

import asyncio

import pytest
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from socket_tier.transport import DirectManager, JsonPacket


class FakeServer:
    """What the manager uses of an AsyncServer: its packet class and the raw send."""

    packet_class = JsonPacket

    def __init__(self, fail_for: str | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail_for = fail_for
        self.eio = self  # the manager asks the engine for new socket ids
        self._ids = 0

    def generate_id(self) -> str:
        self._ids += 1
        return f"sid{self._ids}"

    async def _send_eio_packet(self, eio_sid: str, pkt: eio_packet.Packet) -> None:
        if eio_sid == self.fail_for:
            raise ConnectionResetError("socket went away")
        self.sent.append((eio_sid, pkt.data))

    async def _send_packet(self, eio_sid: str, pkt: sio_packet.Packet) -> None:
        self.sent.append((eio_sid, pkt.encode()))


async def manager_with(server: FakeServer, *eio_sids: str) -> DirectManager:
    manager = DirectManager()
    manager.set_server(server)
    manager.initialize()
    for eio_sid in eio_sids:
        sid = await manager.pre_connect(eio_sid, "/")
        await manager.connect(sid, "/")
        await manager.enter_room(sid, "/", "user:u1")
    return manager


def test_json_packet_encodes_like_the_stock_packet() -> None:
    data = ["new_message", {"content": "é", "seq": 3, "tags": [1, {"a": None}]}]
    ours = JsonPacket(sio_packet.EVENT, data=data, namespace="/").encode()
    stock = sio_packet.Packet(sio_packet.EVENT, data=data, namespace="/").encode()
    assert ours == stock


def test_json_packet_refuses_bytes_instead_of_sending_an_attachment() -> None:
    with pytest.raises(TypeError):
        JsonPacket(sio_packet.EVENT, data=["x", {"raw": b"\x00"}], namespace="/").encode()


async def test_a_room_emit_reaches_every_socket_of_the_user_once() -> None:
    server = FakeServer()
    manager = await manager_with(server, "e1", "e2")
    await manager.emit("new_message", {"seq": 1}, "/", room="user:u1", ignore_queue=False)
    assert sorted(server.sent) == [
        ("e1", '2["new_message",{"seq":1}]'),
        ("e2", '2["new_message",{"seq":1}]'),
    ]


async def test_one_failing_socket_does_not_starve_the_others() -> None:
    server = FakeServer(fail_for="e1")
    manager = await manager_with(server, "e1", "e2")
    await manager.emit("new_message", {"seq": 1}, "/", room="user:u1")
    assert server.sent == [("e2", '2["new_message",{"seq":1}]')]


async def test_emits_with_a_callback_or_a_skipped_socket_go_the_stock_way() -> None:
    server = FakeServer()
    manager = await manager_with(server, "e1", "e2")
    skipped = manager.sid_from_eio_sid("e1", "/")
    await manager.emit("x", {"n": 1}, "/", room="user:u1", skip_sid=skipped)
    await asyncio.sleep(0)
    assert [eio for eio, _ in server.sent] == ["e2"]
    server.sent.clear()
    await manager.emit("x", {"n": 2}, "/", room="user:u1", callback=lambda *_: None)
    assert sorted(eio for eio, _ in server.sent) == ["e1", "e2"]
    assert all(raw.startswith("2") and '"n":2' in raw for _, raw in server.sent)


async def test_an_emit_to_nobody_sends_nothing() -> None:
    server = FakeServer()
    manager = await manager_with(server)
    await manager.emit("x", {"n": 1}, "/", room="user:nobody")
    assert server.sent == []
