"""Ended sessions: logout, ban or compromise ends a user's tokens before their `exp`.

One rule, `check_not_revoked`, used by every REST call and every socket connection (and by the
socket tier's sweep of open connections). Marks live behind the RevocationStore port (Redis in
AWS); each process caches an answer a few seconds at most (REVOCATION_CACHE_SECONDS).
"""

import math
import time
from typing import TYPE_CHECKING, Any

from .auth import verify_token_off_loop
from .core import Core
from .errors import Unauthorized
from .models import Principal

if TYPE_CHECKING:  # a type only: the ports are not imported at run time (cold start, #19)
    from .ports import RevocationStore

SESSION_REVOKED = "Session revoked: sign in again"


async def authenticate(core: Core, token: Any) -> Principal:
    """The caller behind a token: signature, claims, lifetime and kind, then revocation.

    REST (every call) and the socket handshake both start here; a key fetch runs off the loop."""
    user = await verify_token_off_loop(token, core.settings)
    await check_not_revoked(core, user)
    return user


def is_revoked(user: Principal, not_before: float | None, denied: bool) -> bool:
    """A denied token id, or a token issued before the user's mark (no `iat`: refused)."""
    if denied:
        return True
    if not_before is None:
        return False
    return user.issued_at is None or user.issued_at < not_before


async def check_not_revoked(core: Core, user: Principal) -> None:
    """Refuse a token whose user was revoked after it was issued, or whose `jti` is denied."""
    key = (user.id, user.token_id)
    marks = core.revocation_cache.get(key)
    if marks is None:
        # A store that cannot answer raises Unavailable: the token is refused, not waved through.
        marks = await core.revocations.marks(user.id, user.token_id)
        core.revocation_cache.put(key, marks)
    if is_revoked(user, *marks):
        raise Unauthorized(SESSION_REVOKED)


def _keep_seconds(core: Core) -> int:
    # Past the longest accepted lifetime (plus the verifier's leeway), every token a mark could
    # match has expired: the mark may go.
    return core.settings.jwt_max_lifetime_seconds + 60


async def revoke_user(
    store: "RevocationStore", user_id: str, keep_seconds: int, at: float | None = None
) -> float:
    """Operator path: every token of `user_id` issued before now (or `at`) is refused."""
    mark = time.time() if at is None else at
    if not math.isfinite(mark):
        raise ValueError("the revocation time must be a finite epoch")
    await store.revoke_user(user_id, mark, keep_seconds)
    return mark


async def revoke_in_core(core: Core, user_id: str) -> float:
    """Revoke through a process's own Core (tests, `make run`); its cache forgets the user."""
    mark = await revoke_user(core.revocations, user_id, _keep_seconds(core))
    core.revocation_cache.forget(user_id)
    return mark
