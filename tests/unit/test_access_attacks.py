"""Issue 10, tried as an attacker would: every refusal below is an attack that once got through.

REST on the in-memory Core; the user-service stub and the socket tier have their own
integration tests (tests/integration/test_user_directory.py, test_socket_revocation.py).
"""

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from messaging_core.adapters.memory import (
    MemoryPresence,
    MemoryRateLimiter,
    MemoryRevocations,
    RecordingNotifier,
)
from messaging_core.auth import mint_token
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.errors import Unauthorized, Unavailable
from messaging_core.ids import new_id
from messaging_core.models import Principal
from messaging_core.revocation import check_not_revoked, revoke_in_core
from messaging_core.revocation_cache import RevocationCache
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from tests.conftest import API, Cast

SECRET = "a-production-secret-of-at-least-thirty-two-bytes"
ISSUER = "https://auth.esante.fr"
AUDIENCE = "esante-messaging"


async def only_message(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["message"], body  # the same shape for every refusal
    return str(body["message"])


async def stored_conversations(core: Core, user_id: str) -> int:
    _, total = await core.store.list_conversations(user_id, None, 0, 10)
    return total


# -- 1. the recipient's role comes from the directory, never from the client


async def test_a_patient_cannot_reach_a_never_seen_patient_by_claiming_doctor(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    # Given a patient id nobody has ever presented a token for
    stranger = new_id()
    # When a patient claims it is a doctor
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": stranger, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    # Then: not found, and nothing stored
    assert await only_message(r, 404) == "Recipient not found"
    assert await stored_conversations(core, cast.patient.id) == 0


async def test_an_unknown_id_and_an_unreachable_patient_answer_alike_in_shape(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    unknown = await client.post(
        f"{API}/conversations",
        json={"recipientId": new_id(), "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    known = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.patient2.id, "recipientType": "patient"},
        headers=cast.patient.headers,
    )
    # A bare {message} each, the same headers, and nothing about the recipient
    assert await only_message(unknown, 404) == "Recipient not found"
    assert await only_message(known, 403) == "Patients can only message doctors"
    assert unknown.headers.keys() == known.headers.keys()


class CountingDirectory:
    """Counts the authoritative look-ups (the work a refusal does)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lookups = 0

    async def remember(self, profile: Any) -> None:
        await self.inner.remember(profile)

    async def get_profile(self, user_id: str) -> Any:
        return await self.inner.get_profile(user_id)

    async def get_profiles(self, user_ids: Any) -> Any:
        return await self.inner.get_profiles(user_ids)

    async def lookup(self, user_id: str) -> Any:
        self.lookups += 1
        return await self.inner.lookup(user_id)


@pytest.mark.parametrize("target", ["unknown", "patient2", "doctor"])
async def test_every_recipient_costs_the_same_single_look_up(
    client: httpx.AsyncClient, core: Core, cast: Cast, target: str
) -> None:
    # No early return for an unknown id: it takes the same path as a known one
    counting = CountingDirectory(core.directory)
    core.directory = counting
    rid = {"unknown": new_id(), "patient2": cast.patient2.id, "doctor": cast.doctor.id}[target]
    await client.post(
        f"{API}/conversations",
        json={"recipientId": rid, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    assert counting.lookups == 1


async def test_a_recipient_type_that_contradicts_the_directory_is_400(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    # A doctor says the other doctor is a patient: the directory disagrees, nothing is created
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "patient"},
        headers=cast.doctor.headers,
    )
    assert "does not match" in await only_message(r, 400)
    assert await stored_conversations(core, cast.doctor.id) == 0


class DownDirectory(CountingDirectory):
    """A user directory that cannot answer (the user service timing out)."""

    async def lookup(self, user_id: str) -> Any:
        self.lookups += 1
        raise Unavailable("User directory unavailable, try again")


async def test_directory_down_is_503_nothing_created_but_an_existing_conversation_opens(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any
) -> None:
    existing = await open_conversation(cast.patient, cast.doctor)
    down = DownDirectory(core.directory)
    core.directory = down
    # A new pair: the directory must answer, it cannot: 503, nothing stored
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    await only_message(r, 503)
    assert await stored_conversations(core, cast.doctor2.id) == 0
    # The existing pair opens without asking it
    again = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    assert again.status_code == 200
    assert again.json()["data"]["conversationId"] == existing
    assert down.lookups == 1


# -- 3. tokens are for this service, now (production settings)


def production_settings(**overrides: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        jwt_secret=SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        mongodb_uri="mongodb://127.0.0.1:1/never-used",  # the test passes its own store
        redis_url="redis://127.0.0.1:1/0",  # never used: every Redis port is given
        **overrides,
    )


async def production_core(settings: Settings) -> Core:
    return await build_core(
        settings,
        store=MemoryStore(),
        presence=MemoryPresence(),
        notifier=RecordingNotifier(),
        rate_limiter=MemoryRateLimiter(),
        revocations=MemoryRevocations(),
    )


@pytest.fixture
async def prod() -> AsyncIterator[tuple[httpx.AsyncClient, Core]]:
    core = await production_core(production_settings())
    set_core(core)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c, core
    set_core(None)


def forge(**claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "673a1b2c3d4e5f6a7b8c9d0e",
        "role": "doctor",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, algorithm="HS256")


def thirty_days() -> dict[str, int]:
    now = int(time.time())
    return {"iat": now, "exp": now + 30 * 24 * 3600}


BAD_TOKENS: dict[str, dict[str, Any]] = {
    "wrong-aud": {"aud": "another-service"},
    "wrong-iss": {"iss": "https://evil.example"},
    "no-aud": {"aud": None},
    "no-iss": {"iss": None},
    "no-iat": {"iat": None},
    "lifetime-30-days": thirty_days(),
    "typ-refresh": {"typ": "refresh"},
    "token_use-id": {"token_use": "id"},
    "typ-reset": {"typ": "password_reset"},
}


@pytest.mark.parametrize("claims", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_tokens_not_for_this_service_are_401_in_production(
    prod: tuple[httpx.AsyncClient, Core], claims: dict[str, Any]
) -> None:
    client, _ = prod
    r = await client.get(
        f"{API}/unread-count", headers={"Authorization": f"Bearer {forge(**claims)}"}
    )
    await only_message(r, 401)


@pytest.mark.parametrize("use", [{}, {"typ": "access"}, {"token_use": "access"}])
async def test_a_good_access_token_still_works_in_production(
    prod: tuple[httpx.AsyncClient, Core], use: dict[str, str]
) -> None:
    client, _ = prod
    r = await client.get(f"{API}/unread-count", headers={"Authorization": f"Bearer {forge(**use)}"})
    assert r.status_code == 200, r.text


def test_the_lifetime_cap_is_a_setting() -> None:
    from messaging_core.auth import verify_token

    settings = production_settings(jwt_max_lifetime_seconds=3600)
    now = int(time.time())
    with pytest.raises(Unauthorized, match="lifetime"):
        verify_token(forge(iat=now, exp=now + 7200), settings)
    assert verify_token(forge(iat=now, exp=now + 3600), settings).role == "doctor"


# -- 4. revocation


async def test_a_revoked_user_is_401_at_once_and_a_new_token_works(
    client: httpx.AsyncClient, core: Core, cast: Cast, settings: Settings
) -> None:
    before = await client.get(f"{API}/unread-count", headers=cast.doctor.headers)
    assert before.status_code == 200
    mark = await revoke_in_core(core, cast.doctor.id)
    r = await client.get(f"{API}/unread-count", headers=cast.doctor.headers)
    assert "revoked" in await only_message(r, 401)
    # Other users are untouched; the user signs in again with a token issued after the mark
    ok = await client.get(f"{API}/unread-count", headers=cast.patient.headers)
    assert ok.status_code == 200
    fresh = mint_token(settings, cast.doctor.id, "doctor", issued_at=int(mark) + 1)
    again = await client.get(f"{API}/unread-count", headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


async def test_one_token_is_denied_by_its_jti(
    client: httpx.AsyncClient, core: Core, cast: Cast, settings: Settings
) -> None:
    stolen = mint_token(settings, cast.doctor.id, "doctor")
    jti = jwt.decode(stolen, options={"verify_signature": False})["jti"]
    await core.revocations.deny_token(jti, 3600)
    r = await client.get(f"{API}/unread-count", headers={"Authorization": f"Bearer {stolen}"})
    await only_message(r, 401)
    assert (await client.get(f"{API}/unread-count", headers=cast.doctor.headers)).status_code == 200


async def test_a_mark_set_by_another_process_counts_once_the_cache_ages(core: Core) -> None:
    # Given a cache with a fake clock, and a user whose answer is cached
    now = [1000.0]
    core.revocation_cache = RevocationCache(2.0, clock=lambda: now[0])
    user = Principal(new_id(), "doctor", issued_at=time.time() - 10)
    await check_not_revoked(core, user)
    # When another process (the operator's command) revokes the user in the shared store
    await core.revocations.revoke_user(user.id, time.time(), 3600)
    # Then within the cache's life the answer may be stale, and after it the user is refused
    now[0] += 1.9
    await check_not_revoked(core, user)
    now[0] += 0.2
    with pytest.raises(Unauthorized, match="revoked"):
        await check_not_revoked(core, user)


async def test_unreadable_marks_refuse_the_token(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    class Down:
        async def marks(self, user_id: str, token_id: str | None) -> tuple[float | None, bool]:
            raise Unavailable("Session check unavailable, try again")

    core.revocations = Down()  # type: ignore[assignment]
    r = await client.get(f"{API}/unread-count", headers=cast.doctor.headers)
    await only_message(r, 503)


# -- 6. CORS


def test_cors_sends_no_credentials_and_no_localhost_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient
    from messaging_core.config import get_settings

    env = {
        "ENVIRONMENT": "production",
        "JWT_SECRET": SECRET,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "MONGODB_URI": "mongodb://127.0.0.1:1/never-used",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FRONTEND_URL", raising=False)
    get_settings.cache_clear()
    try:
        app = create_local_app()
    finally:
        get_settings.cache_clear()
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
    r = TestClient(app).options(f"{API}/conversations", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-credentials" not in r.headers

    monkeypatch.setenv("FRONTEND_URL", "https://app.esante.fr")
    get_settings.cache_clear()
    try:
        app = create_local_app()
    finally:
        get_settings.cache_clear()
    r = TestClient(app).options(
        f"{API}/conversations", headers={**preflight, "Origin": "https://app.esante.fr"}
    )
    assert r.headers["access-control-allow-origin"] == "https://app.esante.fr"
    assert "access-control-allow-credentials" not in r.headers
