"""A socket connect's Redis work (issue #19, connects per second) on a real Redis.

Each connect reads the revocation marks, then counts the connect budget, registers the socket in
presence and counts it against the per-user cap: two calls (`RedisPresence.enter` is the second;
they were four, each a round trip of its own). They used to go one by one through redis-py's pool
(a checkout, a write and a read each: a quarter of the server's CPU per connect in the profile of
`bench/connections.py idle`); now they go through the script batcher, so the connects of one
loop turn share its writes. The rules behind each call are checked here too: a revoked user is
still seen revoked, a spent budget registers nothing, the cap still pops the oldest socket, and
an unreachable Redis still refuses.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync
from messaging_core.adapters import redis_client
from messaging_core.adapters.redis_client import build_redis, script_batcher
from messaging_core.adapters.redis_presence import Entered, RedisPresence
from messaging_core.adapters.redis_ratelimit import RedisRateLimiter
from messaging_core.adapters.redis_revocation import RedisRevocations
from messaging_core.errors import Unavailable
from redis.asyncio import Redis

from tests.e2e.socket_harness import with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration

CONNECTS = 50


@pytest.fixture(params=[True, False], ids=["lean", "redis-py"], autouse=True)
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The socket image has hiredis (lean connection); the Lambdas read marks on redis-py."""
    monkeypatch.setattr(redis_client, "HIREDIS", request.param)
    return bool(request.param)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    url = with_db(redis_url(), 48)
    redis_sync.Redis.from_url(url).flushdb()
    client = build_redis(url, 4)
    yield client
    script_batcher(client).close()
    await client.aclose()


def _uid() -> str:
    return uuid.uuid4().hex[:24]


async def test_concurrent_connects_share_round_trips(redis: Redis) -> None:
    revocations = RedisRevocations(redis)
    presence = RedisPresence(redis, task_id="conn-a", ttl_seconds=30)
    users = [_uid() for _ in range(CONNECTS)]
    revoked = users[0]
    await revocations.revoke_user(revoked, 1e12, 120)
    batcher = script_batcher(redis)

    async def connect(user: str, sid: str) -> tuple[tuple[float | None, bool], Entered | None]:
        marks = await revocations.marks(user, "jti-" + sid)
        return marks, await presence.enter(user, sid, 1, budget(user))

    results = await asyncio.gather(*(connect(u, f"s{i}") for i, u in enumerate(users)))
    assert results[0][0] == (1e12, False)  # the revoked user is still seen revoked
    assert all(marks == (None, False) for marks, _ in results[1:])
    # Each user's first socket: within budget, came online, under the cap of 1.
    assert all(entered == Entered(True, []) for _, entered in results)
    # Every call of the connects went through the batcher, sharing its writes.
    assert batcher.calls == 2 * CONNECTS
    assert batcher.writes <= CONNECTS  # one by one: 2 * CONNECTS round trips

    # The cap still closes the oldest: a second socket of users[1] pops its first.
    assert await presence.enter(users[1], "s-new", 1, budget(users[1])) == Entered(
        False,
        [("conn-a", "s1")],  # already online
    )
    # And the last socket to leave takes the user offline.
    assert await presence.disconnect(users[2], "s2") is True


def budget(user: str, limit: int = 5) -> tuple[str, int, int]:
    return (f"connect:{user}", limit, 60)


async def test_a_spent_connect_budget_registers_nothing(redis: Redis) -> None:
    """The attack: a reconnect loop past its budget must not leave sockets counted online."""
    presence = RedisPresence(redis, task_id="conn-a", ttl_seconds=30)
    user = _uid()
    first = await presence.enter(user, "s0", 3, budget(user, 2))
    assert first == Entered(True, [])
    assert await presence.disconnect(user, "s0") is True  # offline again
    assert await presence.enter(user, "s1", 3, budget(user, 2)) == Entered(True, [])
    assert await presence.disconnect(user, "s1") is True
    # The third connect within the window: refused, and nothing of it is recorded.
    assert await presence.enter(user, "s2", 3, budget(user, 2)) is None
    assert not await presence.is_online(user)
    assert await redis.exists(f"presence:conns:{user}", f"presence:since:{user}") == 0
    assert not presence.has_local(user)  # the heartbeat will not refresh it either
    # The budget is the user's: another user connects.
    other = _uid()
    assert await presence.enter(other, "s3", 3, budget(other, 2)) == Entered(True, [])


async def test_the_connect_budget_counts_in_the_rate_limiters_window(redis: Redis) -> None:
    """One window per budget, whoever counts it: `enter` and RedisRateLimiter.hit share it."""
    presence = RedisPresence(redis, task_id="conn-a", ttl_seconds=30)
    limiter = RedisRateLimiter(redis)
    user = _uid()
    assert await limiter.hit(f"connect:{user}", 2, 60) is True
    assert await presence.enter(user, "s0", 3, budget(user, 2)) is not None
    assert await limiter.hit(f"connect:{user}", 2, 60) is False  # both counted: spent
    assert await presence.enter(user, "s1", 3, budget(user, 2)) is None


@pytest.mark.parametrize("call", ["marks", "enter"])
async def test_a_connect_is_refused_when_redis_cannot_answer(call: str) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = build_redis(f"redis://127.0.0.1:{port}/0", 2)
    try:
        if call == "marks":
            asked = RedisRevocations(client).marks(_uid(), "jti")
        else:
            presence = RedisPresence(client, task_id="conn-a", ttl_seconds=30)
            asked = presence.enter(_uid(), "s0", 3, budget("x"))
        with pytest.raises(Unavailable):
            await asyncio.wait_for(asked, 60)
    finally:
        script_batcher(client).close()
        await client.aclose()
