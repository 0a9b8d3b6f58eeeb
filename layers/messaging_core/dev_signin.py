"""Development sign-in for the demo page: a token like `make token`, in development only."""

from typing import Any

from .auth import mint_token, verify_token_off_loop
from .core import Core
from .errors import Invalid, NotFound
from .ids import is_object_id, new_id
from .inputs import DevTokenIn

DEV_TOKEN_TTL_SECONDS = 8 * 3600


async def issue_dev_token(core: Core, data: DevTokenIn) -> dict[str, Any]:
    """Mint a development token and make its user known to the directory, as a request would."""
    # Fail closed: anything but an explicit development environment looks like no such endpoint.
    if core.settings.environment != "development":
        raise NotFound("Not found")
    if core.settings.jwt_algorithm != "HS256":
        raise Invalid("Development tokens need JWT_ALGORITHM=HS256")
    user_id = (data.userId or new_id()).lower()
    if not is_object_id(user_id):
        raise Invalid("userId must be a 24-character hex id")
    name = data.name.strip() if data.name else None
    token = mint_token(core.settings, user_id, data.role, name or None, DEV_TOKEN_TTL_SECONDS)
    # Read back through the one verification path, so the page gets exactly what any request sees.
    principal = await verify_token_off_loop(token, core.settings)
    await core.identify(principal)
    return {
        "token": token,
        "userId": principal.id,
        "role": principal.role,
        "name": principal.name,
        "expiresIn": DEV_TOKEN_TTL_SECONDS,
    }
