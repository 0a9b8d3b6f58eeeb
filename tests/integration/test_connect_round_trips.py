"""A socket connect's Redis work (issue #19, connects per second) on a real Redis.

Each connect reads the revocation marks, registers the socket in presence and counts it against
the per-user cap: three calls. They used to go one by one through redis-py's pool (a checkout, a
write and a read each: a quarter of the server's CPU per connect in the profile of
`bench/connections.py idle`); now they go through the script batcher, so the connects of one
loop turn share its writes. The rules behind each call are checked here too: a revoked user is
still seen revoked, the cap still pops the oldest socket, and an unreachable Redis still refuses.
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
from messaging_core.adapters.redis_presence import RedisPresence
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

    async def connect(user: str, sid: str) -> tuple[tuple[float | None, bool], bool, list]:
        marks = await revocations.marks(user, "jti-" + sid)
        came = await presence.connect(user, sid)
        popped = await presence.admit(user, sid, 1)
        return marks, came, popped

    results = await asyncio.gather(*(connect(u, f"s{i}") for i, u in enumerate(users)))
    assert results[0][0] == (1e12, False)  # the revoked user is still seen revoked
    assert all(marks == (None, False) for marks, _, _ in results[1:])
    assert all(came for _, came, _ in results)  # each user's first socket: came online
    assert all(popped == [] for *_, popped in results)  # one socket each: under the cap of 1
    # Every call of the connects went through the batcher, sharing its writes.
    assert batcher.calls == 3 * CONNECTS
    assert batcher.writes <= CONNECTS  # one by one: 3 * CONNECTS round trips

    # The cap still closes the oldest: a second socket of users[1] pops its first.
    assert await presence.connect(users[1], "s-new") is False  # already online
    assert await presence.admit(users[1], "s-new", 1) == [("conn-a", "s1")]
    # And the last socket to leave takes the user offline.
    assert await presence.disconnect(users[2], "s2") is True


async def test_marks_refuse_when_redis_cannot_answer() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = build_redis(f"redis://127.0.0.1:{port}/0", 2)
    try:
        with pytest.raises(Unavailable):
            await asyncio.wait_for(RedisRevocations(client).marks(_uid(), "jti"), 60)
    finally:
        script_batcher(client).close()
        await client.aclose()
