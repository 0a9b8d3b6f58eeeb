"""Fire-and-forget steps of the socket tier, held so shutdown can wait for them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)  # a strong reference: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    async def wait(self, grace_seconds: float) -> None:
        """Shutdown: let the running steps finish, at most `grace_seconds`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_seconds)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception as exc:
            logger.warning("background step failed", extra={"error": type(exc).__name__})
