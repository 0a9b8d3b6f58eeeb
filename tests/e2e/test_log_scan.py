"""No health data in any log: every component runs at DEBUG through a whole session, and not
one captured line holds a message content, a caption, a file name, a search word, a token or a
presigned URL used in the run.

Components: the `local` process (the REST routers, the Socket.IO tier and its outbox relay, on
real MongoDB, Redis and Kafka), and the Lambda entries (a REST function through API Gateway
events, and the scheduled relay) in their own process, with Powertools at DEBUG and event
logging requested by the environment (POWERTOOLS_LOGGER_LOG_EVENT), which must not win.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis as redis_sync

from tests.e2e.socket_harness import (
    PYTHON,
    ROOT,
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    with_db,
)
from tests.servers import kafka_broker, mongodb_uri, redis_url

pytestmark = pytest.mark.e2e

API = "/api/v1/messages"
MARK = uuid.uuid4().hex[:10]  # every secret of the run carries it, so a leak is unambiguous
RUN = uuid.uuid4().hex[:8]  # names of this run's database and topics (not secrets)
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 20 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

# Each Lambda function is its own process (its Core and clients bound to its own loop).
LAMBDA_SCRIPT = """
import json, logging, sys
# The Lambda runtime installs a root handler at the function's application log level: DEBUG.
logging.basicConfig(level=logging.DEBUG)
from tests.lambda_events import FakeContext, http_v2
args = json.loads(sys.argv[1])
if args["function"] == "messages":
    from functions import messages
    ev = http_v2("POST", f"/api/v1/messages/conversations/{args['conv']}/messages", args["token"],
                 {"content": args["content"], "receiverId": args["receiver"]},
                 path_params={"conversationId": args["conv"]})
    r = messages.handler(ev, FakeContext())
    assert r["statusCode"] == 201, r
    ev = http_v2("GET", "/api/v1/messages/search", args["token"], query="query=" + args["word"])
    assert messages.handler(ev, FakeContext())["statusCode"] == 200
else:
    from functions import relay
    relay.handler({}, FakeContext(function_name="relay"))
