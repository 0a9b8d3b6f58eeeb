"""CloudFront as the only way in (#11): without the origin header the API refuses every path.

In AWS, CloudFront adds ORIGIN_VERIFY_HEADER (a Secrets Manager value) to each origin request;
a caller of the execute-api URL does not know it. /health is refused too: monitors use the
CloudFront URL, and a direct anonymous flood gets a 403 without a route running.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from messaging_core import origin
from messaging_core.config import Settings
from messaging_core.core import Core
from messaging_core.errors import Forbidden
from messaging_core.names import ORIGIN_VERIFY_HEADER
from messaging_core.origin import DIRECT_ACCESS, check_origin

from functions.local_app import create_local_app
from tests.conftest import Cast, make_settings

API = "/api/v1/messages"
SECRET = "s3cr3t-origin-value-of-forty-eight-characters-xx"


@pytest.fixture
def settings() -> Settings:
    return make_settings(origin_verify_secret=SECRET)


@pytest.fixture
async def raw(core: Core) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ARG001 (set_core first)
    """The local app without the reply-schema hooks (a refusal has no success schema)."""
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.mark.parametrize("path", [f"{API}/conversations", "/health", f"{API}/unread-count"])
async def test_a_request_without_the_header_is_403(
    raw: httpx.AsyncClient, cast: Cast, path: str
) -> None:
    r = await raw.get(path, headers=cast.patient.headers)
    assert r.status_code == 403
    assert r.json() == {"message": DIRECT_ACCESS}


async def test_a_wrong_header_is_403_and_the_body_is_not_read(
    raw: httpx.AsyncClient, cast: Cast
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(3):  # bounded
            pulled += 1
            yield b'{"content": "x"}'

    headers = {**cast.patient.headers, ORIGIN_VERIFY_HEADER: SECRET[:-1] + "y"}
    r = await raw.post(f"{API}/conversations/{'6' * 24}/messages", content=body(), headers=headers)
    assert r.status_code == 403
    assert pulled == 0


async def test_with_the_header_every_path_answers_as_before(
    raw: httpx.AsyncClient, cast: Cast
) -> None:
    edge = {ORIGIN_VERIFY_HEADER: SECRET}
    assert (await raw.get("/health", headers=edge)).status_code == 200
    r = await raw.get(f"{API}/conversations", headers={**cast.patient.headers, **edge})
    assert r.status_code == 200, r.text
    # Still the token's job: the header proves the path, not the caller
    assert (await raw.get(f"{API}/conversations", headers=edge)).status_code == 401


def test_unset_means_no_check() -> None:
    check_origin(make_settings(), None)  # `make run` and the tests: nothing to prove


ARN = "arn:aws:secretsmanager:eu-west-3:111111111111:secret:origin-verify"


def test_the_value_is_read_from_secrets_manager_by_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same seam as the JWT secret's test (test_auth_off_loop): no AWS call in a unit test.
    monkeypatch.setattr(origin, "read_secret", lambda arn: SECRET + "\n" if arn == ARN else "")
    settings = make_settings(origin_verify_secret_arn=ARN)
    check_origin(settings, SECRET)
    with pytest.raises(Forbidden):
        check_origin(settings, "guess")


def test_an_unreadable_secret_refuses_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(_arn: str) -> str:
        raise OSError("no route to Secrets Manager")

    monkeypatch.setattr(origin, "read_secret", unreachable)
    with pytest.raises(Forbidden):
        check_origin(make_settings(origin_verify_secret_arn=ARN), SECRET)
    # An empty secret never matches an empty or missing header
    monkeypatch.setattr(origin, "read_secret", lambda _arn: "")
    for presented in ("", None):
        with pytest.raises(Forbidden):
            check_origin(make_settings(origin_verify_secret_arn=ARN), presented)
