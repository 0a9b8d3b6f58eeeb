"""Token rules shared by REST and the socket handshake."""

import time
import warnings
from typing import Any

import jwt
import pytest
from messaging_core.auth import bearer_token, mint_token, verify_token
from messaging_core.config import Settings
from messaging_core.errors import Unauthorized

from tests.conftest import make_settings

UID = "673a1b2c3d4e5f6a7b8c9d0e"


def token(settings: Settings, claims: dict[str, Any], alg: str = "HS256", key: Any = None) -> str:
    now = int(time.time())
    base = {"iat": now, "exp": now + 60, **claims}
    secret = key if key is not None else settings.jwt_secret.get_secret_value()
    return jwt.encode(base, secret, algorithm=alg)


def test_valid_token_gives_the_principal(settings: Settings) -> None:
    user = verify_token(mint_token(settings, UID, "doctor", "Dr. Sarah Smith"), settings)
    assert (user.id, user.role, user.name) == (UID, "doctor", "Dr. Sarah Smith")


@pytest.mark.parametrize(
    "claims",
    [{"userId": UID, "userType": "patient"}, {"id": UID, "role": "patient"}],
)
def test_claim_aliases_of_the_platform_auth_service(settings: Settings, claims: dict) -> None:
    user = verify_token(token(settings, claims), settings)
    assert user.id == UID
    assert user.role == "patient"
    assert user.name is None


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "123", "role": "doctor"}, "24-character"),
        ({"sub": {"$ne": None}, "role": "doctor"}, "Invalid token"),
        ({"sub": UID, "role": "admin"}, "role"),
        ({"sub": UID}, "role"),
    ],
)
def test_bad_claims_are_refused(settings: Settings, claims: dict, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason):
        verify_token(token(settings, claims), settings)


def test_expired_and_missing_exp_are_refused(settings: Settings) -> None:
    expired = jwt.encode(
        {"sub": UID, "role": "doctor", "iat": int(time.time()) - 120, "exp": int(time.time()) - 60},
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(expired, settings)
    no_exp = jwt.encode(
        {"sub": UID, "role": "doctor"}, settings.jwt_secret.get_secret_value(), algorithm="HS256"
    )
    with pytest.raises(Unauthorized, match="exp"):
        verify_token(no_exp, settings)


def test_algorithm_is_pinned(settings: Settings) -> None:
    claims = {"sub": UID, "role": "doctor", "exp": int(time.time()) + 60}
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        verify_token(unsigned, settings)
    with warnings.catch_warnings():
        # PyJWT rightly finds the development secret short for HS512; the attack is the algorithm.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        hs512 = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS512")
    with pytest.raises(Unauthorized):
        verify_token(hs512, settings)
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-000", algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_token(forged, settings)


def test_issuer_and_audience_are_checked_when_configured() -> None:
    settings = make_settings(jwt_issuer="https://auth.esante.fr", jwt_audience="messaging")
    good = mint_token(settings, UID, "doctor")
    assert verify_token(good, settings).id == UID
    plain = make_settings()
    wrong = mint_token(plain, UID, "doctor")  # no iss/aud
    with pytest.raises(Unauthorized):
        verify_token(wrong, settings)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bearer_header_forms(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        bearer_token(header)
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer abc.def") == "abc.def"


def test_a_token_that_is_not_a_string_is_refused(settings: Settings) -> None:
    with pytest.raises(Unauthorized):
        verify_token({"$ne": None}, settings)
