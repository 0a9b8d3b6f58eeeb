"""Socket relay benchmark: Node socket.io relay vs bare python-socketio vs our full path.

    PYTHONPATH=layers:. .venv/bin/python bench/socket_bench.py --seconds 10 --rate 1000

Targets (each started here, loopback only, stopped at the end):
- node: bench/socket_relay_node/relay.js (npm ci'd on first run), one process, no auth/storage
- bare: bench/socket_relay_bare.py, python-socketio on uvicorn + uvloop, one process
- full: two `socket_tier.local` tasks sharing Redis; every sender on task A, every receiver on
  task B: authenticated sockets, persisted message (in-memory store, or Mongo with
  --mongodb-uri), `message_sent` + `message_delivered` back, `new_message` across tasks via Redis.
Load: --pairs sender/receiver pairs (python-socketio AsyncClient, one process, uvloop);
phase 1 closed loop (--inflight per sender) for --seconds -> delivered msg/s;
phase 2 fixed rate (--rate msg/s in total) for --rate-seconds -> p50/p99 send->new_message latency
and lost messages. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

from messaging_core.auth import mint_token  # noqa: E402
from messaging_core.config import Settings  # noqa: E402
from messaging_core.ids import new_id  # noqa: E402

SETTINGS = Settings(_env_file=None)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    cmd: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    p: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        env.setdefault("PYTHONPATH", f"{ROOT / 'layers'}:{ROOT}")
        self.p = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.cmd} exited with {self.p.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.cmd} did not start")

    def stop(self) -> None:
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()


@contextlib.contextmanager
def running(*procs: Proc) -> Iterator[None]:
    try:
        for p in procs:
            p.start()
        yield
    finally:
        for p in procs:
            p.stop()


@dataclass
class Pair:
    sender: socketio.AsyncClient
    receiver: socketio.AsyncClient
    sender_id: str
    receiver_id: str
    conversation_id: str
    window: asyncio.Semaphore


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    errors: int = 0
    duplicates: int = 0


class Bench:
    def __init__(self, pairs: int, inflight: int) -> None:
        self.n = pairs
        self.inflight = inflight
        self.stats = Stats()
        self.pairs: list[Pair] = []
        self._pending: dict[str, Pair] = {}

    async def setup(self, sender_url: str, receiver_url: str, full: bool) -> None:
        for _ in range(self.n):
            a, b = new_id(), new_id()
            conv = new_id()
            if full:
                conv = await open_conversation(sender_url, a, b)
            s = socketio.AsyncClient(reconnection=False)
            r = socketio.AsyncClient(reconnection=False)
            pair = Pair(s, r, a, b, conv, asyncio.Semaphore(self.inflight))
            r.on("new_message", self._on_message)
            s.on("error", self._on_error)
            for client, uid, url in ((r, b, receiver_url), (s, a, sender_url)):
                auth = {"token": token(uid)} if full else {"userId": uid}
                await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
            self.pairs.append(pair)

    async def _on_message(self, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        temp = data.get("tempId")
        t0 = self.stats.sent_at.pop(temp, None) if isinstance(temp, str) else None
        if t0 is None:
            self.stats.duplicates += 1
            return
        self.stats.received += 1
        self.stats.latencies.append(now - t0)
        pair = self._pending.pop(temp, None)  # type: ignore[arg-type]
        if pair is not None:
            pair.window.release()

    async def _on_error(self, data: Any) -> None:
        self.stats.errors += 1

    async def send(self, pair: Pair, closed: bool) -> None:
        temp = uuid.uuid4().hex
        payload = {
            "conversationId": pair.conversation_id,
            "receiverId": pair.receiver_id,
            "messageType": "text",
            "content": "bench payload of a typical short chat message",
            "tempId": temp,
        }
        if closed:
            self._pending[temp] = pair
        self.stats.sent_at[temp] = time.perf_counter()
        await pair.sender.emit("send_message", payload)

    async def closed_loop(self, seconds: float) -> float:
        self.stats = Stats()
        stop = time.perf_counter() + seconds

        async def run(pair: Pair) -> None:
            while time.perf_counter() < stop:
                try:
                    await asyncio.wait_for(
                        pair.window.acquire(), timeout=max(0.01, stop - time.perf_counter())
                    )
                except TimeoutError:
                    break
                await self.send(pair, closed=True)

        started = time.perf_counter()
        await asyncio.gather(*(run(p) for p in self.pairs))
        elapsed = time.perf_counter() - started
        delivered = self.stats.received
        await self.drain(5)
        for p in self.pairs:  # reset windows for the next phase
            p.window = asyncio.Semaphore(self.inflight)
        self._pending.clear()
        return delivered / elapsed

    async def fixed_rate(self, rate: float, seconds: float) -> dict[str, float]:
        self.stats = Stats()
        started = time.perf_counter()
        sent = 0
        i = 0
        while (now := time.perf_counter()) - started < seconds:
            due = int((now - started) * rate) - sent
            for _ in range(due):
                await self.send(self.pairs[i % self.n], closed=False)
                i += 1
            sent += max(due, 0)
            await asyncio.sleep(0.002)
        achieved = sent / (time.perf_counter() - started)
        await self.drain(10)
        lat = sorted(self.stats.latencies)
        return {
            "sent": sent,
            "achieved": achieved,
            "received": self.stats.received,
            "lost": len(self.stats.sent_at),
            "errors": self.stats.errors,
            "p50": pct(lat, 50),
            "p99": pct(lat, 99),
            "max": lat[-1] * 1000 if lat else float("nan"),
        }

    async def drain(self, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while self.stats.sent_at and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for p in self.pairs:
            for c in (p.sender, p.receiver):
                with contextlib.suppress(Exception):
                    await c.disconnect()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * len(values)) - 1))
    return values[k] * 1000


def token(uid: str) -> str:
    return mint_token(SETTINGS, uid, "doctor")


async def open_conversation(base: str, a: str, b: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.post(
            "/api/v1/messages/conversations",
            json={"recipientId": b, "recipientType": "doctor"},
            headers={"Authorization": f"Bearer {token(a)}"},
        )
        r.raise_for_status()
        return str(r.json()["data"]["conversationId"])


async def measure(
    name: str, sender_url: str, receiver_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    bench = Bench(args.pairs, args.inflight)
    await bench.setup(sender_url, receiver_url, full=name == "full")
    try:
        await bench.closed_loop(1.0)  # warm-up
        throughput = await bench.closed_loop(args.seconds)
        fixed = await bench.fixed_rate(args.rate, args.rate_seconds)
    finally:
        await bench.close()
    return {"target": name, "closed_msgs": throughput, **fixed}


async def run_target(name: str, args: argparse.Namespace) -> dict[str, Any]:
    py = sys.executable
    if name == "node":
        node_dir = ROOT / "bench" / "socket_relay_node"
        if not (node_dir / "node_modules").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=node_dir,
                check=True,
            )
        proc = Proc(["node", str(node_dir / "relay.js")], {})
        with running(proc):
            return await measure(name, proc.url, proc.url, args)
    if name == "bare":
        proc = Proc([py, str(ROOT / "bench" / "socket_relay_bare.py")], {})
        with running(proc):
            return await measure(name, proc.url, proc.url, args)
    env = {
        "REDIS_URL": args.redis_url,
        "RATE_LIMIT_MESSAGES": "1000000000",
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "development",
    }
    if args.mongodb_uri:
        env["MONGODB_URI"] = args.mongodb_uri
        env["MONGODB_DB"] = f"bench-socket-{uuid.uuid4().hex[:6]}"
    task_a = Proc(
        [py, "-m", "socket_tier.local"], {**env, "TASK_ID": f"bench-a-{uuid.uuid4().hex[:6]}"}
    )
    task_b = Proc(
        [py, "-m", "socket_tier.local"], {**env, "TASK_ID": f"bench-b-{uuid.uuid4().hex[:6]}"}
    )
    with running(task_a, task_b):
        return await measure(name, task_a.url, task_b.url, args)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, store: str) -> str:
    lines = [
        f"pairs={args.pairs}, in flight per sender={args.inflight}, "
        f"closed loop {args.seconds:g} s, fixed rate {args.rate:g} msg/s "
        f"for {args.rate_seconds:g} s; full path store: {store}",
        "",
        "| target | closed loop delivered msg/s | fixed-rate achieved msg/s "
        "| p50 ms | p99 ms | max ms | lost | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['closed_msgs']:,.0f} | {r['achieved']:,.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.1f} | {r['lost']} | {r['errors']} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", default="node,bare,full")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--inflight", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--rate-seconds", type=float, default=10.0)
    ap.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    )
    ap.add_argument("--mongodb-uri", default=None, help="use a real MongoDB for the full path")
    args = ap.parse_args()
    if not (1 <= args.seconds <= 120 and 1 <= args.rate_seconds <= 120):
        ap.error("--seconds and --rate-seconds must be between 1 and 120")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if "full" in targets and not args.redis_url:
        from tests.servers import redis_url

        args.redis_url = redis_url().rsplit("/", 1)[0] + "/12"
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    rows = []
    for name in targets:
        print(f"[bench] {name}...", file=sys.stderr, flush=True)
        rows.append(asyncio.run(run_target(name, args)))
    print(report(rows, args, "MongoDB" if args.mongodb_uri else "in-memory"))


if __name__ == "__main__":
    main()
