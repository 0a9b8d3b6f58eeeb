"""`make run`'s operator socket (issue #15): key-guarded, bounded, development only."""

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from messaging_core import compliance_admin, operator_socket
from messaging_core.config import Settings
from messaging_core.core import Core
from pydantic import ValidationError


@pytest.fixture
def sock() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="op-"))  # short: Unix socket paths are limited
    yield path / "admin.sock"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def serving(core: Core, sock: Path) -> AsyncIterator[Path]:
    task = compliance_admin.start_operator_socket(core, str(sock))
    for _ in range(200):  # the task binds on its first turns of the loop
        if Path(operator_socket.key_path(str(sock))).exists() and sock.exists():
            break
        await asyncio.sleep(0)
    yield sock
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def ask(sock: Path, request: dict[str, Any]) -> dict[str, Any]:
    key = operator_socket.read_key(str(sock))
    return await operator_socket.call(str(sock), key, request)


@pytest.mark.parametrize("environment", ["production", "test"])
def test_the_operator_socket_is_refused_outside_development(environment: str) -> None:
    extra: dict[str, Any] = {}
    if environment == "production":
        extra = {"mongodb_uri": "mongodb://127.0.0.1:1", "redis_url": "redis://127.0.0.1:1"}
        extra |= {"jwt_issuer": "i", "jwt_audience": "a"}
    secret = "test-secret-of-at-least-thirty-two-bytes!"
    with pytest.raises(ValidationError, match="LOCAL_ADMIN_SOCKET"):
        Settings(
            _env_file=None, environment=environment, jwt_secret=secret,
            local_admin_socket="run-admin.sock", **extra,
        )  # type: ignore[call-arg]  # fmt: skip
    dev = Settings(_env_file=None, environment="development", local_admin_socket="a.sock")  # type: ignore[call-arg]
    assert dev.local_admin_socket == "a.sock"


async def test_a_hold_through_the_socket_is_audited_as_the_operator(
    serving: Path, core: Core
) -> None:
    conv = "ab" * 12
    reply = await ask(
        serving, {"command": "hold", "conversationId": conv, "reason": "r", "operator": "dpo"}
    )
    assert reply == {"ok": True, "message": f"legal hold set on conversation {conv}"}
    assert await core.store.held_conversations() == [conv]
    records, _ = await core.store.audit_trail(conv, 0, 10)
    assert [(r.actor_id, r.action, r.channel, r.reason) for r in records] == [
        ("dpo", "legal_hold.set", "operator", "r")
    ]


async def test_a_wrong_key_a_missing_key_and_an_oversized_request_change_nothing(
    serving: Path, core: Core
) -> None:
    hold = {"command": "hold", "conversationId": "cd" * 12, "reason": "r", "operator": "x"}
    assert (await operator_socket.call(str(serving), "guess", hold))["ok"] is False
    reader, writer = await asyncio.open_unix_connection(str(serving))
    writer.write(b'{"command": "purge"}\n')  # no key at all
    await writer.drain()
    assert b"wrong operator key" in await reader.readline()
    writer.close()
    reader, writer = await asyncio.open_unix_connection(str(serving))
    writer.write(b"x" * (operator_socket.MAX_REQUEST_BYTES + 10) + b"\n")
    await writer.drain()
    assert b"at most 16 KiB" in await reader.readline()
    writer.close()
    assert await core.store.held_conversations() == []


async def test_an_unknown_command_or_a_nameless_hold_is_refused(serving: Path, core: Core) -> None:
    reply = await ask(serving, {"command": "drop_everything"})
    assert reply == {"ok": False, "message": "command must be hold, lift, status or purge"}
    hold = {"command": "hold", "conversationId": "ef" * 12, "reason": "r", "operator": " "}
    reply = await ask(serving, hold)
    assert reply["ok"] is False
    assert "operator" in reply["message"]
    assert await core.store.held_conversations() == []


async def test_a_stale_socket_file_is_replaced_and_a_live_one_never_taken(sock: Path) -> None:
    # A socket file left by a process that died: nobody answers on it
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()
    operator_socket._clear_stale(str(sock))
    assert not sock.exists()
    # One that still answers belongs to another running server
    live = socket.socket(socket.AF_UNIX)
    live.bind(str(sock))
    live.listen(1)
    try:
        with pytest.raises(RuntimeError, match="another process"):
            operator_socket._clear_stale(str(sock))
        assert sock.exists()
    finally:
        live.close()
