"""The built bundles answer API Gateway HTTP API v2 events in the Lambda runtime, route by route.

Run against the real test servers (MongoDB, Redis, Kafka, S3), through the emulator and
awslambdaric on Python 3.12, with the layer at opt/python: what `make build` ships, not the
checkout (see rie_harness.py).
"""

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from conftest import Deployed, Person
from fastapi.testclient import TestClient
from kafka import KafkaConsumer
from messaging_core.auth import mint_token
from messaging_core.container import build_core, set_core
from messaging_core.store.memory import MemoryStore
from messaging_core.store.mongo import MongoStore
from pydantic import SecretStr
from pymongo import MongoClient
from rie_harness import FUNCTIONS, in_parallel, scheduled_event

from functions.local_app import create_local_app
from infra.constants import ALL_FUNCTIONS
from tests import servers
from tests.lambda_events import http_v2

pytestmark = pytest.mark.integration
API = "/api/v1/messages"
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
# One route of each API function: a refused token never reaches the core.
GUARDED = {
    "conversations": ("GET", f"{API}/conversations"),
    "messages": ("GET", f"{API}/unread-count"),
    "attachments": ("POST", f"{API}/conversations/{'a' * 24}/attachments"),
    "presence": ("GET", f"{API}/users/{'b' * 24}/online-status"),
    "message_actions": ("GET", f"{API}/{'c' * 24}/versions"),
    "scheduled": ("GET", f"{API}/scheduled"),
    "doctor_tools": ("GET", f"{API}/templates"),
}
# The functions no API route reaches, and the event infra gives each one (a refused operator
# event changes nothing: the cold start is what this call is for).
NON_API_EVENTS: dict[str, dict[str, Any]] = {
    "relay": scheduled_event("relay"),
    "purge": scheduled_event("purge"),
    "scheduled_sender": scheduled_event("scheduled_sender"),
    "operator": {"action": "status", "operator": "ops@example.test"},
}


def call(
    d: Deployed,
    fn: str,
    method: str,
    path: str,
    who: Person | None,
    body: Any = None,
    query: str = "",
) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of one HTTP API v2 event through the function's runtime."""
    result = d[fn].invoke(http_v2(method, path, who.token if who else None, body, query))
    return int(result["statusCode"]), json.loads(result["body"])


@pytest.fixture(scope="module")
def local(deployed: Deployed) -> Iterator[TestClient]:
    """The `make run` app in this process (in-memory store), with the deployed token rules."""
    set_core(asyncio.run(build_core(deployed.settings, store=MemoryStore())))
    with TestClient(create_local_app()) as client:
        yield client
    set_core(None)


def the_local_answer(
    local: TestClient, method: str, path: str, header: str | None
) -> tuple[int, Any]:
    """What `make run` answers to this request: the deployed function must answer the same."""
    headers = {"authorization": header} if header is not None else {}
    r = local.request(method, path, headers=headers, json={} if method == "POST" else None)
    return r.status_code, r.json()


def test_bundles_carry_bytecode_for_the_runtimes_python(deployed: Deployed) -> None:
    python = deployed.build / "python" / "bin" / "python"
    magic = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    modules = sorted((deployed.build / "functions" / "functions").rglob("*.py"))
    modules += sorted((deployed.build / "layer" / "python" / "messaging_core").rglob("*.py"))
    assert modules
    for module in modules:
        pyc = module.parent / "__pycache__" / f"{module.stem}.cpython-312.pyc"
        assert pyc.is_file(), module
        assert pyc.read_bytes()[:4].hex() == magic, pyc


