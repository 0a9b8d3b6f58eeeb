"""Forwarding and scheduled messages end to end (issue #16 B): the official JS client against
`python -m socket_tier.local`, and a scheduled send surviving a restart of the service."""

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests import servers
from tests.e2e.socket_harness import ROOT, Client, ServerProc, new_user, open_conversation

pytestmark = pytest.mark.e2e
API = "/api/v1/messages"
# A short minimum lead for these tests only (the default stays one minute), and a fast tick.
JS_DIR = ROOT / "tests" / "e2e" / "js"
FAST = {"SCHEDULED_MIN_LEAD_SECONDS": "1", "SCHEDULED_INTERVAL_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def embedded() -> Iterator[ServerProc]:
    server = ServerProc("local", env=FAST).start()
    yield server
    server.stop()


def auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


def test_official_js_client_forwards_and_schedules(embedded: ServerProc) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the JavaScript client test"
    subprocess.run([str(JS_DIR / "install.sh")], check=True, timeout=300)
    patient, doctor, doctor2 = new_user("patient"), new_user("doctor"), new_user("doctor")
    conv_a = asyncio.run(open_conversation(embedded.url, patient, doctor))
    conv_b = asyncio.run(open_conversation(embedded.url, doctor, doctor2))
    tokens = [patient["token"], doctor["token"], doctor2["token"]]
    done = subprocess.run(
        [node, str(JS_DIR / "forward_scheduled.js"), embedded.url, *tokens, conv_a, conv_b],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["forwarded"]["conversationId"] == conv_a
    assert seen["forwarded"]["senderId"] == patient["id"]
    assert seen["arrived"] == seen["scheduled"]["scheduledMessageId"]


async def test_a_scheduled_message_survives_a_restart_and_arrives_once() -> None:
    # Given the service on a real database (FerretDB on loopback), in a database of its own
    db = f"test_restart_{uuid.uuid4().hex[:10]}"
    env = {**FAST, "MONGODB_URI": servers.mongodb_uri(), "MONGODB_DB": db}
    patient, doctor = new_user("patient"), new_user("doctor")
    first = ServerProc("local", env=env).start()
    try:
        conv = await open_conversation(first.url, patient, doctor)
        when = datetime.now(UTC) + timedelta(seconds=4)
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as http:
            r = await http.post(
                f"{API}/conversations/{conv}/messages",
                json={"content": "Votre rendez-vous est demain", "scheduledAt": when.isoformat()},
                headers=auth(patient),
            )
        assert r.status_code == 202, r.text
        sid = r.json()["data"]["scheduledMessageId"]
    finally:
        first.kill()  # When the process dies before the message's time (no graceful stop)
    assert first.proc is not None
    assert first.proc.returncode != 0
    # And the service starts again (a new process on the same database)
    second = ServerProc("local", env=env).start()
    reader = Client(doctor)
    try:
        await reader.connect(second.url)
        # Then the doctor gets it once, under its scheduled id: live, or, when the new process
        # sent it before this client was connected (a slow start on a loaded machine), through
        # `sync`, as an app catches up after connecting. Bounded: 30 s.
        for _ in range(100):
            synced = await reader.call("sync", {"conversationId": conv, "afterSeq": 0})
            if synced["messages"]:
                break
            await asyncio.sleep(0.3)
        [got] = synced["messages"]
        assert got["id"] == sid
        assert got["content"] == "Votre rendez-vous est demain"
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as http:
            # A few more ticks of the scheduler find nothing more to send.
            for _ in range(5):
                r = await http.get(f"{API}/scheduled", headers=auth(patient))
                assert r.json()["data"] == []
                await asyncio.sleep(0.3)
            r = await http.get(f"{API}/conversations/{conv}/messages", headers=auth(doctor))
        assert [m["id"] for m in r.json()["data"]["messages"]] == [sid]
        # At most once live: never twice, never another message
        assert [m["id"] for m in reader.events["new_message"]] in ([], [sid])
    finally:
        await reader.close()
        second.stop()
        await _drop(db)


async def _drop(db: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(servers.mongodb_uri())
    try:
        await client.drop_database(db)
    finally:
        await client.close()
