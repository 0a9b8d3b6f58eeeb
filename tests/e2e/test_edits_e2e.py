"""Issue #16 part A through the official Socket.IO JavaScript client against
`python -m socket_tier.local` (REST + Socket.IO): edits and reactions with acks, every device of
both participants hearing them, REST edits reaching the sockets, the refusals, and an outsider
hearing nothing. Once embedded (`make run`), once with Redis carrying the pushes."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis as redis_sync

from tests.e2e.socket_harness import ROOT, ServerProc, new_user, open_conversation, servers, with_db
from tests.servers import redis_url

pytestmark = pytest.mark.e2e

JS_DIR = ROOT / "tests" / "e2e" / "js"


@pytest.fixture(scope="module")
def embedded() -> Iterator[ServerProc]:
    with servers(ServerProc("local")) as (proc,):
        yield proc


@pytest.fixture(scope="module")
def with_redis() -> Iterator[ServerProc]:
    url = with_db(redis_url(), 15)
    redis_sync.Redis.from_url(url).flushdb()
    with servers(ServerProc("local", {"REDIS_URL": url})) as (proc,):
        yield proc


def run_js(server: ServerProc) -> dict[str, object]:
    node = shutil.which("node")
    assert node, "Node.js is required for the JavaScript client test"
    subprocess.run([str(JS_DIR / "install.sh")], check=True, timeout=300)
    patient, doctor = new_user("patient", "Alice"), new_user("doctor", "Dr Martin")
    outsider = new_user("doctor", "Dr Outsider")
    conv = asyncio.run(open_conversation(server.url, patient, doctor))
    done = subprocess.run(
        [node, str(JS_DIR / "edits.js"), server.url, patient["token"], doctor["token"],
         outsider["token"], conv],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_js_client_edits_and_reactions_embedded(embedded: ServerProc) -> None:
    seen = run_js(embedded)
    assert seen["outsider"] == "You are not a participant in this conversation"


def test_js_client_edits_and_reactions_with_redis(with_redis: ServerProc) -> None:
    seen = run_js(with_redis)
    assert set(seen["edited"]) == {"ok", "messageId", "conversationId", "editedAt", "changed"}  # type: ignore[arg-type]
