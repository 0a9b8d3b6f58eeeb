"""bench/connections.py's storm sender: a stall must not turn into a burst (issue #19).

Before, the sender queued one request per tick however many were still outstanding, and caught
up on every tick it missed: after one stall of the bench's loop (the restart of task A), several
thousand requests sat in the HTTP pool, the bench's loop starved, and the storm never reported.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bench import connections

TRIPLES = [{"patient": "p", "doctor": "d", "conversationId": "c"}]


@pytest.fixture
def stalled_server(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every REST send hangs until `gate` opens; records the most sends outstanding at once."""
    seen: dict[str, Any] = {"active": 0, "most": 0, "calls": 0, "gate": asyncio.Event()}

    async def handler(_request: httpx.Request) -> httpx.Response:
        seen["calls"] += 1
        seen["active"] += 1
        seen["most"] = max(seen["most"], seen["active"])
        await seen["gate"].wait()
        seen["active"] -= 1
        return httpx.Response(201, json={"data": {"id": f"m{seen['calls']}"}})

    real = httpx.AsyncClient

    def client(**kwargs: Any) -> httpx.AsyncClient:
        return real(transport=httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr(connections.httpx, "AsyncClient", client)
    return seen


async def test_outstanding_sends_stay_bounded_while_the_server_stalls(
    stalled_server: dict[str, Any],
) -> None:
    rate, seconds = 2000.0, 0.1
    ticks = int(rate * seconds)
    sender = connections.Sender("http://127.0.0.1:9", TRIPLES, rate)

    async def open_gate_when_all_ticks_ran() -> None:
        for _ in range(100_000):  # bounded: ends when every tick was sent or skipped
            if stalled_server["calls"] + getattr(sender, "skipped", 0) >= ticks:
                break
            await asyncio.sleep(0.001)
        stalled_server["gate"].set()

    opener = asyncio.create_task(open_gate_when_all_ticks_ran())
    await asyncio.wait_for(sender.run(seconds), 60)
    await opener
    assert stalled_server["most"] <= 32  # the default cap on outstanding sends
    assert len(sender.sent) == stalled_server["calls"]
    assert sender.skipped == ticks - stalled_server["calls"] > 0
