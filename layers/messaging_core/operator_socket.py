"""`make run`'s operator socket: how `make legal-hold` and `make purge` reach the running process.

Under `make run` the store lives inside the server's process (no MONGODB_URI), so an operator
command started in another terminal cannot open it. With LOCAL_ADMIN_SOCKET set (development
only: config.py refuses it elsewhere) the server listens on that Unix socket: never a TCP port,
so nothing off this machine can reach it. Each start writes a fresh random key next to it
(`<socket>.key`, mode 0600) and every request must carry it, so another local user who can
reach the socket file but not read the key gets nothing.

One request per connection: one JSON line `{key, command, ...}` in, one JSON line
`{ok, message}` out. What a command does is the runner's business (compliance_admin.execute).
"""

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import DomainError

logger = logging.getLogger("messaging.operator")

KEY_SUFFIX = ".key"
MAX_REQUEST_BYTES = 16 * 1024  # a command and a reason; anything longer is refused unread
REQUEST_SECONDS = 10.0  # a client that opens and says nothing is dropped
REPLY_SECONDS = 600.0  # a purge of a large local store may take a while

Runner = Callable[[dict[str, Any]], Awaitable[str]]


def key_path(path: str) -> str:
    return path + KEY_SUFFIX


def _write_private(path: str, text: str) -> None:
    # Created 0600 from the start (not chmod after): no window where another user may read it.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _clear_stale(path: str) -> None:
    """A socket file left by a process that died; one that still answers is not ours to take."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise RuntimeError("LOCAL_ADMIN_SOCKET names a file that is not a socket")
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise RuntimeError("another process already serves LOCAL_ADMIN_SOCKET")


async def serve(path: str, run: Runner, started: asyncio.Event | None = None) -> None:
    """Serve operator requests on `path` until cancelled; the socket and key go with it."""
    key = secrets.token_urlsafe(32)
    _clear_stale(path)
    _write_private(key_path(path), key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await _answer(reader, key, run)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_unix_server(handle, path=path, limit=MAX_REQUEST_BYTES)
    os.chmod(path, 0o600)  # the key is the guard; the mode keeps other users from even asking
    try:
        async with server:
            if started is not None:
                started.set()
            await server.serve_forever()
    finally:
        for leftover in (path, key_path(path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


async def _answer(reader: asyncio.StreamReader, key: str, run: Runner) -> dict[str, Any]:
    try:
        line = await asyncio.wait_for(reader.readline(), REQUEST_SECONDS)
        request = json.loads(line)
    except (ValueError, TimeoutError):  # too long (LimitOverrunError is a ValueError), not JSON
        return {"ok": False, "message": "refused: one JSON line of at most 16 KiB"}
    given = request.get("key") if isinstance(request, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), key.encode()):
        logger.warning("operator request refused: wrong key")  # never the key itself
        return {"ok": False, "message": "refused: wrong operator key"}
    assert isinstance(request, dict)
    try:
        return {"ok": True, "message": await run(request)}
    except DomainError as exc:
        return {"ok": False, "message": exc.message}
    except Exception as exc:  # the operator sees the kind of failure; the log has no payload
        logger.error("operator request failed", extra={"error": type(exc).__name__})
        return {"ok": False, "message": f"failed: {type(exc).__name__}"}


def read_key(path: str) -> str:
    """The running server's key (FileNotFoundError when no server has started there)."""
    with open(key_path(path)) as f:
        return f.read().strip()


async def call(path: str, key: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request with the server's key; its `{ok, message}` reply."""
    reader, writer = await asyncio.open_unix_connection(path, limit=MAX_REQUEST_BYTES)
    try:
        writer.write(json.dumps({**request, "key": key}).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLY_SECONDS)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    reply = json.loads(line) if line else {"ok": False, "message": "no reply"}
    if not isinstance(reply, dict):
        return {"ok": False, "message": "unexpected reply"}
    return reply
