"""The script batcher on a real Redis: one pipeline per loop turn, each caller its own answer."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync
from messaging_core.adapters import redis_client
from messaging_core.adapters.redis_client import ScriptBatcher, build_redis, script_batcher
from messaging_core.adapters.redis_ratelimit import RedisRateLimiter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tests.e2e.socket_harness import with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL_ON_NEGATIVE = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative') end
return tonumber(ARGV[1]) * 2
"""


@pytest.fixture(params=[True, False], ids=["lean", "redis-py"], autouse=True)
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test runs on the lean connection (socket image) and on redis-py (Lambdas)."""
    monkeypatch.setattr(redis_client, "HIREDIS", request.param)
    return bool(request.param)


@pytest.fixture
def url() -> str:
    url = with_db(redis_url(), 11)
    redis_sync.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
async def batcher(url: str) -> AsyncIterator[ScriptBatcher]:
    client = build_redis(url)
    batcher = script_batcher(client)
    yield batcher
    batcher.close()
    await client.aclose()


async def test_concurrent_calls_share_pipelines_and_each_gets_its_result(
    batcher: ScriptBatcher, wire: bool
) -> None:
    incr = batcher.register(INCR)
    results = await asyncio.gather(*(incr(keys=[f"k{i % 5}"], args=[i]) for i in range(100)))
    # INCRBY returns the running total of its key: every caller saw its own reply.
    for key in range(5):
        mine = [results[i] for i in range(100) if i % 5 == key]
        assert sorted(mine) == mine
        assert mine[-1] == sum(range(key, 100, 5))
    assert int(await batcher.redis.get("k0")) == sum(range(0, 100, 5))
    assert batcher.calls == 100
    assert batcher.writes < 10
    assert batcher.lean is wire


async def test_a_lost_connection_fails_its_calls_and_the_next_call_reconnects(
    batcher: ScriptBatcher, url: str
) -> None:
    incr = batcher.register(INCR)
    assert await incr(keys=["n"], args=[1]) == 1
    # Kill every client connection but the killer's own: the batcher's among them.
    killer = redis_sync.Redis.from_url(url)
    killer.client_kill_filter(skipme=True, _type="normal")
    outcomes = await asyncio.gather(
        *(incr(keys=["n"], args=[1]) for _ in range(5)), return_exceptions=True
    )
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(o, (RedisConnectionError, OSError)) for o in failed), failed
    # Those that ran counted once each; afterwards the wire is back.
    assert await incr(keys=["n"], args=[1]) == 2 + len(outcomes) - len(failed)
    killer.close()


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
    assert allowed.count(True) == 30
    assert allowed.count(False) == 20
    await client.aclose()
