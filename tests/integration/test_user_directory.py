"""The recipient's role comes from the user service alone: a stub service on loopback answers
404, too late, 500, or an unknown role, and no conversation is ever created on a guess."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from tests.conftest import API, Cast, make_settings

pytestmark = pytest.mark.integration

# What the stub answers for each id (ids are fresh per module run).
DOCTOR, MISSING, SLOW, BROKEN, NURSE, PATIENT = (new_id() for _ in range(6))
TIMEOUT = 0.3


class Stub(BaseHTTPRequestHandler):
    release = threading.Event()  # the slow answer waits on this, never on a fixed sleep

    def do_GET(self) -> None:
        uid = self.path.rstrip("/").rsplit("/", 1)[-1]
        if uid == SLOW:
            self.release.wait(timeout=5)  # bounded: the test releases it on teardown
            self._answer(200, {"data": {"role": "doctor"}})
        elif uid == BROKEN:
            self._answer(500, {"message": "boom"})
        elif uid == NURSE:
            self._answer(200, {"data": {"firstName": "Ann", "role": "nurse"}})
        elif uid == DOCTOR:
            self._answer(200, {"data": {"firstName": "Sarah", "role": "doctor"}})
        elif uid == PATIENT:
            self._answer(200, {"data": {"firstName": "Paul", "role": "patient"}})
        else:
            self._answer(404, {"message": "User not found"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def user_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        Stub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def service(user_service: str) -> AsyncIterator[tuple[httpx.AsyncClient, Core]]:
    settings = make_settings(user_service_url=user_service, user_service_timeout_seconds=TIMEOUT)
    core = await build_core(settings, store=MemoryStore())
    set_core(core)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, core
    set_core(None)
    await core.directory.close()  # type: ignore[attr-defined]


async def attempt(client: httpx.AsyncClient, cast: Cast, rid: str) -> httpx.Response:
    return await client.post(
        f"{API}/conversations",
        json={"recipientId": rid, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )


@pytest.mark.parametrize(
    ("rid", "status"),
    [(MISSING, 404), (NURSE, 404), (SLOW, 503), (BROKEN, 503), (PATIENT, 403)],
    ids=["404", "unknown-role", "timeout", "500", "a-patient"],
)
async def test_a_patient_claiming_doctor_is_refused_whatever_the_service_says(
    service: tuple[httpx.AsyncClient, Core], cast: Cast, rid: str, status: int
) -> None:
    client, core = service
    # The patient signed in before (the embedded directory heard its token): it changes nothing
    r = await attempt(client, cast, rid)
    assert r.status_code == status, r.text
    assert list(r.json()) == ["message"]
    if status == 404:
        assert r.json()["message"] == "Recipient not found"
    _, total = await core.store.list_conversations(cast.patient.id, None, 0, 10)
    assert total == 0  # nothing stored


async def test_a_token_seen_by_this_service_does_not_outrank_the_user_service(
    service: tuple[httpx.AsyncClient, Core], cast: Cast
) -> None:
    client, core = service
    # Given MISSING once presented a token claiming "doctor" (the embedded directory knows it)
    from messaging_core.models import Principal

    await core.identify(Principal(MISSING, "doctor"))
    # Then the user service's 404 still decides
    r = await attempt(client, cast, MISSING)
    assert r.status_code == 404


async def test_a_doctor_the_service_knows_is_reachable(
    service: tuple[httpx.AsyncClient, Core], cast: Cast
) -> None:
    client, _ = service
    r = await attempt(client, cast, DOCTOR)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["recipient"]["type"] == "doctor"