def test_health_is_public_and_every_function_refuses_a_missing_token(
    deployed: Deployed, local: TestClient
) -> None:
    # Every function's first (cold) invocation at once.
    calls = {name: (deployed[name], http_v2(m, p)) for name, (m, p) in GUARDED.items()}
    calls |= {name: (deployed[name], event) for name, event in NON_API_EVENTS.items()}
    assert set(calls) == set(FUNCTIONS)
    results = in_parallel(calls)
    assert results.pop("operator")["ok"] is False  # status without a conversationId
    assert set(results.pop("purge")) == {"expired", "contentErased", "files"}
    assert set(results.pop("scheduled_sender")) == {"handled"}

    health = deployed["presence"].invoke(http_v2("GET", "/health"))
    assert health["statusCode"] == 200, health
    assert "status" in json.loads(health["body"])
    assert set(results.pop("relay")) >= {"published", "pending", "error"}
    for name, result in results.items():
        status, body = the_local_answer(local, *GUARDED[name], None)
        assert status == 401, (name, body)
        assert (result["statusCode"], json.loads(result["body"])) == (status, body), name


@pytest.mark.parametrize("kind", ["garbage", "wrong-secret", "expired", "not-bearer"])
def test_a_refused_token_is_the_originals_401_in_every_function(
    deployed: Deployed, local: TestClient, kind: str
) -> None:
    d = deployed
    other = d.settings.model_copy(
        update={"jwt_secret": SecretStr("another-secret-of-thirty-two-bytes!!")}
    )
    header = {
        "garbage": "Bearer not-a-jwt",
        "wrong-secret": f"Bearer {mint_token(other, d.patient.id, 'patient')}",
        "expired": f"Bearer {mint_token(d.settings, d.patient.id, 'patient', ttl_seconds=-60)}",
        "not-bearer": f"Basic {d.patient.token}",
    }[kind]
    for name, (method, path) in GUARDED.items():
        status, body = the_local_answer(local, method, path, header)
        assert status == 401, (name, body)
        assert set(body) == {"message"}, (name, body)
        event = http_v2(method, path, body={} if method == "POST" else None)
        event["headers"]["authorization"] = header
        result = d[name].invoke(event)
        assert (result["statusCode"], json.loads(result["body"])) == (status, body), name


def test_a_conversation_through_every_route(deployed: Deployed) -> None:
    d, p, doc = deployed, deployed.patient, deployed.doctor
    # The recipient must be known to the directory (#10): the doctor has called the API once.
    status, body = call(d, "conversations", "GET", f"{API}/conversations", doc)
    assert status == 200, body
    status, body = call(
        d,
        "conversations",
        "POST",
        f"{API}/conversations",
        p,
        {"recipientId": doc.id, "recipientType": "doctor"},
    )
    assert status == 201, body
    conv = body["data"]["conversationId"]
    status, body = call(d, "conversations", "GET", f"{API}/conversations", doc)
    assert status == 200, body
    assert conv in json.dumps(body), body

    url = f"{API}/conversations/{conv}/messages"
    status, body = call(d, "messages", "POST", url, p, {"content": "hello from the runtime"})
    assert status == 201, body
    message_id = body["data"]["id"]
    status, body = call(d, "messages", "GET", url, doc, query="page=1&limit=10")
    assert status == 200, body
    assert [m["id"] for m in body["data"]["messages"]] == [message_id], body
    status, body = call(d, "messages", "GET", f"{API}/unread-count", doc)
    assert status == 200, body
    assert body["data"]["totalUnread"] == 1, body
    status, body = call(d, "messages", "PUT", f"{API}/conversations/{conv}/mark-read", doc, {})
    assert (status, body["message"]) == (200, "1 messages marked as read"), body
    status, body = call(d, "messages", "GET", f"{API}/search", doc, query="query=runtime")
    assert status == 200, body
    assert message_id in json.dumps(body), body
    status, body = call(d, "presence", "GET", f"{API}/users/{p.id}/online-status", doc)
    assert status == 200, body
    assert body["data"]["isOnline"] is False, body
    status, body = call(d, "messages", "DELETE", f"{API}/{message_id}", p)
    assert status == 200, body
    status, body = call(d, "messages", "DELETE", f"{API}/{message_id}", doc)
    assert status == 403, body


