"""Per-key sliding-window rate limit in Redis, shared by every socket task and Lambda."""

from __future__ import annotations

import os

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..errors import Unavailable
from .redis_client import script_batcher

KEY_PREFIX = "ratelimit:"

# An exact sliding log (at most `limit` entries per key), timed by Redis' clock, decided in one
# atomic step so concurrent senders on several tasks cannot both slip under the limit. A Lua
# function: the socket connect's script (redis_presence.py) counts the connect budget with it.
HIT_FUNCTION = """
local function rate_hit(key, limit, window_s, member)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local window = tonumber(window_s) * 1000000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(limit) then return 0 end
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return 1
end
"""

# KEYS: the key. ARGV: limit, window seconds, unique member. Returns 1 when allowed.
_HIT = HIT_FUNCTION + "return rate_hit(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"


def window_key(key: str) -> str:
    """The Redis key of a budget's sliding log."""
    return KEY_PREFIX + key


def window_member() -> str:
    # A window's member only has to be unique: 128 random bits as hex, without building a UUID
    # object per send (2% of a socket task's CPU, issue #19).
    return os.urandom(16).hex()


class RedisRateLimiter:
    """RateLimiter port: `hit` counts one action and says whether it is within the budget."""

    def __init__(self, redis: Redis) -> None:
        self._hit = script_batcher(redis).register(_HIT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        try:
            allowed = await self._hit(
                keys=[window_key(key)], args=[limit, window_seconds, window_member()]
            )
        except RedisError as exc:
            raise Unavailable("Rate limiter unavailable, try again") from exc
        return int(allowed) == 1
