"""`user_offline` for the users the presence reaper hands this task, in the background.

A drain leaves thousands of users due at once (redis_presence.py, `presence:leaving`), and each
announcement looks up the user's partners in the store. Awaited in the heartbeat loop, they held
up this task's own heartbeat for as long as they took: under a reconnect storm, longer than the
presence TTL, so this task's connections lapsed and messages to its connected users were no
longer pushed to them (bench/RESULTS-connections.md, round 6). Here the loop only hands them
over; a worker announces them a few at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from .tasks import BackgroundTasks

logger = logging.getLogger(__name__)

AT_ONCE = 8  # announcements in flight: each is a store lookup, then a few Redis calls


class OfflineAnnouncer:
    def __init__(
        self,
        announce: Callable[[str], Awaitable[object]],
        tasks: BackgroundTasks,
        at_once: int = AT_ONCE,
    ) -> None:
        self._announce = announce
        self._tasks = tasks
        self._at_once = at_once
        self._queue: deque[str] = deque()
        self._running = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    def add(self, users: Sequence[str]) -> None:
        """Queue these users' `user_offline`; returns at once."""
        if not users:
            return
        self._queue.extend(users)
        if not self._running:
            self._running = True
            self._tasks.spawn(self._run())  # awaited by the shutdown's grace, as other steps

    async def _run(self) -> None:
        try:
            while self._queue:  # bounded by what the reaper hands over
                batch = [self._queue.popleft() for _ in range(min(self._at_once, len(self._queue)))]
                results = await asyncio.gather(
                    *(self._announce(user) for user in batch), return_exceptions=True
                )
                failed = sum(isinstance(r, Exception) for r in results)
                if failed:  # the store unreachable: these partners are not told (as before)
                    logger.warning("user_offline not announced", extra={"users": failed})
        finally:
            self._running = False
