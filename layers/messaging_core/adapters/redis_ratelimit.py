"""Per-key sliding-window rate limit in Redis, shared by every socket task and Lambda."""

from __future__ import annotations

import os

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..errors import Unavailable
from .redis_client import script_batcher

KEY_PREFIX = "ratelimit:"

# KEYS: the key. ARGV: limit, window seconds, unique member. Returns 1 when allowed.
# An exact sliding log (at most `limit` entries per key), timed by Redis' clock, decided in one
# atomic step so concurrent senders on several tasks cannot both slip under the limit.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2]) * 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class RedisRateLimiter:
    """RateLimiter port: `hit` counts one action and says whether it is within the budget."""

    def __init__(self, redis: Redis) -> None:
        self._hit = script_batcher(redis).register(_HIT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        try:
            allowed = await self._hit(
                # The window's member only has to be unique: 128 random bits as hex, without
                # building a UUID object per send (2% of a socket task's CPU, issue #19).
                keys=[KEY_PREFIX + key],
                args=[limit, window_seconds, os.urandom(16).hex()],
            )
        except RedisError as exc:
            raise Unavailable("Rate limiter unavailable, try again") from exc
        return int(allowed) == 1
