"""Care teams (#18) with the official JavaScript client, against `python -m socket_tier.local`
embedded (no Redis) and with the Redis fan-out (emit_to_users)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
import redis as redis_sync

from tests.e2e.socket_harness import ROOT, ServerProc, new_user, open_conversation, servers, with_db
from tests.servers import redis_url

pytestmark = pytest.mark.e2e

JS_DIR = ROOT / "tests" / "e2e" / "js"
API = "/api/v1/messages"


@pytest.fixture(scope="module", params=["embedded", "redis"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProc]:
    env: dict[str, str] = {}
    if request.param == "redis":
        url = with_db(redis_url(), 16)
        redis_sync.Redis.from_url(url).flushdb()
        env["REDIS_URL"] = url
    with servers(ServerProc("local", env)) as (proc,):
        yield proc


async def open_team(base_url: str, creator: dict[str, str], others: list[dict[str, str]]) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for u in others:  # each has presented a token once: the directory knows them
            r = await http.get(
                f"{API}/unread-count", headers={"Authorization": f"Bearer {u['token']}"}
            )
            assert r.status_code == 200, r.text
        r = await http.post(
            f"{API}/conversations",
            json={"participantIds": [u["id"] for u in others], "title": "Équipe de soins"},
            headers={"Authorization": f"Bearer {creator['token']}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["conversationId"])


def test_official_js_client_in_a_care_team(server: ServerProc) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the JavaScript client test"
    subprocess.run([str(JS_DIR / "install.sh")], check=True, timeout=300)
    creator, patient = new_user("doctor", "Dr Lead"), new_user("patient", "Alice")
    colleague, outsider = new_user("doctor", "Dr Second"), new_user("patient", "Bob")
    team = asyncio.run(open_team(server.url, creator, [patient, colleague]))
    barrier = asyncio.run(open_conversation(server.url, outsider, creator))
    tokens = [u["token"] for u in (creator, patient, colleague, outsider)]
    done = subprocess.run(
        [node, str(JS_DIR / "care_team.js"), server.url, *tokens, team, barrier],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(seen["receipts"]) == sorted([patient["id"], colleague["id"]])
    assert seen["read"]["readBy"] == patient["id"]
    assert seen["typing"]["userId"] == colleague["id"]
