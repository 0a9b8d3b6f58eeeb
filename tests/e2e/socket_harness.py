"""Helpers for the socket tests: real server subprocesses, real clients, event capture."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import socketio
from messaging_core.auth import mint_token
from messaging_core.config import Settings
from messaging_core.ids import new_id

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The development secret, as the servers use.
SETTINGS = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]

Pred = Callable[[Any], bool]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_db(url: str, db: int) -> str:
    """The same Redis on another logical db, so a test file owns its keys (channels are global,
    but task ids are unique)."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


def new_user(role: str = "doctor", name: str | None = None) -> dict[str, str]:
    uid = new_id()
    return {"id": uid, "role": role, "token": mint_token(SETTINGS, uid, role, name)}


class ServerProc:
    """A socket-tier process: `local` (REST + Socket.IO, `python -m socket_tier.local`) or
    `server` (the Fargate entry, `python -m socket_tier.server`)."""

    def __init__(
        self, kind: str = "local", env: dict[str, str] | None = None, log_path: Path | None = None
    ) -> None:
        self.kind = kind
        # A chatty process (DEBUG) would fill a pipe nobody reads and block: log to a file.
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGODB_URI")},
            "PYTHONPATH": f"{ROOT / 'layers'}:{ROOT}",
            "PORT": str(self.port),
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> ServerProc:
        if self.kind == "local":
            cmd = [PYTHON, "-m", "socket_tier.local"]
        else:
            # The Fargate entry as the image runs it (SOCKET_SERVER picks granian or uvicorn).
            cmd = [PYTHON, "-m", "socket_tier.server", "--host", "127.0.0.1"]
            self.env.setdefault("SHUTDOWN_GRACE_SECONDS", "5")
        sink: Any = open(self.log_path, "wb") if self.log_path else subprocess.PIPE  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=sink, stderr=subprocess.STDOUT
        )
        if self.log_path:
            sink.close()  # the child holds its own descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"socket server exited early:\n{out}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("socket server did not become healthy")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def output(self) -> str:
        if self.log_path:
            return self.log_path.read_text(errors="replace")
        return self.proc.stdout.read().decode() if self.proc and self.proc.stdout else ""


@contextlib.contextmanager
def servers(*procs: ServerProc) -> Iterator[tuple[ServerProc, ...]]:
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.stop()


class Client:
    """A python-socketio client that records every server event for assertions."""

    EVENTS = (
        "message_sent", "new_message", "message_delivered", "messages_read", "user_typing",
        "user_stopped_typing", "user_online", "user_offline", "mark_as_read_success",
        "message_deleted", "error",
    )  # fmt: skip

    def __init__(self, user: dict[str, str]) -> None:
        self.user = user
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Event()
        for name in self.EVENTS:
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], Any]:
        async def record(data: Any = None) -> None:
            self.events[name].append(data)
            self._changed.set()

        return record

    async def connect(self, url: str, **kw: Any) -> Client:
        auth = kw.pop("auth", {"token": self.user["token"]})
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5, **kw)
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def wait_for(self, event: str, pred: Pred | None = None, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for item in self.events[event]:
                if pred is None or pred(item):
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.user['id']}: no {event!r} within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))

    async def settle(self, seconds: float = 0.3) -> None:
        """A pause, for pacing a bounded poll only: never before asserting that something did
        not happen (wait on a later event on the same path instead, as test_socket_cluster.py's
        `barrier` does)."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def clients(*cs: Client) -> AsyncIterator[tuple[Client, ...]]:
    try:
        yield cs
    finally:
        for c in cs:
            await c.close()


async def open_conversation(base_url: str, a: dict[str, str], b: dict[str, str]) -> str:
    """Create the conversation between a and b through REST on a `local` process."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        # b signs in first: the embedded directory knows who has presented a token
        seen = await http.get(
            "/api/v1/messages/unread-count", headers={"Authorization": f"Bearer {b['token']}"}
        )
        assert seen.status_code == 200, seen.text
        r = await http.post(
            "/api/v1/messages/conversations",
            json={"recipientId": b["id"], "recipientType": b["role"]},
            headers={"Authorization": f"Bearer {a['token']}"},
        )
        assert r.status_code in (200, 201), r.text
        return str(r.json()["data"]["conversationId"])


async def barrier(
    server: ServerProc, sender: dict[str, str], receiver: dict[str, str], client: Client
) -> None:
    """A message `sender` sends `receiver` by REST on `server`, received by `client`: what
    `server` emitted towards `client` before it has arrived by then (one ordered path)."""
    conv = await open_conversation(server.url, sender, receiver)  # exists: its id again
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        auth = {"Authorization": f"Bearer {sender['token']}"}
        r = await http.post(
            f"/api/v1/messages/conversations/{conv}/messages",
            json={"content": "barrier"},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        mid = r.json()["data"]["id"]
    await client.wait_for("new_message", lambda d: d["id"] == mid, timeout=15)


async def assert_each_refused(c: Client, bad: dict[str, list[Any]]) -> None:
    """Send every bad payload of every event: each gets `{ok: false, message}` and one `error
    {event, message}` naming that event, in order."""
    expected = 0
    for event, payloads in bad.items():
        for payload in payloads:
            ack = await c.call(event, payload)
            expected += 1
            assert ack["ok"] is False, (event, payload)
            assert ack["message"], (event, payload)
            err = await c.wait_for("error", lambda _e, n=expected: len(c.events["error"]) >= n)
            assert set(err) == {"event", "message"}
            assert c.events["error"][expected - 1]["event"] == event, (event, payload)
