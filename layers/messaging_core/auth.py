"""Token verification shared by REST and the socket handshake: one set of rules."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .config import Settings, read_secret
from .errors import Unauthorized
from .ids import is_object_id
from .models import USER_TYPES, Principal

if TYPE_CHECKING:
    import jwt

# Cold start (#19): PyJWT imports `cryptography` (x509, ssh, ciphers) whenever it is installed,
# ~100 ms that a function pays at import though HS256 needs none of it and /health and CORS
# preflights never verify a token. So jwt is imported at first use; SnapStart's before-snapshot
# hook imports it (messaging_core.warm) so a restored copy never pays it.

_ID_CLAIMS = ("sub", "userId", "id")
_ROLE_CLAIMS = ("role", "userType")
# Token kinds a signing key may also issue (refresh, password reset, OIDC id token): only an
# access token opens this service. Absent claims are fine; any other value is refused.
_USE_CLAIMS = ("typ", "token_use")
_ACCESS_USES = frozenset({"access", "at+jwt", "application/at+jwt"})


def bearer_token(header: str | None) -> str:
    """Extract the token from an `Authorization: Bearer <token>` header."""
    if not header:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_token(token: Any, settings: Settings) -> Principal:
    """Check signature (pinned algorithm), expiry, issuer/audience, age and kind; read claims."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("Authentication required: a token is missing")
    import jwt  # lazily: see the note at the top

    try:
        claims = _decoder().decode(
            token, _verification_key(settings, token), **decode_arguments(settings)
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"Invalid token: missing '{exc.claim}' claim") from exc
    except (jwt.InvalidIssuerError, jwt.InvalidAudienceError) as exc:
        raise Unauthorized("Invalid token: wrong issuer or audience") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Invalid token") from exc
    _check_lifetime_and_use(claims, settings)
    return principal_from_claims(claims)


async def verify_token_off_loop(token: Any, settings: Settings) -> Principal:
    """`verify_token` for async callers: when the key may need a network fetch (Secrets Manager,
    a JWKS whose cache expired), the whole check runs in a worker thread so the event loop keeps
    serving every other socket and request meanwhile. A key held in the settings is CPU only."""
    if not _key_may_fetch(settings):
        return verify_token(token, settings)
    return await asyncio.to_thread(verify_token, token, settings)


def decode_arguments(settings: Settings) -> dict[str, Any]:
    """What verify_token asks of PyJWT's decode besides the token and key: the pinned
    algorithm, issuer and audience when configured, `exp` and `iat` required, 5 s of leeway."""
    return {
        "algorithms": [settings.jwt_algorithm],
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "options": {
            "require": ["exp", "iat"],
            "verify_aud": settings.jwt_audience is not None,
            "verify_iss": settings.jwt_issuer is not None,
        },
        "leeway": 5,
    }


def _key_may_fetch(settings: Settings) -> bool:
    return settings.jwt_algorithm == "RS256" or bool(settings.jwt_secret_arn)


def _check_lifetime_and_use(claims: dict[str, Any], settings: Settings) -> None:
    # PyJWT has checked both are numbers and that iat is not in the future.
    try:
        lifetime = float(claims["exp"]) - float(claims["iat"])
    except OverflowError:  # an integer past a float (exp 10**400): a 500 before, now refused
        lifetime = float("inf")
    if lifetime > settings.jwt_max_lifetime_seconds:
        raise Unauthorized("Invalid token: its lifetime exceeds what this service accepts")
    for name in _USE_CLAIMS:
        if name in claims and str(claims[name]).lower() not in _ACCESS_USES:
            raise Unauthorized("Invalid token: not an access token")


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    user_id = _first_claim(claims, _ID_CLAIMS)
    if not is_object_id(user_id):
        raise Unauthorized("Invalid token: the user id claim (sub) must be a 24-character hex id")
    role = _first_claim(claims, _ROLE_CLAIMS)
    if role not in USER_TYPES:
        raise Unauthorized("Invalid token: the role claim must be 'patient' or 'doctor'")
    name = claims.get("name")
    jti = claims.get("jti")
    return Principal(
        id=str(user_id).lower(),
        role=role,
        name=name if isinstance(name, str) and name else None,
        expires_at=_number(claims.get("exp")),  # verify_token requires both
        issued_at=_number(claims.get("iat")),
        token_id=jti if isinstance(jti, str) and 0 < len(jti) <= 128 else None,
    )


def _first_claim(claims: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first of `names` present and not null. A loop, not next() over a generator: a
    generator is built per call, ~1 µs of each connect's verification (#19)."""
    for name in names:
        value = claims.get(name)
        if value is not None:
            return value
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _verification_key(settings: Settings, token: str) -> Any:
    if settings.jwt_algorithm == "RS256":
        if not settings.jwt_jwks_url:
            raise Unauthorized("Token verification is not configured")
        import jwt  # lazily: see the note at the top

        try:
            return _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("Invalid token: unknown signing key") from exc
    return hs256_secret(settings)


def hs256_secret(settings: Settings) -> str:
    if settings.jwt_secret_arn:
        return read_secret(settings.jwt_secret_arn)
    return settings.jwt_secret.get_secret_value()


@lru_cache(maxsize=1)
def _decoder() -> jwt.PyJWT:
    """PyJWT's decode without its per-call key sniffing and per-character base64 test (#19)."""
    from .jwt_decoder import LeanJWT  # imports jwt: lazily, see the note at the top

    return LeanJWT()


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    import jwt  # lazily: see the note at the top

    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def mint_token(
    settings: Settings,
    user_id: str,
    role: str,
    name: str | None = None,
    ttl_seconds: int = 24 * 3600,
    *,
    issued_at: int | None = None,
) -> str:
    """Issue an HS256 token for development and tests (real ones come from the auth service)."""
    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if name:
        claims["name"] = name
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    import jwt  # lazily: see the note at the top

    return jwt.encode(claims, hs256_secret(settings), algorithm="HS256")


# --- Cheap refusals before verification (#11, socket_tier/cooldown.py) ------------------------
# A longer token is not read for a claim (the socket tier caps a packet at MAX_PAYLOAD_BYTES).
_MAX_CLAIMED_TOKEN = 16_384


def claimed_user_id(token: object) -> str | None:
    """The user id a token claims, NOT verified: only to refuse at once a user this process has
    already closed for flooding (a forged claim can only refuse its own connect). Never admits.

    Read straight from the payload segment: nothing here is trusted, so PyJWT's full decode
    (55 µs, a third of the verification that follows on every connect, #19) buys nothing."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > _MAX_CLAIMED_TOKEN:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):  # bad base64 (binascii.Error) or JSON: no claim
        return None
    if not isinstance(claims, dict):
        return None
    user_id = _first_claim(claims, _ID_CLAIMS)
    return str(user_id).lower() if is_object_id(user_id) else None
