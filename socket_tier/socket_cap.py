"""MAX_SOCKETS_PER_USER across every task (issue #11), with Redis.

Each socket of a user is recorded with its connect time in Redis (`RedisPresence.admit`); when the
user holds more than the cap on all tasks together, the oldest are popped atomically and closed
by the task that holds them: this task directly, another through that task's own Redis channel
(`publish_close`, received by its `TaskChannel`). The closed socket first gets an `error` with the
reason. Without Redis (one process), `Realtime` caps its own list of the user's sockets instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from messaging_core.adapters.redis_fanout import publish_close
from messaging_core.adapters.redis_presence import Entered, RedisPresence
from messaging_core.errors import RateLimited
from messaging_core.models import Principal
from redis.asyncio import Redis


class SharedSocketCap:
    def __init__(
        self,
        presence: RedisPresence,
        redis: Redis,
        cap: int,
        *,
        users: Mapping[str, Principal],
        evict: Callable[[str], None],
    ) -> None:
        if cap <= 0:
            raise ValueError("MAX_SOCKETS_PER_USER must be positive")
        self.presence = presence
        self.redis = redis
        self.cap = cap
        self._users = users  # this task's sockets: sid -> user
        self._evict = evict  # schedules "tell the reason, close" for one local sid

    async def enter(
        self, user_id: str, sid: str, budget: tuple[str, int, int], refused: str
    ) -> Entered:
        """A socket just authenticated: its connect `budget` (the rate limiter's key, limit and
        window) counted, presence and the cap in one Redis round trip (`RedisPresence.enter`).
        RateLimited(`refused`), nothing registered, when the budget is spent; the sockets it
        pushed over the cap are for `close_over_cap`, once the new one is held."""
        entered = await self.presence.enter(user_id, sid, self.cap, budget)
        if entered is None:
            raise RateLimited(refused)
        return entered

    async def close_over_cap(self, user_id: str, over: list[tuple[str, str]]) -> None:
        """Close the user's oldest sockets beyond the cap, each by the task that holds it."""
        for task, old in over:
            if task == self.presence.task_id:
                await self.close_here(user_id, old)
            else:
                await publish_close(self.redis, task, user_id, old)

    async def close_here(self, user_id: str, sid: str) -> None:
        """A close asked for this task: only a socket of that user (a stale or forged request for
        another user's socket, or one already gone, closes nothing)."""
        user = self._users.get(sid)
        if user is not None and user.id == user_id:
            self._evict(sid)
