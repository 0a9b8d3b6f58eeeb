"""`POST /dev/token` (the demo page's sign-in): development only, and the user becomes known."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from messaging_core.auth import verify_token
from messaging_core.config import Settings, get_settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.dev_signin import issue_dev_token
from messaging_core.errors import Invalid, NotFound
from messaging_core.inputs import DevTokenIn
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from socket_tier.local import allow_own_origin
from tests.conftest import make_settings as suite_settings


def make_settings(**overrides: Any) -> Settings:
    """The suite's settings with another environment (they pin `test`)."""
    return suite_settings().model_copy(update=overrides)


@pytest.fixture
def environment() -> str:
    return "development"


@pytest.fixture
def settings(environment: str) -> Settings:
    return make_settings(environment=environment)


@pytest.fixture(autouse=True)
def process_environment(environment: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The app factory reads the process settings (as `make run` does); keep them in step.
    monkeypatch.setenv("ENVIRONMENT", environment)
    # What production insists on at start-up; nothing connects to it here.
    monkeypatch.setenv("JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes!")
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:1/unused")
    if environment == "production":  # production also insists on these (#10); unused here
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
        monkeypatch.setenv("JWT_ISSUER", "esante-auth")
        monkeypatch.setenv("JWT_AUDIENCE", "esante-messaging")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def web(core: Core) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ARG001 (set_core first)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def sign_in(web: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await web.post("/dev/token", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_dev_token_mints_a_token_the_service_accepts(
    web: httpx.AsyncClient, core: Core
) -> None:
    data = await sign_in(web, role="doctor", name="Dr. Sarah Smith")
    user = verify_token(data["token"], core.settings)
    assert (user.id, user.role, user.name) == (data["userId"], "doctor", "Dr. Sarah Smith")
    r = await web.get(
        "/api/v1/messages/conversations", headers={"Authorization": f"Bearer {data['token']}"}
    )
    assert r.status_code == 200, r.text


async def test_dev_token_makes_the_user_known_to_the_directory(
    web: httpx.AsyncClient, core: Core
) -> None:
    # Given a doctor who signed in on the page but has sent no request yet
    doctor = await sign_in(web, role="doctor", name="Dr. Who")
    patient = await sign_in(web, role="patient", name="Alice")
    # When the patient opens a conversation with that doctor
    r = await web.post(
        "/api/v1/messages/conversations",
        json={"recipientId": doctor["userId"], "recipientType": "doctor"},
        headers={"Authorization": f"Bearer {patient['token']}"},
    )
    # Then the directory already knows the doctor's role and name
    assert r.status_code == 201, r.text
    assert r.json()["data"]["recipient"]["name"] == "Dr. Who"
    profile = await core.directory.get_profile(doctor["userId"])
    assert profile is not None
    assert profile.type == "doctor"


async def test_dev_token_keeps_a_given_user_id(web: httpx.AsyncClient) -> None:
    data = await sign_in(web, role="patient", userId="673A1B2C3D4E5F6A7B8C9D0A")
    assert data["userId"] == "673a1b2c3d4e5f6a7b8c9d0a"


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {},
        {"role": "patient", "userId": "not-an-id"},
        {"role": "patient", "userId": {"$ne": None}},
        {"role": "doctor", "name": "x" * 101},
    ],
)
async def test_dev_token_refuses_bad_input(web: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await web.post("/dev/token", json=body)
    assert r.status_code == 400
    assert "message" in r.json()


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_dev_token_is_404_outside_development(web: httpx.AsyncClient) -> None:
    r = await web.post("/dev/token", json={"role": "doctor", "name": "Mallory"})
    assert r.status_code == 404
    assert r.json() == {"message": "Not found"}


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_core_refuses_to_mint_outside_development(environment: str) -> None:
    # The route is not even mounted there; the core refuses too, should anything call it.
    core = await build_core(make_settings(environment=environment), store=MemoryStore())
    set_core(core)
    try:
        with pytest.raises(NotFound):
            await issue_dev_token(core, DevTokenIn(role="doctor"))
    finally:
        set_core(None)


async def test_core_refuses_when_tokens_are_not_hs256() -> None:
    core = await build_core(
        make_settings(environment="development", jwt_algorithm="RS256"), store=MemoryStore()
    )
    with pytest.raises(Invalid):
        await issue_dev_token(core, DevTokenIn(role="doctor"))


async def test_page_is_served_at_root_and_api_404s_stay_json(web: httpx.AsyncClient) -> None:
    page = await web.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'src="vendor/socket.io.min.js"' in page.text
    assert 'src="app.js"' in page.text
    for asset in ("app.js", "style.css", "vendor/socket.io.min.js"):
        assert (await web.get(f"/{asset}")).status_code == 200, asset
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = await web.request(method, "/api/v1/messages/nope/nothing/here")
        assert r.status_code == 404, method
        assert r.json() == {"message": "Not found"}, method


def test_make_run_lets_its_own_page_origin_in() -> None:
    # Socket.IO refuses an origin outside FRONTEND_URL: the page served by `make run` must be in.
    env = {"PORT": "3006", "FRONTEND_URL": "https://app.example.org"}
    allow_own_origin(env)
    assert env["FRONTEND_URL"].split(",") == [
        "https://app.example.org",
        "http://localhost:3006",
        "http://127.0.0.1:3006",
    ]
    allow_own_origin(env)  # idempotent
    assert env["FRONTEND_URL"].count("localhost:3006") == 1
    default: dict[str, str] = {}
    allow_own_origin(default)
    assert "http://localhost:3000" in default["FRONTEND_URL"].split(",")
