"""A drain's users: offline at once, announced only if they stay away (issue #19, real Redis).

A deploy's drain closes every socket of a task; the clients connect again to another task within
seconds. Announcing `user_offline` at the drain, then `user_online` at the reconnect, made every
partner's screen flicker and cost the store a partners lookup on both tasks for each user (the
reconnect storm of bench/connections.py: 3,000 of each). The user is offline at once all the
same (a message sent meanwhile waits and is not marked delivered); only the announcement waits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.redis_presence import LEAVING_KEY, ONLINE_KEY, RedisPresence
from redis.asyncio import Redis

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    barrier,
    clients,
    new_user,
    open_conversation,
    with_db,
)
from tests.e2e.socket_harness import servers as running
from tests.servers import redis_url

pytestmark = pytest.mark.integration

DB = 17
SETTLE = 0.5  # seconds; the tests poll (bounded) rather than time anything


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = build_redis(with_db(redis_url(), DB))
    try:
        yield client
    finally:
        await client.aclose()


def tasks(redis: Redis) -> tuple[RedisPresence, RedisPresence]:
    """Two tasks' presence on one Redis (a draining one and a survivor)."""
    return (
        RedisPresence(redis, task_id=f"a-{uuid.uuid4().hex[:6]}", drain_settle_seconds=SETTLE),
        RedisPresence(redis, task_id=f"b-{uuid.uuid4().hex[:6]}", drain_settle_seconds=SETTLE),
    )


async def reaped_within(presence: RedisPresence, user: str, seconds: float = 10.0) -> list[str]:
    """Reap until `user` is among the reaped (bounded); everything reaped meanwhile."""
    seen: list[str] = []
    for _ in range(int(seconds / 0.05)):
        seen += await presence.reap()
        if user in seen:
            return seen
        await asyncio.sleep(0.05)
    return seen


async def test_a_drained_user_back_elsewhere_is_never_announced(redis: Redis) -> None:
    draining, survivor = tasks(redis)
    user = uuid.uuid4().hex
    assert await draining.connect(user, "s1")
    # The drain closes the last socket: offline at once, nothing to announce now.
    assert not await draining.disconnect(user, "s1", leaving=True)
    assert not await survivor.is_online(user)
    assert await redis.zscore(LEAVING_KEY, user) is not None
    # Back on the survivor before it was due: the partners never heard it go, nor come back.
    assert not await survivor.connect(user, "s2")
    assert await survivor.is_online(user)
    assert await redis.zscore(LEAVING_KEY, user) is None  # so no reaper will ever announce it
    # A later ordinary disconnect announces at once, as always.
    assert await survivor.disconnect(user, "s2")


async def test_a_drained_user_who_stays_away_is_announced_once(redis: Redis) -> None:
    draining, survivor = tasks(redis)
    user = uuid.uuid4().hex
    assert await draining.connect(user, "s1")
    assert await draining.leave_all(leaving=True) == []  # shutdown's clean-up defers the same
    assert not await survivor.is_online(user)
    assert user not in await survivor.reap()  # not due yet (no clock is read by this test)
    reaped = await reaped_within(survivor, user)
    assert reaped.count(user) == 1
    assert user not in await draining.reap() + await survivor.reap()  # exactly once
    assert await redis.zscore(LEAVING_KEY, user) is None
    # Announced offline, so coming back is announced again.
    assert await survivor.connect(user, "s3")


async def test_without_a_drain_the_last_disconnect_is_announced_at_once(redis: Redis) -> None:
    draining, _ = tasks(redis)
    user = uuid.uuid4().hex
    assert await draining.connect(user, "s1")
    assert await draining.connect(user, "s2") is False  # a second tab
    assert not await draining.disconnect(user, "s1", leaving=True)  # the other tab remains
    assert await redis.zscore(LEAVING_KEY, user) is None
    assert await draining.disconnect(user, "s2")  # not leaving: at once
    assert await redis.zscore(LEAVING_KEY, user) is None
    no_settle = RedisPresence(redis, task_id=f"c-{uuid.uuid4().hex[:6]}")
    assert await no_settle.connect(user, "s3")
    assert await no_settle.disconnect(user, "s3", leaving=True)  # settle 0: at once
    assert await redis.zscore(LEAVING_KEY, user) is None


def task_env(url: str, name: str) -> dict[str, str]:
    return {
        "REDIS_URL": url,
        "TASK_ID": f"{name}-{uuid.uuid4().hex[:8]}",
        "PRESENCE_TTL_SECONDS": "5",
        "PRESENCE_HEARTBEAT_SECONDS": "0.4",
        "PRESENCE_DRAIN_SETTLE_SECONDS": "1",
    }


async def test_a_deploy_drain_does_not_flicker_partners_and_a_user_who_stays_away_is_told() -> None:
    """Two socket tiers: the partner and the conversation on `staying`; two users on `leaving`,
    which gets SIGTERM. One user is back on `staying` at once: the partner hears nothing. The
    other stays away: the partner hears `user_offline` once, from `staying`'s reaper."""
    url = with_db(redis_url(), DB)
    redis_sync.Redis.from_url(url).flushdb()
    leaving = ServerProc("server", task_env(url, "leaving"))
    staying = ServerProc("local", task_env(url, "staying"))
    with running(leaving, staying):
        partner, back, away = new_user("doctor"), new_user("patient"), new_user("patient")
        for user in (back, away):
            await open_conversation(staying.url, partner, user)
        async with clients(Client(partner), Client(back), Client(away), Client(back)) as (
            cp,
            cb,
            ca,
            cb_again,
        ):
            await cp.connect(staying.url)
            await cb.connect(leaving.url)
            await ca.connect(leaving.url)
            r = redis_sync.Redis.from_url(url)
            assert r.zscore(ONLINE_KEY, back["id"]) is not None
            code = await asyncio.to_thread(leaving.terminate)
            assert code in (0, -15)
            assert not cb.sio.connected
            # Offline at once, the announcements deferred.
            assert r.zscore(ONLINE_KEY, back["id"]) is None
            assert r.zscore(LEAVING_KEY, back["id"]) is not None
            assert r.zscore(LEAVING_KEY, away["id"]) is not None
            await cb_again.connect(staying.url)
            assert r.zscore(LEAVING_KEY, back["id"]) is None  # back: nothing will be announced
            r.close()
            # The one who stayed away is announced, once, by the survivor.
            await cp.wait_for("user_offline", lambda d: d["userId"] == away["id"], timeout=30)
            await barrier(staying, back, partner, cp)
            offline = [d["userId"] for d in cp.events["user_offline"]]
            assert offline == [away["id"]]
            # Nor `user_online` when it came back: its partners never heard it go. (`leaving`
            # keeps an in-memory store of its own here: it announces to partners it knows,
            # none, so what the partner hears comes from `staying`.)
            assert back["id"] not in [d["userId"] for d in cp.events["user_online"]]
