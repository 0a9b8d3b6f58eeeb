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
        # In order: ours keeps them in dicts, the stock manager in lists.
        "pending": [
            {ns: list(sids) for ns, sids in p.items()}
            for p in (manager.pending_connect, manager.pending_disconnect)
        ],
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
        # python-socketio checks `is_connected` first: a sid is pending once (the stock list
        # would hold it twice and keep one after the disconnect; ours holds it once).
        if sid not in manager.pending_disconnect.get(NS, ()):
            manager.pre_disconnect(sid, NS)
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


class _Sid(str):
    """A sid that counts the comparisons made to find it (a list's `in` compares each one)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Sid.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_drain_does_not_search_the_sockets_being_disconnected() -> None:
    """A drain puts every socket in `pending_disconnect` while its disconnect handler awaits
    Redis; python-socketio keeps that in a list, so each `is_connected` (every event received)
    and each end of a disconnect searched all of them: a drain cost the square of the sockets."""
    ours, stock = managers()
    sids = [_Sid(f"s{i}") for i in range(1000)]
    for manager in (ours, stock):
        for sid in sids:
            join(manager, sid)
        for sid in sids:
            assert manager.is_connected(sid, NS)
            manager.pre_disconnect(sid, NS)
    for manager in (ours, stock):
        _Sid.compared = 0
        assert not manager.is_connected(sids[-1], NS)  # being disconnected
        manager.basic_disconnect(sids[-1], NS)
        manager.basic_disconnect(sids[0], NS)
        if manager is ours:
            assert _Sid.compared <= 20, _Sid.compared  # a few dict lookups
        else:
            assert _Sid.compared > 1000  # the stock lists: this test would see a regression
    assert state(ours) == state(stock)
    for sid in sids[1:-1]:
        for manager in (ours, stock):
            manager.basic_disconnect(sid, NS)
    assert state(ours) == state(stock)
    assert ours.pending_disconnect == {}
    assert ours.rooms == {}


async def test_connects_in_flight_are_found_without_a_search() -> None:
    """The same for `pending_connect`: a reconnect storm has thousands of connects awaiting
    their token check and Redis at once."""
    ours, stock = managers()
    sids = {}
    for manager in (ours, stock):
        sids[id(manager)] = [await manager.pre_connect(f"e{i}", NS) for i in range(1000)]
    for manager in (ours, stock):
        pending = sids[id(manager)]
        assert all(manager.is_pre_connected(s, NS) for s in pending[:3])
        last = _Sid(pending[-1])
        _Sid.compared = 0
        assert manager.is_pre_connected(last, NS)
        assert await manager.connect(last, NS) == last
        if manager is ours:
            assert _Sid.compared <= 20, _Sid.compared  # a few dict lookups
        else:
            assert _Sid.compared > 900
        assert not manager.is_pre_connected(last, NS)
        assert manager.is_connected(last, NS)
    for manager in (ours, stock):
        for sid in sids[id(manager)][:-1]:
            await manager.connect(sid, NS)
        assert manager.pending_connect == {}
