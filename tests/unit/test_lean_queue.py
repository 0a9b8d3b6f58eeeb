"""Memory per idle socket (issue #19): each socket's outbound queue.

Every Engine.IO session holds a queue (its writer waits on it) and uvicorn's websocket protocol
another (its receive side). asyncio.Queue allocates four deques (items, getters, putters and its
join Event's waiters), about 3 KiB per queue measured below, mostly empty for an idle socket.
"""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from messaging_core.config import Settings

from socket_tier.app import Realtime
from socket_tier.lean_queue import LeanEvent, LeanQueue
from socket_tier.settings import SocketSettings
from tests.conftest import make_settings

QUEUES = 1000


def _bytes_per_queue(make: object) -> float:
    assert callable(make)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        held = [make() for _ in range(QUEUES)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert len(held) == QUEUES
    return size / QUEUES


def _realtime() -> Realtime:
    settings: Settings = make_settings()
    return Realtime(settings, SocketSettings(_env_file=None))  # type: ignore[call-arg]


async def test_each_engineio_session_queue_is_small() -> None:
    realtime = _realtime()
    per_queue = _bytes_per_queue(realtime.sio.eio.create_queue)
    assert per_queue < 400, f"{per_queue:.0f} bytes per session queue"


async def test_fifo_and_task_accounting() -> None:
    q: LeanQueue[object] = LeanQueue()
    assert q.empty()
    assert q.qsize() == 0
    for item in (1, None, "x"):
        q.put_nowait(item)
    await q.put(2)
    assert q.qsize() == 4
    assert [await q.get(), q.get_nowait(), q.get_nowait(), await q.get()] == [1, None, "x", 2]
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    joined = asyncio.ensure_future(q.join())
    await asyncio.sleep(0)
    assert not joined.done()  # four items taken, none marked done
    for _ in range(4):
        q.task_done()
    await asyncio.wait_for(joined, 5)
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


async def test_a_waiting_get_wakes_on_put_and_a_timed_out_get_loses_nothing() -> None:
    q: LeanQueue[int] = LeanQueue()
    waiting = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put_nowait(7)
    assert await asyncio.wait_for(waiting, 5) == 7
    # Engine.IO's poll waits with a timeout: a get cancelled that way takes nothing.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    q.put_nowait(8)
    assert q.get_nowait() == 8


async def test_a_cancelled_getter_passes_its_item_to_the_next() -> None:
    q: LeanQueue[int] = LeanQueue()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put_nowait(1)  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs: `second` must get the item
    assert await asyncio.wait_for(second, 5) == 1
    assert first.cancelled()


async def test_join_returns_at_once_when_nothing_is_pending() -> None:
    await asyncio.wait_for(LeanQueue().join(), 5)


def test_uvicorn_sockets_use_the_lean_queue_and_no_second_ping() -> None:
    import uvicorn
    from uvicorn.server import ServerState

    from socket_tier.lean_ws import uvicorn_ws_options

    options = uvicorn_ws_options()
    assert options["ws_ping_interval"] is None  # Engine.IO's ping is the keep-alive
    assert options["ws_per_message_deflate"] is False

    async def app(scope: object, receive: object, send: object) -> None: ...

    config = uvicorn.Config(app, lifespan="off", **options)
    config.load()
    loop = asyncio.new_event_loop()
    try:
        proto = config.ws_protocol_class(config, ServerState(), {}, _loop=loop)  # type: ignore[misc]
    finally:
        loop.close()
    assert isinstance(proto.queue, LeanQueue)
    assert isinstance(proto.writable, LeanEvent)
    assert proto.writable.is_set()  # sends are not paused until the transport says so
    assert proto.ping_interval is None


async def test_the_send_pause_event_wakes_every_waiter() -> None:
    event = LeanEvent()
    assert not event.is_set()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [True, True, True]
    event.clear()
    cancelled = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    event.set()  # a cancelled waiter left nothing behind that would break the next
    assert await asyncio.wait_for(event.wait(), 5) is True
