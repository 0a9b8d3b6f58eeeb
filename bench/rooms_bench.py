"""Disconnecting sockets from python-socketio's room manager: the stock one vs DirectManager.

    PYTHONPATH=layers:. .venv/bin/python bench/rooms_bench.py [--sockets 1000,3000,10000]

Each socket is registered as the socket tier registers one (the None room of sids, its own room,
its user's room); then every socket disconnects, in random order, as in a drain or a wave of
phone reconnects. Reports the CPU per disconnect (process time, one core, no I/O) for both
managers, side by side in one run. The stock manager tests every room of the task on each
disconnect; DirectManager (socket_tier/transport.py) reads the socket's rooms from an index.

The drain table: a drain (or a wave of reconnects) puts every socket in `pending_disconnect`
while its disconnect handler awaits Redis, each after python-socketio's `is_connected` check;
then the disconnects complete. The stock manager keeps those sids in a list that every check
and every removal searched; DirectManager keeps them in a dict. "lists" is DirectManager with
the stock lists put back: the commit before that change.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

import socketio  # noqa: E402

from socket_tier.transport import DirectManager  # noqa: E402

NS = "/"


def filled(manager: Any, sockets: int) -> list[str]:
    socketio.AsyncServer(client_manager=manager)
    sids = [f"s{i:06d}" for i in range(sockets)]
    for i, sid in enumerate(sids):
        manager.basic_enter_room(sid, NS, None, eio_sid="e" + sid)
        manager.basic_enter_room(sid, NS, sid, eio_sid="e" + sid)
        manager.basic_enter_room(sid, NS, f"user:{i}")
    random.Random(sockets).shuffle(sids)
    return sids


def per_disconnect_us(manager: Any, sockets: int) -> float:
    sids = filled(manager, sockets)
    start = time.process_time()
    for sid in sids:
        manager.basic_disconnect(sid, NS)
    assert manager.rooms == {}, "every socket should be gone"
    return (time.process_time() - start) / sockets * 1e6


def drain_us(manager: Any, sockets: int) -> float:
    sids = filled(manager, sockets)
    start = time.process_time()
    for sid in sids:
        if manager.is_connected(sid, NS):
            manager.pre_disconnect(sid, NS)
    for sid in sids:
        manager.basic_disconnect(sid, NS)
    assert manager.rooms == {}, "every socket should be gone"
    assert not manager.pending_disconnect, "and none left pending"
    return (time.process_time() - start) / sockets * 1e6


def with_lists() -> DirectManager:
    manager = DirectManager()
    manager.pending_connect, manager.pending_disconnect = {}, {}
    return manager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", default="1000,3000,10000")
    args = parser.parse_args()
    print("| sockets on the task | stock µs / disconnect | DirectManager µs / disconnect | ratio |")
    print("|---:|---:|---:|---:|")
    for n in (int(x) for x in args.sockets.split(",")):
        stock = per_disconnect_us(socketio.AsyncManager(), n)
        ours = per_disconnect_us(DirectManager(), n)
        print(f"| {n:,} | {stock:,.1f} | {ours:,.1f} | {stock / ours:,.0f}x |")
    print()
    print("| drain: sockets | stock µs / socket | DirectManager, lists | DirectManager | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.sockets.split(",")):
        stock = drain_us(socketio.AsyncManager(), n)
        lists = drain_us(with_lists(), n)
        ours = drain_us(DirectManager(), n)
        print(f"| {n:,} | {stock:,.1f} | {lists:,.1f} | {ours:,.1f} | {lists / ours:,.1f}x |")


if __name__ == "__main__":
    main()
