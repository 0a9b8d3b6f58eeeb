"""Item 3 of issue 13: a key fetch (Secrets Manager, JWKS) never runs on the event loop."""

import asyncio
import threading

import pytest
from messaging_core import auth
from messaging_core.auth import mint_token
from messaging_core.core import Core
from messaging_core.revocation import authenticate

from tests.conftest import make_settings

UID = "673a1b2c3d4e5f6a7b8c9d0e"
SECRET = "test-secret-of-at-least-thirty-two-bytes!"
ARN = "arn:aws:secretsmanager:eu-west-3:000000000000:secret:jwt"
# A bound on every wait, never a pass/fail timing: the test releases the fetcher itself.
BOUND_SECONDS = 5.0


async def test_the_loop_keeps_serving_while_a_secret_fetch_is_slow(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(jwt_secret_arn=ARN)
    monkeypatch.setattr(core, "settings", settings)
    token = mint_token(make_settings(), UID, "doctor")  # signed with the same secret
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_fetch(arn: str) -> str:
        assert arn == ARN
        entered.set()
        release.wait(BOUND_SECONDS)
        finished.set()
        return SECRET

    monkeypatch.setattr(auth, "read_secret", slow_fetch)

    async def another_client() -> bool:
        """Runs on the loop while the fetch is in flight, then lets the fetch finish."""
        await asyncio.to_thread(entered.wait, BOUND_SECONDS)
        served_during_fetch = entered.is_set() and not finished.is_set()
        release.set()
        return served_during_fetch

    verifying = asyncio.create_task(authenticate(core, token))
    assert await another_client() is True
    assert (await verifying).id == UID


async def test_a_token_without_a_key_to_fetch_is_checked_inline(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The development/test secret costs no thread hop (it is CPU only)."""

    def no_thread(*_: object, **__: object) -> None:
        raise AssertionError("no worker thread for a key held in the settings")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    token = mint_token(core.settings, UID, "patient")
    assert (await authenticate(core, token)).id == UID


async def test_the_loop_keeps_serving_while_a_jwks_fetch_is_slow(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RS256: PyJWKClient fetches the JWKS (blocking urllib) when its cache misses or expires."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = make_settings(jwt_algorithm="RS256", jwt_jwks_url="http://127.0.0.1:9/jwks.json")
    monkeypatch.setattr(core, "settings", settings)
    now = int(time.time())
    claims = {"sub": UID, "role": "doctor", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    class SlowJwks:
        def get_signing_key_from_jwt(self, _token: str) -> jwt.PyJWK:
            entered.set()
            release.wait(BOUND_SECONDS)
            finished.set()
            return jwt.PyJWK.from_dict(
                {
                    **jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True),
                    "kid": "k1",
                    "alg": "RS256",
                }
            )

    monkeypatch.setattr(auth, "_jwks_client", lambda _url: SlowJwks())

    async def another_client() -> bool:
        await asyncio.to_thread(entered.wait, BOUND_SECONDS)
        served_during_fetch = entered.is_set() and not finished.is_set()
        release.set()
        return served_during_fetch

    verifying = asyncio.create_task(authenticate(core, token))
    assert await another_client() is True
    assert (await verifying).id == UID
