"""What the event handlers need from the process: a small protocol, so the namespace depends on
no concrete class (and `app.py` and `namespace.py` do not import each other)."""

from __future__ import annotations

from typing import Protocol

from messaging_core.core import Core
from messaging_core.models import Principal

from .typing_relay import TypingRelay


class SocketContext(Protocol):
    @property
    def core(self) -> Core: ...

    @property
    def typing(self) -> TypingRelay: ...

    def user_of(self, sid: str) -> Principal:
        """The authenticated user of a socket; Unauthorized when unknown or expired."""
        ...

    async def connected(self, sid: str, user: Principal) -> None: ...

    async def disconnected(self, sid: str) -> None: ...
