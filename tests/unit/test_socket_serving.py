"""The drain gate of socket_tier/serving.py (issue #19): what a closing task still answers."""

from __future__ import annotations

from typing import Any

from socket_tier.serving import DRAINING, DrainGate


async def inner(_scope: dict[str, Any], _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call(gate: DrainGate, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    await gate(scope, receive, send)
    return sent


def http(path: str, query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "path": path, "query_string": query, "method": "GET"}


async def test_an_open_task_passes_everything() -> None:
    gate = DrainGate(inner)
    for scope in (http("/health"), http("/socket.io/", b"EIO=4&transport=polling")):
        assert (await call(gate, scope))[0]["status"] == 200


async def test_a_closing_task_fails_health_and_refuses_new_sessions() -> None:
    gate = DrainGate(inner)
    gate.closing = True
    for scope in (http("/health"), http("/socket.io/", b"EIO=4&transport=polling")):
        sent = await call(gate, scope)
        assert sent[0]["status"] == 503
        assert DRAINING.encode() in sent[1]["body"]
    ws = {"type": "websocket", "path": "/socket.io/", "query_string": b"EIO=4&transport=websocket"}
    assert (await call(gate, ws)) == [{"type": "websocket.close", "code": 1012}]


async def test_a_closing_task_still_serves_open_sessions_and_rest() -> None:
    # An open session must still poll to receive its CLOSE packet; REST (`make run`) finishes.
    gate = DrainGate(inner)
    gate.closing = True
    for scope in (http("/socket.io/", b"EIO=4&transport=polling&sid=abc"), http("/api/v1/x")):
        assert (await call(gate, scope))[0]["status"] == 200