def open_conversation(d: Deployed, patient: Any, doctor: Any) -> str:
    """The doctor calls once (recipients must be known to the directory), then the patient opens
    the pair's conversation; its id."""
    status, body = call(d, "conversations", "GET", f"{API}/conversations", doctor)
    assert status == 200, body
    status, body = call(
        d,
        "conversations",
        "POST",
        f"{API}/conversations",
        patient,
        {"recipientId": doctor.id, "recipientType": "doctor"},
    )
    assert status in (200, 201), body
    return str(body["data"]["conversationId"])


def send_text(d: Deployed, sender: Any, conv: str, content: str) -> str:
    """A text message through the messages function; its id."""
    url = f"{API}/conversations/{conv}/messages"
    status, body = call(d, "messages", "POST", url, sender, {"content": content})
    assert status == 201, body
    return str(body["data"]["id"])


def test_upload_grant_then_presigned_upload_then_send_file(deployed: Deployed) -> None:
    d, p, doc = deployed, deployed.patient, deployed.doctor
    conv = open_conversation(d, p, doc)
    grant_url = f"{API}/conversations/{conv}/attachments"
    ask = {"fileName": "report.pdf", "mimeType": "application/pdf", "fileSize": len(PDF)}
    status, body = call(d, "attachments", "POST", grant_url, p, ask)
    assert status in (200, 201), body
    grant = body["data"]
    assert grant["key"].startswith(f"messages/{conv}/")
    assert grant["uploadUrl"].startswith(servers.s3_endpoint())
    uploaded = httpx.post(
        grant["uploadUrl"],
        data=grant["fields"],
        files={"file": ("report.pdf", PDF, "application/pdf")},
        timeout=30,
    )
    assert uploaded.status_code in (200, 201, 204), uploaded.status_code
    send = {"key": grant["key"], "receiverId": doc.id, "messageType": "document"}
    status, body = call(d, "attachments", "POST", f"{API}/conversations/{conv}/send-file", p, send)
    assert status == 201, body


def pending_events(d: Deployed) -> int:
    async def count() -> int:
        store = MongoStore.from_uri(servers.mongodb_uri(), d.db_name)
        try:
            return await store.count_pending_events()
        finally:
            await store.close()

    return asyncio.run(count())