from functions.api.app import logger
print("LEVELS", logging.getLogger().getEffectiveLevel(), logger.log_level, flush=True)
print("LAMBDA-DONE", flush=True)
"""


def _env() -> dict[str, str]:
    return {
        "LOG_LEVEL": "DEBUG",
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",  # an operator's switch: must not log bodies
        "MONGODB_URI": mongodb_uri(),
        "MONGODB_DB": f"logscan_{RUN}",
        "REDIS_URL": with_db(redis_url(), 12),
        "KAFKA_BROKER": kafka_broker(),
        "KAFKA_TOPIC_PREFIX": f"logscan{RUN}.",
        "OUTBOX_RELAY_INTERVAL_SECONDS": "0.2",
        "OUTBOX_RELAY_AGE_SECONDS": "0",
    }


def _signatures(url: str, fields: dict[str, str] | None = None) -> list[str]:
    """The parts of a presigned URL or POST that would let a reader use it."""
    out = [url] if "?" in url else []
    query = parse_qs(urlsplit(url).query)
    out += [v[0] for k, v in query.items() if k.lower() in ("x-amz-signature", "signature")]
    for k, v in (fields or {}).items():
        if k.lower() in ("x-amz-signature", "policy", "signature"):
            out.append(v)
    return out


async def _session(server: ServerProc, secrets: list[str]) -> dict[str, Any]:
    patient, doctor = new_user("patient", "Alice"), new_user("doctor", "Dr Martin")
    secrets += [patient["token"], doctor["token"]]
    conv = await open_conversation(server.url, patient, doctor)
    auth = {"Authorization": f"Bearer {patient['token']}"}
    rest_content = f"J'ai une douleur thoracique {MARK}"
    socket_content = f"Mon traitement anticoagulant {MARK}"
    word = f"thoraci{MARK}"
    caption = f"Bilan sanguin {MARK}"
    pdf_name = f"resultats-VIH-{MARK}.pdf"
    png_name = f"radio-{MARK}.png"
    secrets += [rest_content, socket_content, caption, pdf_name, png_name, f"radio-{MARK}"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"content": rest_content, "receiverId": doctor["id"]},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        async with clients(Client(patient), Client(doctor)) as (cp, cd):
            await cd.connect(server.url)
            await cp.connect(server.url)
            ack = await cp.call(
                "send_message",
                {"conversationId": conv, "receiverId": doctor["id"], "content": socket_content,
                 "messageType": "text", "tempId": f"t-{MARK}"},
            )  # fmt: skip
            assert ack["ok"], ack
            await cd.wait_for("new_message", lambda m: m["content"] == socket_content)
            # a refused socket event and a refused token are logged too, never with the payload
            await cp.call("send_message", {"conversationId": conv, "content": socket_content * 9})
            # issue #16 part A: edits (REST and socket), the versions read, a refused edit
            edited_rest, edited_socket = f"Douleur corrigée {MARK}", f"Traitement revu {MARK}"
            secrets += [edited_rest, edited_socket]
            mid = ack["messageId"]
            r = await http.put(f"{API}/{mid}", json={"content": edited_rest}, headers=auth)
            assert r.status_code == 200, r.text
            edited = await cp.call("edit_message", {"messageId": mid, "content": edited_socket})
            assert edited["ok"], edited
            r = await http.get(f"{API}/{mid}/versions", headers=auth)
            assert r.status_code == 200, r.text
            refused = await cd.call("edit_message", {"messageId": mid, "content": edited_rest})
            assert refused["ok"] is False
        bad = await http.get(f"{API}/conversations", headers={"Authorization": "Bearer x.y.z"})
        assert bad.status_code == 401
        r = await http.get(f"{API}/search", params={"query": word}, headers=auth)
        assert r.status_code == 200
        # A file through the presigned flow, then read back through its signed link.
        r = await http.post(
            f"{API}/conversations/{conv}/attachments",
            json={"fileName": pdf_name, "mimeType": "application/pdf", "fileSize": len(PDF)},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        grant = r.json()["data"]
        secrets += _signatures(grant["uploadUrl"], grant["fields"])
        async with httpx.AsyncClient(timeout=10) as web:
            up = await web.post(
                grant["uploadUrl"], data=grant["fields"], files={"file": ("f", PDF, "x")}
            )
            assert up.status_code in (200, 201, 204), up.text
            r = await http.post(
                f"{API}/conversations/{conv}/send-file",
                json={"key": grant["key"], "receiverId": doctor["id"], "messageType": "document",
                      "caption": caption},
                headers=auth,
            )  # fmt: skip
            assert r.status_code == 201, r.text
            # and the original's multipart form
            r = await http.post(
                f"{API}/conversations/{conv}/send-file",
                data={"receiverId": doctor["id"], "messageType": "image"},
                files={"file": (png_name, PNG, "image/png")},
                headers=auth,
            )
            assert r.status_code == 201, r.text
            listed = await http.get(
                f"{API}/conversations/{conv}/messages",
                headers={"Authorization": f"Bearer {doctor['token']}"},
            )
            for m in listed.json()["data"]["messages"]:
                if m.get("attachment"):
                    url = m["attachment"]["url"]
                    secrets += _signatures(url)
                    assert (await web.get(url)).status_code == 200
        file_message = r.json()["data"]["id"]
        r = await http.delete(f"{API}/{file_message}", headers=auth)
        assert r.status_code == 200, r.text
    return {"conv": conv, "patient": patient, "doctor": doctor, "word": word}


def _run_lambdas(run: dict[str, Any], secrets: list[str]) -> str:
    content = f"Resultat de biopsie {MARK}"
    secrets.append(content)
    args = {
        "conv": run["conv"],
        "token": run["patient"]["token"],
        "receiver": run["doctor"]["id"],
        "content": content,
        "word": run["word"],
    }
    env = {**ServerProc().env, **_env(), "POWERTOOLS_SERVICE_NAME": "messaging"}
    out = ""
    for function in ("messages", "relay"):
        done = subprocess.run(
            [PYTHON, "-c", LAMBDA_SCRIPT, json.dumps({**args, "function": function})],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        out += done.stdout + done.stderr
        assert done.returncode == 0, out[-3000:]
        assert "LAMBDA-DONE" in done.stdout, out[-3000:]
    return out


async def test_no_content_file_name_token_or_presigned_url_in_any_log_line(tmp_path: Path) -> None:
    redis_sync.Redis.from_url(with_db(redis_url(), 12)).flushdb()
    secrets: list[str] = []
    proc = ServerProc("local", _env(), tmp_path / "local.log")
    try:
        proc.start(timeout=60)  # Kafka, MongoDB and Redis clients at start: allow a loaded host
        run = await _session(proc, secrets)
        lambda_logs = _run_lambdas(run, secrets)
    finally:
        proc.stop()
    local_logs = proc.output()
    secrets.append(run["word"])
    for name, text in (("local process", local_logs), ("lambda process", lambda_logs)):
        lines = text.splitlines()
        leaks = [(s[:40], line[:300]) for s in secrets for line in lines if s in line]
        assert not leaks, f"{name}: {leaks[:5]}"
        assert MARK not in text, f"{name}: " + next(x for x in lines if MARK in x)[:300]
    # The capture is real: DEBUG on in both processes, and our own lines came out.
    assert "DEBUG" in local_logs, local_logs[-2000:]
    assert lambda_logs.count("LEVELS 10 10") == 2
    assert "outbox relay run" in lambda_logs
