"""`make legal-hold` and `make purge` next to a running `make run`, with no database (issue #15).

The server is `python -m socket_tier.local` (what `make run` runs) on its embedded store; the
operator commands are the real make targets in another process, reaching it through its
operator socket (messaging_core/operator_socket.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from messaging_core import operator_socket

from tests.e2e.socket_harness import ROOT, ServerProc, new_user, open_conversation, servers

pytestmark = pytest.mark.e2e

API = "/api/v1/messages"


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # A short path: a Unix socket's path is limited to about 100 bytes.
    path = Path(tempfile.mkdtemp(prefix="op-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make(target: str, sock: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make <target> VAR=..` as an operator types it, in another process than the server."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "ENVIRONMENT")}
    env["LOCAL_ADMIN_SOCKET"] = str(sock)
    args = ["make", "-s", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def wait_for_socket(sock: Path, proc: ServerProc) -> None:
    """The operator socket is bound by a task of the started server: wait for its key file."""
    for _ in range(400):  # bounded by count; the outcome is the file, not the time it took
        if Path(operator_socket.key_path(str(sock))).exists() and sock.exists():
            return
        assert proc.proc is not None
        assert proc.proc.poll() is None, proc.output()
        time.sleep(0.05)
    raise AssertionError("the operator socket never appeared")


def actions(base: str, conv: str, user: dict[str, str]) -> list[str]:
    r = httpx.get(
        f"{base}{API}/conversations/{conv}/access-log",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {user['token']}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["data"]["entries"]]


def send_and_delete(base: str, conv: str, user: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {user['token']}"}
    r = httpx.post(
        f"{base}{API}/conversations/{conv}/messages",
        json={"content": "Compte rendu: a effacer"},
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    r = httpx.delete(f"{base}{API}/{r.json()['data']['id']}", headers=auth, timeout=10)
    assert r.status_code == 200, r.text


def test_holds_and_purges_reach_a_running_make_run_without_a_database(
    sock_dir: Path, tmp_path: Path
) -> None:
    sock = sock_dir / "admin.sock"
    proc = ServerProc(
        "local",
        {
            "LOCAL_ADMIN_SOCKET": str(sock),
            # A soft-deleted message's content is due at once; no background purge racing ours.
            "DELETED_CONTENT_PURGE_DAYS": "0",
            "PURGE_INTERVAL_SECONDS": "0",
            "DEV_DIRECTORY_FILE": str(tmp_path / "dev-users.jsonl"),
        },
    )
    patient, doctor, doctor2 = new_user("patient"), new_user("doctor"), new_user("doctor")
    with servers(proc):
        wait_for_socket(sock, proc)
        assert sock.stat().st_mode & 0o077 == 0  # neither the socket nor its key for others
        assert Path(operator_socket.key_path(str(sock))).stat().st_mode & 0o077 == 0
        free = asyncio.run(open_conversation(proc.url, patient, doctor))
        held = asyncio.run(open_conversation(proc.url, patient, doctor2))
        send_and_delete(proc.url, free, patient)
        send_and_delete(proc.url, held, patient)

        # When the operator holds one conversation and runs the purge
        done = make("legal-hold", sock, CONVERSATION_ID=held, REASON="dispute 114", OPERATOR="dpo")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == f"legal hold set on conversation {held}"
        done = make("purge", sock)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 deleted messages' content erased" in done.stdout

        # Then the free conversation was purged, the held one only shows the hold
        assert "message.purge" in actions(proc.url, free, patient)
        assert "legal_hold.set" in actions(proc.url, held, patient)
        assert "message.purge" not in actions(proc.url, held, patient)

        # Lifting the hold lets the next purge reach it; a second purge finds nothing else
        lifted = make("legal-hold", sock, CONVERSATION_ID=held, REASON="settled", OPERATOR="dpo",
                      LIFT="1")  # fmt: skip
        assert lifted.stdout.strip() == "legal hold lifted", lifted.stdout + lifted.stderr
        done = make("purge", sock)
        assert "1 deleted messages' content erased" in done.stdout, done.stdout + done.stderr
        assert "message.purge" in actions(proc.url, held, patient)
        again = make("purge", sock)
        assert "0 deleted messages' content erased" in again.stdout, again.stdout + again.stderr

        # A request without the key of this start is refused and changes nothing
        reply = asyncio.run(operator_socket.call(str(sock), "not-the-key", {"command": "purge"}))
        assert reply == {"ok": False, "message": "refused: wrong operator key"}
        # A bad request is the core's own refusal, through the same path
        bad = make("legal-hold", sock, CONVERSATION_ID="nope", REASON="x", OPERATOR="dpo")
        assert bad.returncode == 2
        assert "conversationId" in bad.stderr

    # Once the server has stopped, its socket and key are gone and the command says what to do
    assert not sock.exists()
    assert not Path(operator_socket.key_path(str(sock))).exists()
    down = make("purge", sock)
    assert down.returncode == 2
    assert "start `make run` first" in down.stderr
