"""A store wrapper that yields to the event loop before each call, so concurrent core calls
really interleave (the in-memory store never suspends: without this, `gather` runs them one
after the other and a missing compare-and-set would go unnoticed)."""

import asyncio
from collections.abc import Callable
from typing import Any


class Interleaving:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr
        method: Callable[..., Any] = attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await method(*args, **kwargs)

        return call
