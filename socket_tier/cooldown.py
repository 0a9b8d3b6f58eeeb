"""Tokens refused for a while on this task: a flooder's reconnect costs a dictionary look-up.

A connection closed for flooding (or a binary packet) puts its token and its (verified) user
here for FLOOD_COOLDOWN_SECONDS; a refused connect (bad or revoked token, connect budget spent)
puts its token. Until then, a connect with that token, or with a token that claims that user
(a flooder can mint fresh tokens by signing in again), is refused before the token is verified
and before any Redis call, and its transport closed at once. A user enters only after a socket
verified as that user flooded, so a forged claim can only refuse its own connect. Keyed by a
digest of the token, never the token itself; bounded, oldest first out. Per task on purpose: it
only spares this task the work, the shared budgets in Redis stay the rule.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from messaging_core.auth import claimed_user_id

COOLING_DOWN = "Too many refused or flooding connections: wait a few seconds, then reconnect"


def presented_token(auth: Any, environ: dict[str, Any] | None) -> str | None:
    """The token a connect presents (`auth.token` or the Authorization header), as given."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if token is None and environ is not None:
        token = environ.get("HTTP_AUTHORIZATION")
    return token if isinstance(token, str) and token else None


def token_key(token: str | None) -> bytes | None:
    """A digest of a token: the key only has to be collision-free and not the token itself."""
    if token is None:
        return None
    return b"t:" + hashlib.blake2b(token.encode(), digest_size=16).digest()


def user_key(token: str | None) -> bytes | None:
    """The key of the user a token claims (unverified: see the module docstring)."""
    if token is None:
        return None
    bare = token[7:].strip() if token[:7].lower() == "bearer " else token
    user_id = claimed_user_id(bare)
    return None if user_id is None else b"u:" + user_id.encode()


class Cooldown:
    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self.seconds = seconds
        self._clock = clock  # injectable: tests move time instead of sleeping
        self._max_keys = max_keys
        self._until: OrderedDict[bytes, float] = OrderedDict()

    def punish(self, key: bytes | None) -> None:
        """Refuse this token until `seconds` from now (a repeat offence restarts the wait)."""
        if key is None or self.seconds <= 0:
            return
        self._until[key] = self._clock() + self.seconds
        self._until.move_to_end(key)
        while len(self._until) > self._max_keys:  # bounded: a token flood cannot grow it
            self._until.popitem(last=False)

    def refuses(self, key: bytes | None) -> bool:
        if key is None:
            return False
        until = self._until.get(key)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[key]
            return False
        return True

    def __len__(self) -> int:
        return len(self._until)
