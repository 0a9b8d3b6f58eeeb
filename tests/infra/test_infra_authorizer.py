"""functions/authorizer.py: the edge check lets valid HS256 tokens through and nothing else."""

import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest

SECRET = "unit-test-secret-" + "x" * 64  # >= 64 bytes: long enough for HS512 too
ARN = "arn:aws:secretsmanager:eu-west-3:111111111111:secret:jwt-AbCdEf"
USER_ID = "673a1b2c3d4e5f6a7b8c9d0e"
SOURCE = Path(__file__).resolve().parents[2] / "functions" / "authorizer.py"


@pytest.fixture()
def authorizer(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[str]]:
    """A fresh module (empty cache) whose Secrets Manager read is a counted stub."""
    spec = importlib.util.spec_from_file_location("esante_authorizer_under_test", SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fetched: list[str] = []

    def fake_fetch(arn: str) -> str:
        fetched.append(arn)
        return SECRET

    monkeypatch.setattr(module, "_fetch_secret", fake_fetch)
    monkeypatch.setenv("JWT_SECRET_ARN", ARN)
    monkeypatch.delenv("JWT_ISSUER", raising=False)
    monkeypatch.delenv("JWT_AUDIENCE", raising=False)
    return module, fetched


def token(secret: str = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": USER_ID, "role": "patient", "iat": now, "exp": now + 600}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, secret, algorithm=algorithm)


def event(header: str | None) -> dict[str, Any]:
    """HTTP API v2 authorizer event (payload 2.0) with the identity source filled in."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeKey": "GET /api/v1/messages/unread-count",
        "identitySource": [header] if header is not None else [],
        "headers": {"authorization": header} if header is not None else {},
    }


def test_valid_token_is_authorized(authorizer: tuple[ModuleType, list[str]]) -> None:
    module, _ = authorizer
    result = module.handler(event(f"Bearer {token()}"))
    assert result == {"isAuthorized": True, "context": {"userId": USER_ID}}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
    ],
)
def test_missing_or_malformed_header_is_refused(
    authorizer: tuple[ModuleType, list[str]], header: str | None
) -> None:
    module, _ = authorizer
    assert module.handler(event(header)) == {"isAuthorized": False}


def test_token_signed_with_another_secret_is_refused(
    authorizer: tuple[ModuleType, list[str]],
) -> None:
    module, _ = authorizer
    forged = token(secret="another-secret-" + "y" * 32)
    assert module.handler(event(f"Bearer {forged}")) == {"isAuthorized": False}


def test_expired_token_is_refused(authorizer: tuple[ModuleType, list[str]]) -> None:
    module, _ = authorizer
    old = int(time.time()) - 3600
    expired = token(iat=old - 600, exp=old)
    assert module.handler(event(f"Bearer {expired}")) == {"isAuthorized": False}


def test_token_without_expiry_is_refused(authorizer: tuple[ModuleType, list[str]]) -> None:
    module, _ = authorizer
    assert module.handler(event(f"Bearer {token(exp=None)}")) == {"isAuthorized": False}


def test_alg_none_token_is_refused(authorizer: tuple[ModuleType, list[str]]) -> None:
    module, _ = authorizer
    # Given a well-formed token that claims no signature at all
    unsigned = jwt.encode(
        {"sub": USER_ID, "role": "doctor", "exp": int(time.time()) + 600}, None, algorithm="none"
    )
    # When it reaches the edge, then it is refused: the algorithm is pinned to HS256
    assert module.handler(event(f"Bearer {unsigned}")) == {"isAuthorized": False}


def test_other_hmac_algorithm_is_refused(authorizer: tuple[ModuleType, list[str]]) -> None:
    module, _ = authorizer
    hs512 = token(algorithm="HS512")
    assert module.handler(event(f"Bearer {hs512}")) == {"isAuthorized": False}


def test_issuer_and_audience_are_checked_when_configured(
    authorizer: tuple[ModuleType, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, _ = authorizer
    monkeypatch.setenv("JWT_ISSUER", "esante-auth")
    monkeypatch.setenv("JWT_AUDIENCE", "esante-messaging")
    good = token(iss="esante-auth", aud="esante-messaging")
    wrong_aud = token(iss="esante-auth", aud="someone-else")
    assert module.handler(event(f"Bearer {good}"))["isAuthorized"] is True
    assert module.handler(event(f"Bearer {wrong_aud}")) == {"isAuthorized": False}


def test_secret_is_fetched_once_by_arn_and_cached(
    authorizer: tuple[ModuleType, list[str]],
) -> None:
    module, fetched = authorizer
    for _ in range(3):
        assert module.handler(event(f"Bearer {token()}"))["isAuthorized"] is True
    assert fetched == [ARN]
    # After the cache lifetime the secret is read again (a rotation is picked up).
    later = time.monotonic() + module.SECRET_TTL_SECONDS + 1
    assert module.jwt_secret(now=later) == SECRET
    assert fetched == [ARN, ARN]


def test_header_is_read_when_identity_source_is_absent(
    authorizer: tuple[ModuleType, list[str]],
) -> None:
    module, _ = authorizer
    result = module.handler({"headers": {"Authorization": f"Bearer {token()}"}})
    assert result["isAuthorized"] is True
