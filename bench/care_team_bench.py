"""Care-team fan-out benchmark (#18): a 20-member team, every member online, against a one-to-one
conversation, in the same run on the same two socket tasks sharing Redis.

    PYTHONPATH=layers:. .venv/bin/python bench/care_team_bench.py --messages 200 --rate 10

Two `socket_tier.local` tasks (A and B) share the loopback Redis (TEST_REDIS_URL or
redis://127.0.0.1:16379/0; db 14 is flushed). The team's creator and the one-to-one sender are on
task A; the 19 other members alternate between A and B (so every team message is delivered
locally AND published once to task B), the one-to-one receiver is on B. Sends alternate team /
one-to-one at a fixed rate; for each we take the time from the emit to the LAST member's
`new_message` (matched by tempId), and report p50/p99/max per kind. python-socketio clients, all
in this process. Every wait is bounded; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis as redis_sync
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

from bench.stats import pct  # noqa: E402
from tests.e2e.socket_harness import ServerProc, new_user, servers, with_db  # noqa: E402

API = "/api/v1/messages"
TEAM_SIZE = 20
WAIT_SECONDS = 10.0


def task_env(redis_url: str, name: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "TASK_ID": f"bench-{name}-{os.getpid()}",
        "RATE_LIMIT_MESSAGES": "1000000",
        "LOG_LEVEL": "WARNING",
    }


class Member:
    """One socket; records when each tempId's `new_message` arrived."""

    def __init__(self, user: dict[str, str]) -> None:
        self.user = user
        self.sio = socketio.AsyncClient(reconnection=False)
        self.arrived: dict[str, float] = {}
        self.sio.on("new_message", self._on_new)

    async def _on_new(self, data: Any) -> None:
        temp = data.get("tempId") if isinstance(data, dict) else None
        if temp:
            self.arrived[temp] = time.perf_counter()

    async def connect(self, url: str) -> None:
        await self.sio.connect(
            url, auth={"token": self.user["token"]}, transports=["websocket"], wait_timeout=10
        )


async def known(url: str, users: list[dict[str, str]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for u in users:  # each presents a token once: the embedded directory knows them
            r = await http.get(
                f"{API}/unread-count", headers={"Authorization": f"Bearer {u['token']}"}
            )
            r.raise_for_status()


async def open_conversations(
    url: str,
    creator: dict[str, str],
    team: list[dict[str, str]],
    a: dict[str, str],
    b: dict[str, str],
) -> tuple[str, str]:
    await known(url, [*team, b])
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.post(
            f"{API}/conversations",
            json={"participantIds": [u["id"] for u in team], "title": "Bench team"},
            headers={"Authorization": f"Bearer {creator['token']}"},
        )
        r.raise_for_status()
        team_id = r.json()["data"]["conversationId"]
        r = await http.post(
            f"{API}/conversations",
            json={"recipientId": b["id"], "recipientType": b["role"]},
            headers={"Authorization": f"Bearer {a['token']}"},
        )
        r.raise_for_status()
        return str(team_id), str(r.json()["data"]["conversationId"])


async def last_arrival(receivers: list[Member], temp: str, started: float) -> float | None:
    """Seconds from the emit to the last receiver's new_message; None when one never came."""
    deadline = time.perf_counter() + WAIT_SECONDS
    while time.perf_counter() < deadline:
        if all(temp in r.arrived for r in receivers):
            return max(r.arrived[temp] for r in receivers) - started
        await asyncio.sleep(0.001)
    return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_url = with_db(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:16379/0"), 14)
    redis_sync.Redis.from_url(redis_url).flushdb()
    creator = new_user("doctor", "Dr Bench")
    team_users = [new_user("patient", "Patient")] + [
        new_user("doctor", f"Dr {i}") for i in range(TEAM_SIZE - 2)
    ]
    pair_a, pair_b = new_user("patient", "A"), new_user("doctor", "Dr B")
    a, b = (
        ServerProc("local", task_env(redis_url, "a")),
        ServerProc("local", task_env(redis_url, "b")),
    )
    with servers(a, b):
        team_id, pair_id = await open_conversations(a.url, creator, team_users, pair_a, pair_b)
        sender, pair_sender = Member(creator), Member(pair_a)
        members = [Member(u) for u in team_users]
        pair_receiver = Member(pair_b)
        await sender.connect(a.url)
        await pair_sender.connect(a.url)
        for i, m in enumerate(members):
            await m.connect(a.url if i % 2 == 0 else b.url)
        await pair_receiver.connect(b.url)
        results: dict[str, list[float]] = {"care_team": [], "one_to_one": []}
        lost = {"care_team": 0, "one_to_one": 0}
        gap = 1.0 / args.rate
        for n in range(args.messages):
            kind = "care_team" if n % 2 == 0 else "one_to_one"
            temp = f"{kind}-{n}"
            who, conv, receivers = (
                (sender, team_id, members)
                if kind == "care_team"
                else (pair_sender, pair_id, [pair_receiver])
            )
            started = time.perf_counter()
            await who.sio.emit(
                "send_message", {"conversationId": conv, "content": f"m{n}", "tempId": temp}
            )
            took = await last_arrival(receivers, temp, started)
            if took is None:
                lost[kind] += 1
            else:
                results[kind].append(took * 1000)
            await asyncio.sleep(max(0.0, gap - (time.perf_counter() - started)))
        for m in [sender, pair_sender, *members, pair_receiver]:
            await m.sio.disconnect()
    return {
        kind: {
            "n": len(v),
            "lost": lost[kind],
            "p50_ms": round(pct(v, 0.5), 2) if v else None,
            "p99_ms": round(pct(v, 0.99), 2) if v else None,
            "max_ms": round(max(v), 2) if v else None,
        }
        for kind, v in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="sends in all, alternating")
    parser.add_argument("--rate", type=float, default=10.0, help="sends per second")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
