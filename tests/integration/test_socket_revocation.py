"""The socket tier in production settings: tokens not for this service never connect, and the
operator's revocation closes a user's open socket (short sweep interval here)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import redis as redis_sync
import socketio

from tests.e2e.socket_harness import PYTHON, ROOT, Client, ServerProc, clients, servers, with_db
from tests.servers import mongodb_uri, redis_url

pytestmark = pytest.mark.integration

SECRET = "a-production-secret-of-at-least-thirty-two-bytes"
ISSUER = "https://auth.esante.fr"
AUDIENCE = "esante-messaging"
SWEEP = 0.5


def production_env() -> dict[str, str]:
    url = with_db(redis_url(), 9)
    redis_sync.Redis.from_url(url).flushdb()
    base = mongodb_uri().rstrip("/")
    return {
        "ENVIRONMENT": "production",
        "JWT_SECRET": SECRET,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "MONGODB_URI": f"{base}/",
        "MONGODB_DB": f"test_revocation_{uuid.uuid4().hex[:8]}",
        "REDIS_URL": url,
        "REVOCATION_SWEEP_SECONDS": str(SWEEP),
        "REVOCATION_CACHE_SECONDS": "0",
        "FRONTEND_URL": "https://app.esante.fr",
    }


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    proc = ServerProc("server", production_env())
    with servers(proc):
        yield proc


def token(uid: str, **claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": uid,
        "role": "doctor",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, algorithm="HS256")


def user(**claims: Any) -> dict[str, str]:
    uid = uuid.uuid4().hex[:24]
    return {"id": uid, "role": "doctor", "token": token(uid, **claims)}


BAD = {
    "wrong-aud": {"aud": "another-service"},
    "wrong-iss": {"iss": "https://evil.example"},
    "no-iat": {"iat": None},
    "lifetime-30-days": {"exp": int(time.time()) + 30 * 24 * 3600},
    "typ-refresh": {"typ": "refresh"},
}


@pytest.mark.parametrize("claims", BAD.values(), ids=BAD.keys())
async def test_a_token_not_for_this_service_gets_connect_error(
    server: ServerProc, claims: dict[str, Any]
) -> None:
    async with clients(Client(user(**claims))) as (c,):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await c.connect(server.url)
        assert not c.sio.connected


def revoke(uid: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The operator's command, with the service's own settings (as `make revoke` runs it)."""
    return subprocess.run(
        [PYTHON, "-m", "socket_tier.admin", "revoke", "--user-id", uid, "--reason", "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def test_a_revoked_users_open_socket_is_closed_and_cannot_come_back(
    server: ServerProc,
) -> None:
    banned, other = user(), user()
    async with clients(Client(banned), Client(other)) as (b, o):
        await b.connect(server.url)
        await o.connect(server.url)
        done = revoke(banned["id"], server.env)
        assert done.returncode == 0, done.stderr
        told = await b.wait_for("error", lambda e: e["event"] == "session", timeout=10)
        assert "revoked" in told["message"]
        for _ in range(50):  # bounded wait for the close that follows the event
            if not b.sio.connected:
                break
            await b.settle(0.1)
        assert not b.sio.connected
        assert o.sio.connected  # only the revoked user's socket closed
    # And the same token is refused at the handshake
    async with clients(Client(banned)) as (again,):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect(server.url)


def test_health_tells_nothing_operational(server: ServerProc) -> None:
    body = httpx.get(f"{server.url}/health", timeout=5).json()
    assert set(body) == {"service", "status", "timestamp", "onlineUsers"}


def test_the_operator_command_refuses_without_redis(server: ServerProc) -> None:
    env = {**server.env, "ENVIRONMENT": "development", "REDIS_URL": ""}
    env.pop("REDIS_URL")
    done = revoke(uuid.uuid4().hex[:24], env)
    assert done.returncode == 2
    assert "REDIS_URL" in done.stderr
