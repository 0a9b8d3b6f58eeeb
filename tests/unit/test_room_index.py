"""DirectManager's room index: the stock manager's rooms, without a search per disconnect (#19).

python-socketio's manager finds a disconnecting socket's rooms by testing every room of the
task, so a drain or a wave of reconnects costs the square of the sockets.
"""

from __future__ import annotations

import random
from typing import Any

import socketio

from socket_tier.transport import DirectManager

NS = "/"


def managers() -> tuple[Any, Any]:
    """Ours and the stock one, each attached to a server (as the socket tier builds it)."""
    ours, stock = DirectManager(), socketio.AsyncManager()
    socketio.AsyncServer(client_manager=ours)
    socketio.AsyncServer(client_manager=stock)
    return ours, stock


def join(manager: Any, sid: str, *rooms: str) -> None:
    """A socket as python-socketio registers one (the None room, its own), then more rooms."""
    manager.basic_enter_room(sid, NS, None, eio_sid="e" + sid)
    manager.basic_enter_room(sid, NS, sid, eio_sid="e" + sid)
    for room in rooms:
        manager.basic_enter_room(sid, NS, room)


def state(manager: Any) -> dict[str, Any]:
    rooms = {
        ns: {room: dict(members) for room, members in r.items()} for ns, r in manager.rooms.items()
    }
    return {
        "rooms": rooms,
        "pending": (manager.pending_connect, manager.pending_disconnect),
        "callbacks": set(manager.callbacks),
    }


def apply(manager: Any, op: str, sid: str, room: str) -> None:
    if op == "join":
        join(manager, sid, room)
    elif op == "enter":
        manager.basic_enter_room(sid, NS, room)
    elif op == "leave":
        manager.basic_leave_room(sid, NS, room)
    elif op == "close":
        manager.basic_close_room(room, NS)
    elif op == "pending":
        manager.pending_disconnect.setdefault(NS, []).append(sid)
        manager.callbacks[sid] = {}
    else:
        manager.basic_disconnect(sid, NS)


def test_the_same_rooms_as_the_stock_manager_through_any_sequence() -> None:
    rng = random.Random(19)
    ours, stock = managers()
    sids: list[str] = []
    for step in range(3000):
        op = rng.choice(["join", "join", "enter", "leave", "close", "pending", "drop", "drop"])
        if op == "join" or not sids:
            op, sid = "join", f"s{step}"
            sids.append(sid)
        elif op == "drop":
            sid = sids.pop(rng.randrange(len(sids)))
        else:
            sid = rng.choice(sids)
        room = rng.choice([f"user:{rng.randrange(20)}", f"conv:{rng.randrange(10)}"])
        for manager in (ours, stock):
            apply(manager, op, sid, room)
        assert state(ours) == state(stock), f"differs after step {step} ({op})"
        if sids and step % 50 == 0:
            sid = rng.choice(sids)
            assert sorted(ours.get_rooms(sid, NS)) == sorted(stock.get_rooms(sid, NS))
    for sid in sids:  # everyone leaves: nothing is left behind in the index either
        for manager in (ours, stock):
            manager.basic_disconnect(sid, NS)
    assert state(ours) == state(stock)
    assert ours.rooms == {}
    assert ours._rooms_of == {}


class _NoScan(dict):  # type: ignore[type-arg]
    """A namespace's rooms that count every walk over all of them."""

    scans = 0

    def items(self) -> Any:
        _NoScan.scans += 1
        return super().items()

    def copy(self) -> Any:
        _NoScan.scans += 1
        return _NoScan(self)

    def __iter__(self) -> Any:
        _NoScan.scans += 1
        return super().__iter__()


def test_a_disconnect_among_many_sockets_does_not_walk_every_room() -> None:
    ours, _ = managers()
    for i in range(1000):
        join(ours, f"s{i}", f"user:{i}")
    ours.rooms[NS] = _NoScan(ours.rooms[NS])
    _NoScan.scans = 0
    ours.basic_disconnect("s500", NS)
    assert _NoScan.scans == 0
    assert "user:500" not in ours.rooms[NS]
    assert "s500" not in ours.rooms[NS][None]
    assert ours.get_rooms("s501", NS) == ["s501", "user:501"]
    assert _NoScan.scans == 0
