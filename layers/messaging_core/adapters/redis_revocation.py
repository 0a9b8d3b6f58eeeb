"""Revocation marks in Redis: every Lambda and socket task reads the same ones."""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..errors import Unavailable
from .redis_client import script_batcher

USER_PREFIX = "revoked:user:"
TOKEN_PREFIX = "revoked:jti:"
# Both marks in one read. A script rather than MGET so that, read on every socket connect, it
# shares the batcher's writes with the connect's other calls (issue #19, connects per second).
_MARKS = "return redis.call('MGET', unpack(KEYS))"


class RedisRevocations:
    """RevocationStore port: `revoked:user:<id>` holds the not-before mark, `revoked:jti:<jti>`
    marks one denied token. Each key expires once every token it could match has expired."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._marks = script_batcher(redis).register(_MARKS)

    async def marks(self, user_id: str, token_id: str | None) -> tuple[float | None, bool]:
        keys = [USER_PREFIX + user_id]
        if token_id:
            keys.append(TOKEN_PREFIX + token_id)
        try:
            values = await self._marks(keys=keys)  # one round trip for both marks
        except (RedisError, OSError) as exc:  # OSError: the lean connection could not open
            raise Unavailable("Session check unavailable, try again") from exc
        not_before = _float(values[0])
        denied = len(values) > 1 and values[1] is not None
        return not_before, denied

    async def revoke_user(self, user_id: str, not_before: float, keep_seconds: int) -> None:
        try:
            # The later mark wins, so a replayed older revocation cannot shorten a newer one.
            current = _float(await self._redis.get(USER_PREFIX + user_id))
            mark = max(not_before, current) if current is not None else not_before
            await self._redis.set(USER_PREFIX + user_id, repr(mark), ex=keep_seconds)
        except RedisError as exc:
            raise Unavailable("Revocation store unavailable") from exc

    async def deny_token(self, token_id: str, keep_seconds: int) -> None:
        try:
            await self._redis.set(TOKEN_PREFIX + token_id, "1", ex=keep_seconds)
        except RedisError as exc:
            raise Unavailable("Revocation store unavailable") from exc


def _float(raw: object) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        return math.inf  # an unreadable mark refuses every token of the user (fail closed)
