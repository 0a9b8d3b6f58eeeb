"""One full conversation through real clients (python-socketio and the official JS client)
against `python -m socket_tier.local` (REST + Socket.IO on one port) started as a subprocess."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
import redis as redis_sync

from tests.e2e.socket_harness import (
    ROOT,
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.e2e

JS_DIR = ROOT / "tests" / "e2e" / "js"


@pytest.fixture(scope="module")
def embedded() -> Iterator[ServerProc]:
    """`make run` as a newcomer gets it: no REDIS_URL, no MONGODB_URI."""
    with servers(ServerProc("local")) as (proc,):
        yield proc


@pytest.fixture(scope="module")
def with_redis() -> Iterator[ServerProc]:
    url = with_db(redis_url(), 6)  # 11 is test_redis_batching.py's (tests/unit/test_redis_dbs.py)
    redis_sync.Redis.from_url(url).flushdb()
    with servers(ServerProc("local", {"REDIS_URL": url})) as (proc,):
        yield proc


async def full_conversation(server: ServerProc) -> None:
    patient, doctor = new_user("patient", "Alice"), new_user("doctor", "Dr Martin")
    conv = await open_conversation(server.url, patient, doctor)
    async with clients(Client(patient), Client(doctor)) as (cp, cd):
        # Connect: the doctor sees the patient come online.
        await cd.connect(server.url)
        await cp.connect(server.url)
        assert (await cd.wait_for("user_online"))["userId"] == patient["id"]
        # Send and deliver.
        ack = await cp.call(
            "send_message",
            {"conversationId": conv, "receiverId": doctor["id"], "content": "J'ai mal",
             "messageType": "text", "tempId": "temp_1"},
        )  # fmt: skip
        assert ack["ok"]
        assert (await cp.wait_for("message_sent"))["tempId"] == "temp_1"
        msg = await cd.wait_for("new_message")
        assert msg["id"] == ack["messageId"]
        assert msg["seq"] == 1
        assert (await cp.wait_for("message_delivered"))["messageId"] == ack["messageId"]
        # Type.
        await cd.call("typing_start", {"conversationId": conv})
        assert (await cp.wait_for("user_typing"))["userName"] == "Dr Martin"
        await cd.call("typing_stop", {"conversationId": conv})
        await cp.wait_for("user_stopped_typing")
        # Read.
        await cd.call("join_conversation", {"conversationId": conv})
        await cd.call("mark_as_read", {"conversationId": conv, "messageIds": [ack["messageId"]]})
        assert (await cd.wait_for("mark_as_read_success"))["messageIds"] == [ack["messageId"]]
        assert (await cp.wait_for("messages_read"))["readBy"] == doctor["id"]
        # Delete (REST), both sides hear it.
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.delete(
                f"/api/v1/messages/{ack['messageId']}",
                headers={"Authorization": f"Bearer {patient['token']}"},
            )
            assert r.status_code == 200, r.text
        for c in (cp, cd):
            assert (await c.wait_for("message_deleted"))["messageId"] == ack["messageId"]
        # Disconnect.
        await cp.close()
        assert (await cd.wait_for("user_offline"))["userId"] == patient["id"]
        async with httpx.AsyncClient(base_url=server.url) as http:
            health = (await http.get("/health")).json()
            assert health["status"] == "healthy"
            assert health["onlineUsers"] >= 1


async def test_python_client_full_conversation_embedded(embedded: ServerProc) -> None:
    await full_conversation(embedded)


async def test_python_client_full_conversation_with_redis(with_redis: ServerProc) -> None:
    await full_conversation(with_redis)


def run_js(server: ServerProc) -> dict[str, object]:
    node = shutil.which("node")
    assert node, "Node.js is required for the JavaScript client test"
    subprocess.run([str(JS_DIR / "install.sh")], check=True, timeout=300)
    patient, doctor = new_user("patient", "Alice"), new_user("doctor", "Dr Martin")
    conv = asyncio.run(open_conversation(server.url, patient, doctor))
    done = subprocess.run(
        [node, str(JS_DIR / "conversation.js"), server.url, patient["token"], doctor["token"], conv,
         doctor["id"]],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_official_js_client_full_conversation_embedded(embedded: ServerProc) -> None:
    seen = run_js(embedded)
    assert seen["refusal"] == "Invalid token"
    assert set(seen["sent"]) == {"tempId", "messageId", "timestamp"}  # type: ignore[arg-type]


def test_official_js_client_full_conversation_with_redis(with_redis: ServerProc) -> None:
    seen = run_js(with_redis)
    assert set(seen["offline"]) == {"userId", "timestamp"}  # type: ignore[arg-type]
