"""API Gateway (HTTP API) Lambda authorizer: reject requests without a valid HS256 token early.

The edge check is the coarse one (signature with the pinned algorithm, expiry, optional
issuer/audience); every function verifies the token again with the core's full rules
(messaging_core.auth). The answer uses the HTTP API "simple response" format, and API Gateway
caches it per Authorization header. Deliberately small: PyJWT plus boto3 (in the runtime),
no settings object, so a cold start stays short.
"""

import logging
import os
import time
from typing import Any

import jwt

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

ALGORITHM = "HS256"  # pinned: a token cannot choose its own algorithm ("none", RS/HS confusion)
LEEWAY_SECONDS = 5
SECRET_TTL_SECONDS = 300  # a rotated secret is picked up within five minutes

_secret_cache: dict[str, tuple[str, float]] = {}


def _fetch_secret(arn: str) -> str:
    import boto3  # imported here so unit tests need no AWS SDK

    response = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
    return str(response["SecretString"])


def jwt_secret(now: float | None = None) -> str:
    """The signing secret, read from Secrets Manager by ARN and cached across invocations."""
    arn = os.environ.get("JWT_SECRET_ARN")
    if not arn:
        raise RuntimeError("JWT_SECRET_ARN is not set")
    now = time.monotonic() if now is None else now
    cached = _secret_cache.get(arn)
    if cached and now - cached[1] < SECRET_TTL_SECONDS:
        return cached[0]
    value = _fetch_secret(arn)
    _secret_cache[arn] = (value, now)
    return value


def _token_from(event: dict[str, Any]) -> str | None:
    sources = event.get("identitySource") or []
    header = sources[0] if sources else None
    if header is None:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        header = headers.get("authorization")
    if not isinstance(header, str):
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def verify(token: str, secret: str) -> dict[str, Any]:
    """Decode and check a token; raises jwt.InvalidTokenError when it must be refused."""
    issuer = os.environ.get("JWT_ISSUER") or None
    audience = os.environ.get("JWT_AUDIENCE") or None
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=issuer,
        audience=audience,
        options={
            "require": ["exp"],
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
        },
        leeway=LEEWAY_SECONDS,
    )
    return claims


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    token = _token_from(event)
    if token is None:
        return {"isAuthorized": False}
    try:
        claims = verify(token, jwt_secret())
    except jwt.InvalidTokenError as exc:
        # The reason class only: never the token, nor its claims.
        logger.info("authorization refused: %s", type(exc).__name__)
        return {"isAuthorized": False}
    user_id = next((claims[k] for k in ("sub", "userId", "id") if claims.get(k) is not None), "")
    return {"isAuthorized": True, "context": {"userId": str(user_id)}}
