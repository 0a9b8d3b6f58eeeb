"""The one wrapper every Socket.IO event handler goes through: outcome mapped to `error`/ack once.

Handlers live in `namespace.py` and in feature mixins next to it; each is decorated with
`socket_event(name)`, so a `DomainError` becomes `error {event, message}` plus an ack
`{ok: false, message}`, anything else a generic message (never the payload), and a success
`{ok: true, ...}`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from messaging_core import audit
from messaging_core.errors import DomainError
from messaging_core.models import Principal

from .context import SocketContext

logger = logging.getLogger(__name__)

Reply = dict[str, Any]
SocketHandler = Callable[..., Awaitable[Reply]]

INTERNAL_ERROR = "Something went wrong on our side; try again"


class EventHost(Protocol):
    """What a handler's `self` offers: the socket context and the one failure reply."""

    ctx: SocketContext

    async def _fail(self, sid: str, event: str, message: str) -> Reply: ...


Handler = Callable[[Any, str, Principal, Any], Awaitable[Reply]]


def socket_event(name: str) -> Callable[[Handler], SocketHandler]:
    """Run a handler for an authenticated socket and map its outcome to `error`/ack once."""

    def wrap(fn: Handler) -> SocketHandler:
        @functools.wraps(fn)
        async def handler(self: EventHost, sid: str, *args: Any) -> Reply:
            audit.bind("socket")  # the access records of this event (sync, mark-read...)
            try:
                reply = await fn(self, sid, self.ctx.user_of(sid), args[0] if args else None)
            except DomainError as exc:
                return await self._fail(sid, name, exc.message)
            except Exception as exc:  # never the stack or the payload: they may hold content
                logger.error(
                    "socket event %s failed: %s",
                    name,
                    type(exc).__name__,
                    extra={"socket_event": name, "error": type(exc).__name__},
                )
                return await self._fail(sid, name, INTERNAL_ERROR)
            return {"ok": True, **reply}

        return handler

    return wrap
