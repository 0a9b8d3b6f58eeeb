"""`make smoke` (scripts/smoke/) against a locally started service, as ops run it after deploy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.socket_harness import ROOT, ServerProc, servers

pytestmark = pytest.mark.e2e

SECRET = "smoke-test-secret-of-at-least-thirty-two-bytes"
SMOKE = ROOT / "scripts" / "smoke" / "smoke.sh"
STEPS = [
    "health",
    "token refusal is 401 {message}",
    "create conversation",
    "socket.io connect",
    "send over REST",
    "receive over Socket.IO",
    "presigned upload and file message",
    "delete",
]


@pytest.fixture(scope="module")
def service() -> Iterator[ServerProc]:
    """`make run` on a free loopback port, with its own signing secret."""
    with servers(ServerProc("local", {"JWT_SECRET": SECRET})) as (proc,):
        yield proc


def smoke(url: str, **env: str) -> tuple[int, dict[str, object], str]:
    assert shutil.which("node"), "Node.js is required for the smoke test"
    done = subprocess.run(
        ["bash", str(SMOKE), url],
        env={k: v for k, v in os.environ.items() if not k.startswith("SMOKE_")} | env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, summary, done.stdout + done.stderr


def test_smoke_passes_against_the_running_service(service: ServerProc) -> None:
    code, summary, out = smoke(service.url, SMOKE_JWT_SECRET=SECRET)
    assert code == 0, out
    assert summary == {"ok": True, "steps": STEPS}
    assert SECRET not in out


def test_smoke_fails_when_the_service_refuses_its_tokens(service: ServerProc) -> None:
    code, summary, _ = smoke(service.url, SMOKE_JWT_SECRET="not-the-service-secret-32-bytes-long")
    assert code != 0
    assert summary["ok"] is False
    assert summary["steps"] == STEPS[:2]
