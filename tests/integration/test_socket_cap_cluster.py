"""MAX_SOCKETS_PER_USER across tasks (issue #11): two socket-tier processes on the real Redis.

A user's sockets spread over two tasks count together: the eleventh, wherever it lands, closes the
oldest, which another task may hold (it is told through that task's Redis channel).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.redis_presence import RedisPresence, conns_key, since_key
from redis.asyncio import Redis

from socket_tier.app import TOO_MANY_SOCKETS
from tests.e2e.socket_harness import Client, ServerProc, clients, new_user, servers, with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration

CAP = 10
DB = 14


def task_env(url: str, name: str) -> dict[str, str]:
    return {
        "REDIS_URL": url,
        "TASK_ID": f"{name}-{uuid.uuid4().hex[:8]}",
        "PRESENCE_TTL_SECONDS": "5",
        "PRESENCE_HEARTBEAT_SECONDS": "0.5",
        "MAX_SOCKETS_PER_USER": str(CAP),
    }


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProc, ServerProc]]:
    # Fresh user ids per test: nothing to flush, nothing shared with other modules' databases.
    url = with_db(redis_url(), DB)
    a = ServerProc("local", task_env(url, "a"))
    b = ServerProc("local", task_env(url, "b"))
    with servers(a, b):
        yield a, b


async def closed(c: Client, timeout: float = 5.0) -> bool:
    """Wait (bounded) for the server to close this client's socket."""
    for _ in range(int(timeout / 0.05)):
        if not c.sio.connected:
            return True
        await asyncio.sleep(0.05)
    return not c.sio.connected


def reasons(c: Client) -> list[str]:
    return [e["message"] for e in c.events["error"]]


async def test_eleven_sockets_over_two_tasks_close_the_oldest_on_the_other_task(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    task_a, task_b = pair
    user = new_user("doctor")
    # Ten sockets, five per task (each task alone is under the cap), then the 11th and 12th
    # land on the task that does NOT hold the oldest socket.
    where = [task_a if i % 2 == 0 else task_b for i in range(CAP)] + [task_b, task_a]
    cs = [Client(user) for _ in where]
    async with clients(*cs):
        for c, task in zip(cs[: CAP + 1], where, strict=False):
            await c.connect(task.url)
        # The oldest (on task A) hears why and is closed by task A, told by task B
        oldest = cs[0]
        await oldest.wait_for("error", lambda e: e["message"] == TOO_MANY_SOCKETS)
        assert await closed(oldest)
        assert reasons(oldest) == [TOO_MANY_SOCKETS]
        assert all(c.sio.connected for c in cs[1 : CAP + 1])
        # The 12th, on task A, closes the next oldest, held by task B
        await cs[CAP + 1].connect(where[CAP + 1].url)
        second = cs[1]
        await second.wait_for("error", lambda e: e["message"] == TOO_MANY_SOCKETS)
        assert await closed(second)
        assert all(c.sio.connected for c in cs[2:])
        assert not any(reasons(c) for c in cs[2:])


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = build_redis(with_db(redis_url(), DB), 4)
    yield client
    await client.aclose()


async def connect_admitted(
    task: RedisPresence, user: str, sid: str, cap: int
) -> list[tuple[str, str]]:
    """A socket registered and counted against the cap as a connect does (`enter`, with a
    budget it never spends): the (task, sid) it pushed over the cap."""
    entered = await task.enter(user, sid, cap, (f"connect:{user}", 1000, 60))
    assert entered is not None
    return entered.over_cap


async def test_admit_pops_the_oldest_over_the_cap_in_connect_order(redis: Redis) -> None:
    a = RedisPresence(redis, task_id=f"a-{uuid.uuid4().hex[:8]}", ttl_seconds=30)
    b = RedisPresence(redis, task_id=f"b-{uuid.uuid4().hex[:8]}", ttl_seconds=30)
    user = uuid.uuid4().hex[:24]
    # Connects within one millisecond still keep their order (scores strictly increase)
    for i in range(3):
        task = a if i % 2 == 0 else b
        assert await connect_admitted(task, user, f"s{i}", 3) == []
    assert await connect_admitted(b, user, "s3", 3) == [(a.task_id, "s0")]
    # A socket that disconnected no longer counts: the next one over pops s1, not s2
    await a.disconnect(user, "s2")
    assert await connect_admitted(a, user, "s4", 3) == []
    assert await connect_admitted(a, user, "s5", 3) == [(b.task_id, "s1")]
    assert await redis.zcard(since_key(user)) == 3


async def test_sockets_of_a_dead_task_stop_counting(redis: Redis) -> None:
    user = uuid.uuid4().hex[:24]
    # A task whose connections lapse (killed: it never refreshes them) ...
    dead = RedisPresence(redis, task_id=f"dead-{uuid.uuid4().hex[:8]}", ttl_seconds=0.2)
    assert await connect_admitted(dead, user, "old", 1) == []
    await redis.pexpire(since_key(user), 60_000)  # as a live task's heartbeat would
    # ... lapses in Redis' own clock; wait on that state, bounded, not on a duration
    # (the whole key may already have expired with it: then it has lapsed)
    expiry = await redis.zscore(conns_key(user), f"{dead.task_id}|old") or 0
    for _ in range(100):
        seconds, micros = await redis.time()
        if seconds * 1000 + micros // 1000 > expiry:
            break
        await asyncio.sleep(0.01)
    live = RedisPresence(redis, task_id=f"live-{uuid.uuid4().hex[:8]}", ttl_seconds=30)
    # The lapsed socket is forgotten rather than "closed" on a task that is gone
    assert await connect_admitted(live, user, "new", 1) == []
    assert await redis.zrange(since_key(user), 0, -1) == [f"{live.task_id}|new".encode()]
