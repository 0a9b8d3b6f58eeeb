"""Fixtures shared by every test: a fresh Core on the in-memory store, users, tokens, a client."""

import os

# An unset ENVIRONMENT means production (and refuses the development secret): the tests say
# which one they run in, before any module reads the settings.
os.environ.setdefault("ENVIRONMENT", "development")

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from messaging_core.auth import mint_token
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.models import Principal
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from tests.replies_check import ReplyChecker, same_bytes_as_untyped, served_document


@dataclass(frozen=True)
class User:
    principal: Principal
    token: str

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env and environment-specific values."""
    return Settings(
        _env_file=None,
        environment="test",
        jwt_secret="test-secret-of-at-least-thirty-two-bytes!",
        **overrides,
    )  # type: ignore[call-arg]


def make_user(settings: Settings, user_id: str, role: str, name: str) -> User:
    principal = Principal(id=user_id, role=role, name=name)  # type: ignore[arg-type]
    return User(principal, mint_token(settings, user_id, role, name))


@dataclass(frozen=True)
class Cast:
    """Four users: a patient, two doctors, and another patient (a stranger to the first)."""

    patient: User
    doctor: User
    doctor2: User
    patient2: User


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def cast(settings: Settings) -> Cast:
    return Cast(
        patient=make_user(settings, "673a1b2c3d4e5f6a7b8c9d0a", "patient", "John Doe"),
        doctor=make_user(settings, "673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith"),
        doctor2=make_user(settings, "673a1b2c3d4e5f6a7b8c9d1f", "doctor", "Dr. Michael Johnson"),
        patient2=make_user(settings, "673a1b2c3d4e5f6a7b8c9d2a", "patient", "Jane Roe"),
    )


async def sign_in(core: Core, cast: Cast) -> None:
    """The cast has signed in before: the embedded directory knows them, as after a first call
    (tests about unknown recipients use ids nobody presented)."""
    for user in (cast.patient, cast.doctor, cast.doctor2, cast.patient2):
        await core.identify(user.principal)


@pytest.fixture
async def core(settings: Settings, cast: Cast) -> AsyncIterator[Core]:
    built = await build_core(settings, store=MemoryStore())
    await sign_in(built, cast)
    set_core(built)
    yield built
    set_core(None)


@pytest.fixture
async def client(
    core: Core,  # noqa: ARG001 (set_core first)
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """The local app (every REST router) over ASGI, on the `core` fixture. Each success reply
    must match its schema in the served document and the untyped bytes (tests/replies_check.py)."""
    app = create_local_app()
    checker = ReplyChecker(served_document())
    transport = httpx.ASGITransport(app=app)
    hooks = {"response": [checker.on_response]}
    with same_bytes_as_untyped(monkeypatch):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", event_hooks=hooks
        ) as c:
            yield c


API = "/api/v1/messages"


@pytest.fixture
def open_conversation(
    client: httpx.AsyncClient,
) -> Callable[[User, User], Any]:
    async def _open(a: User, b: User) -> str:
        r = await client.post(
            f"{API}/conversations",
            json={"recipientId": b.id, "recipientType": b.principal.role},
            headers=a.headers,
        )
        assert r.status_code in (200, 201), r.text
        return str(r.json()["data"]["conversationId"])

    return _open


@pytest.fixture
def send(client: httpx.AsyncClient) -> Callable[..., Any]:
    async def _send(user: User, conversation_id: str, content: str, **extra: Any) -> dict[str, Any]:
        r = await client.post(
            f"{API}/conversations/{conversation_id}/messages",
            json={"content": content, **extra},
            headers=user.headers,
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    return _send
