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


def idle_row(target: str, round_no: int, rate: float, cpu: float = 500.0) -> dict[str, Any]:
    return {
        "target": target,
        "round": round_no,
        "connected": 10,
        "kib_per_conn": 25.0 if target == "node" else 30.0,
        "connects_per_s": rate,
        "server_us_per_connect": cpu,
        "client_us_per_connect": 800.0,
    }


def test_idle_rounds_report_the_median_of_the_ratios_taken_within_each_round() -> None:
    """A round's ratio compares the two targets of that round only: a machine that is twice as
    fast in round 3 moves both rows, not the ratio."""
    rows = [
        idle_row("node", 1, 1000), idle_row("ours (uvicorn)", 1, 700),
        idle_row("ours (uvicorn)", 2, 900), idle_row("node", 2, 1000),
        idle_row("node", 3, 2000), idle_row("ours (uvicorn)", 3, 1800),
    ]  # fmt: skip
    args = type("Args", (), {"clients": 10, "concurrency": 5, "rounds": 3})()
    report = connections.idle_report(rows, args)  # type: ignore[arg-type]
    # Ratios 0.70, 0.90, 0.90: the median is 0.90 (the mean of the raw rates would say 0.85).
    median = "| ours (uvicorn) | 1.20x (1.20-1.20) | 0.90x (0.70-0.90) | 1.00x (1.00-1.00) |"
    assert median in report
    assert "| 1 | ours (uvicorn) | 10 | 30.0 | 1.20x | 700 | 0.70x |" in report
