"""The script batcher on a real Redis: one pipeline per loop turn, each caller its own answer."""

import asyncio

import pytest
import redis as redis_sync
from messaging_core.adapters.redis_client import build_redis, script_batcher
from messaging_core.adapters.redis_ratelimit import RedisRateLimiter
from redis.exceptions import ResponseError

from tests.e2e.socket_harness import with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL_ON_NEGATIVE = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative') end
return tonumber(ARGV[1]) * 2
"""


@pytest.fixture
def url() -> str:
    url = with_db(redis_url(), 11)
    redis_sync.Redis.from_url(url).flushdb()
    return url


async def test_concurrent_calls_share_pipelines_and_each_gets_its_result(url: str) -> None:
    client = build_redis(url)
    batcher = script_batcher(client)
    incr = batcher.register(INCR)
    results = await asyncio.gather(*(incr(keys=[f"k{i % 5}"], args=[i]) for i in range(100)))
    # INCRBY returns the running total of its key: every caller saw its own reply.
    for key in range(5):
        mine = [results[i] for i in range(100) if i % 5 == key]
        assert sorted(mine) == mine and mine[-1] == sum(range(key, 100, 5))
    assert int(await client.get("k0")) == sum(range(0, 100, 5))
    assert batcher.calls == 100 and batcher.batches < 10  # coalesced, not one round trip each
    await client.aclose()


async def test_an_error_reaches_only_its_caller(url: str) -> None:
    client = build_redis(url)
    double = script_batcher(client).register(FAIL_ON_NEGATIVE)
    outcomes = await asyncio.gather(
        *(double(keys=[], args=[n]) for n in (1, -1, 2, -2, 3)), return_exceptions=True
    )
    assert outcomes[0::2] == [2, 4, 6]
    assert all(isinstance(o, ResponseError) and "negative" in str(o) for o in outcomes[1::2])
    # A lone call (no batch) behaves the same.
    assert await double(keys=[], args=[21]) == 42
    with pytest.raises(ResponseError):
        await double(keys=[], args=[-5])
    await client.aclose()


async def test_scripts_load_after_a_flush_and_limits_hold_under_a_burst(url: str) -> None:
    client = build_redis(url)
    limiter = RedisRateLimiter(client)
    assert await limiter.hit("warm", 1, 10)
    await client.script_flush()  # NOSCRIPT for the pipeline: it must load the script again
    allowed = await asyncio.gather(*(limiter.hit("user-1", 30, 10) for _ in range(50)))
    assert allowed.count(True) == 30 and allowed.count(False) == 20
    await client.aclose()