def test_the_relay_drains_the_outbox_to_kafka(deployed: Deployed) -> None:
    # Given a message sent while its function could not reach Kafka (see conftest)
    d, p, doc = deployed, deployed.patient, deployed.doctor
    conv = open_conversation(d, p, doc)
    message_id = send_text(d, p, conv, "queued while Kafka is away")
    assert pending_events(d) > 0, "the message's events were not left to the relay"

    # When the scheduled relay runs (bounded: each run publishes a batch)
    result: dict[str, Any] = {}
    for _ in range(5):
        result = d["relay"].invoke(scheduled_event("relay"))
        assert result["error"] is None, result
        if result["pending"] == 0:
            break
    assert result["pending"] == 0, result

    # Then message.sent is on the broker, under the original's name (with this run's prefix)
    consumer = KafkaConsumer(
        f"{d.topic_prefix}message.sent",
        bootstrap_servers=servers.kafka_broker(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    found: list[dict[str, Any]] = []
    try:
        for _ in range(30):
            for batch in consumer.poll(timeout_ms=500).values():
                found += [json.loads(r.value) for r in batch]
            if any(e.get("messageId") == message_id for e in found):
                break
    finally:
        consumer.close()
    sent = [e for e in found if e.get("messageId") == message_id]
    assert sent, found
    assert sent[0]["eventType"] == "message.sent", found


def test_the_harness_runs_every_function_infra_deploys() -> None:
    assert set(FUNCTIONS) == set(ALL_FUNCTIONS)


def test_doctor_tools_templates_and_analytics_for_doctors_only(deployed: Deployed) -> None:
    d, p, doc = deployed, deployed.patient, deployed.doctor
    status, body = call(d, "doctor_tools", "GET", f"{API}/templates", doc)
    assert status == 200, body
    status, body = call(d, "doctor_tools", "GET", f"{API}/templates", p)
    assert status == 403, body
    assert set(body) == {"message"}, body
    template = {"title": "Runtime", "content": "Bonjour {{patientName}}"}
    status, body = call(d, "doctor_tools", "POST", f"{API}/templates", doc, template)
    assert status == 201, body
    template_id = body["data"]["id"]
    status, body = call(d, "doctor_tools", "GET", f"{API}/templates", doc)
    assert [t["id"] for t in body["data"]] == [template_id], body
    status, body = call(d, "doctor_tools", "GET", f"{API}/analytics", doc)
    assert status == 200, body
    assert set(body["data"]) == {"from", "to", "totals", "daily", "weekly"}, body
    status, body = call(d, "doctor_tools", "GET", f"{API}/analytics", p)
    assert status == 403, body


def test_message_actions_edit_then_versions(deployed: Deployed) -> None:
    d, p, doc = deployed, deployed.patient, deployed.doctor
    conv = open_conversation(d, p, doc)
    message_id = send_text(d, p, conv, "first words")
    edit = {"content": "second words"}
    status, body = call(d, "message_actions", "PUT", f"{API}/{message_id}", doc, edit)
    assert status == 403, body
    status, body = call(d, "message_actions", "PUT", f"{API}/{message_id}", p, edit)
    assert status == 200, body
    assert body["data"]["content"] == "second words", body
    status, body = call(d, "message_actions", "GET", f"{API}/{message_id}/versions", doc)
    assert status == 200, body
    assert [v["content"] for v in body["data"]["versions"]] == ["first words", "second words"]


def test_scheduled_list_then_the_scheduled_sender_sends_it(deployed: Deployed) -> None:
    # Given a message scheduled through the messages function, listed by the scheduled one
    d, p, doc = deployed, deployed.patient, deployed.doctor
    conv = open_conversation(d, p, doc)
    url = f"{API}/conversations/{conv}/messages"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    ask = {"content": "sent by the schedule", "scheduledAt": later}
    status, body = call(d, "messages", "POST", url, p, ask)
    assert status == 202, body
    scheduled_id = body["data"]["scheduledMessageId"]
    status, body = call(d, "scheduled", "GET", f"{API}/scheduled", p)
    assert status == 200, body
    assert scheduled_id in json.dumps(body), body

    # When it falls due (moved into the past in the database: no waiting) and the rule fires
    client: MongoClient[dict[str, Any]] = MongoClient(servers.mongodb_uri())
    try:
        moved = client[d.db_name]["scheduled_messages"].update_one(
            {"_id": ObjectId(scheduled_id)},
            {"$set": {"scheduledAt": datetime.now(UTC) - timedelta(seconds=1)}},
        )
    finally:
        client.close()
    assert moved.modified_count == 1
    result = d["scheduled_sender"].invoke(scheduled_event("scheduled_sender"))

    # Then it was sent, and the doctor reads it
    assert result == {"handled": 1}, result
    status, body = call(d, "messages", "GET", url, doc, query="page=1&limit=10")
    assert status == 200, body
    assert "sent by the schedule" in [m["content"] for m in body["data"]["messages"]], body


def test_purge_runs_on_its_schedule_event(deployed: Deployed) -> None:
    result = deployed["purge"].invoke(scheduled_event("purge"))
    assert set(result) == {"expired", "contentErased", "files"}, result
    assert all(isinstance(v, int) and v >= 0 for v in result.values()), result


def test_operator_status_and_a_refused_event(deployed: Deployed) -> None:
    d = deployed
    conv = open_conversation(d, d.patient, d.doctor)
    ask = {"action": "status", "conversationId": conv, "operator": "ops@example.test"}
    result = d["operator"].invoke(ask)
    assert (result["ok"], result["action"]) == (True, "status"), result
    assert result["requestId"], result
    refused = d["operator"].invoke({"action": "hold", "conversationId": conv, "operatr": "x"})
    assert refused["ok"] is False, refused
    assert "unknown field" in refused["message"], refused
