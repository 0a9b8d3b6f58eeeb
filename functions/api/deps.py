"""FastAPI dependencies: the process's Core and the authenticated caller. Tests override these."""

from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from messaging_core.core import Core
from messaging_core.errors import Unauthorized
from messaging_core.models import Page, Principal
from messaging_core.revocation import authenticate

_bearer = HTTPBearer(auto_error=False, description="JWT issued by the platform's auth service")


async def core_dependency() -> Core:
    # The container (the Core's factory and what it imports) at the first request, not at the
    # import (cold start, #19): SnapStart's before-snapshot hook loads it (messaging_core.warm).
    from messaging_core.container import get_core

    return await get_core()


Services = Annotated[Core, Depends(core_dependency)]


async def current_user(
    core: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    user = await authenticate(core, credentials.credentials)
    await core.identify(user)
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]

PageNumber = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]


def page_of(page: int, limit: int | None, default: int, maximum: int) -> Page:
    """A page request; `limit` is checked against the endpoint's maximum (400 beyond it)."""
    from messaging_core.errors import Invalid

    size = default if limit is None else limit
    if not 1 <= size <= maximum:
        raise Invalid(f"limit must be between 1 and {maximum}")
    return Page(page=page, limit=size)
