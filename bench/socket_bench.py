"""Socket relay benchmark: Node socket.io relay vs bare python-socketio vs our full path.

    PYTHONPATH=layers:. .venv/bin/python bench/socket_bench.py --seconds 10 --rate 1000

Targets (each started here, loopback only, stopped at the end):
- node: bench/socket_relay_node/relay.js (npm ci'd on first run), one process, no auth/storage
- bare: bench/socket_relay_bare.py, python-socketio on uvicorn + uvloop, one process
  (bare-receipt: the same plus `message_delivered` to the sender: our full path's packets)
- full: two `socket_tier.local` tasks sharing Redis; every sender on task A, every receiver on
  task B: authenticated sockets, persisted message (in-memory store, or Mongo with
  --mongodb-uri), `message_sent` + `message_delivered` back, `new_message` across tasks via Redis.
  --layout spread puts half the senders on each task (every message still crosses Redis).
- full-base: the same, served from another checkout given with --base (say `git archive` of
  main into a temporary folder): a before/after pair measured side by side in one run.
Load: --pairs sender/receiver pairs, from the official socket.io-client on Node
(bench/socket_relay_node/loadgen.js; --loadgen python: python-socketio's AsyncClient in-process);
phase 1 closed loop (--inflight per sender) for --seconds -> delivered msg/s, and the CPU time
the servers (and Redis, and the load generator) spent per delivered message: on a small machine
where all of them share the cores, CPU per message says what each design costs;
phase 2 fixed rate (--rate msg/s in total) for --rate-seconds -> p50/p99 send->new_message latency
and lost messages. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
NODE_DIR = ROOT / "bench" / "socket_relay_node"
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

from messaging_core.auth import mint_token  # noqa: E402
from messaging_core.config import Settings  # noqa: E402
from messaging_core.ids import new_id  # noqa: E402

from bench.profiler import start_profiler  # noqa: E402
from bench.stats import pct  # noqa: E402

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
    cwd: Path = ROOT  # full-base: another checkout of the service

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        env.setdefault("PYTHONPATH", f"{ROOT / 'layers'}:{ROOT}")
        self.p = subprocess.Popen(self.cmd, cwd=self.cwd, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.cmd} exited with {self.p.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.cmd} did not start")

    @property
    def pid(self) -> int:
        assert self.p is not None, "not started"
        return self.p.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc)."""
        return proc_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


@dataclass(frozen=True)
class PairSpec:
    """One sender/receiver pair: where each connects, with what, and their conversation."""

    sender_url: str
    receiver_url: str
    sender_auth: dict[str, str]
    receiver_auth: dict[str, str]
    conversation_id: str
    receiver_id: str


async def pair_specs(n: int, routes: list[tuple[str, str]], full: bool) -> list[PairSpec]:
    specs = []
    for i in range(n):
        sender_url, receiver_url = routes[i % len(routes)]
        a, b = new_id(), new_id()
        if full:  # authenticated sockets in a real conversation
            conv = await open_conversation(sender_url, a, b)
            auths = {"token": token(a)}, {"token": token(b)}
        else:  # the references take the user id as it is
            conv = new_id()
            auths = {"userId": a}, {"userId": b}
        specs.append(PairSpec(sender_url, receiver_url, *auths, conv, b))
    return specs


class Bench:
    """The Python load generator (python-socketio AsyncClient in this process)."""

    def __init__(self, inflight: int) -> None:
        self.inflight = inflight
        self.stats = Stats()
        self.pairs: list[Pair] = []
        self._pending: dict[str, Pair] = {}

    async def setup(self, specs: list[PairSpec]) -> None:
        for spec in specs:
            s = socketio.AsyncClient(reconnection=False)
            r = socketio.AsyncClient(reconnection=False)
            pair = Pair(
                s, r, spec.receiver_id, spec.conversation_id, asyncio.Semaphore(self.inflight)
            )
            r.on("new_message", self._on_message)
            s.on("error", self._on_error)
            for client, auth, url in (
                (r, spec.receiver_auth, spec.receiver_url),
                (s, spec.sender_auth, spec.sender_url),
            ):
                await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
            self.pairs.append(pair)

    def cpu_seconds(self) -> float:
        return time.process_time()

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

    async def closed_loop(self, seconds: float) -> tuple[float, int]:
        """Delivered msg/s while the clock ran, and every delivery including the drain."""
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
        return delivered / elapsed, self.stats.received

    async def fixed_rate(self, rate: float, seconds: float) -> dict[str, float]:
        self.stats = Stats()
        started = time.perf_counter()
        sent = 0
        i = 0
        while (now := time.perf_counter()) - started < seconds:
            due = int((now - started) * rate) - sent
            for _ in range(due):
                await self.send(self.pairs[i % len(self.pairs)], closed=False)
                i += 1
            sent += max(due, 0)
            await asyncio.sleep(0.002)
        achieved = sent / (time.perf_counter() - started)
        await self.drain(10)
        lat = [x * 1000 for x in self.stats.latencies]
        return {
            "sent": sent,
            "achieved": achieved,
            "received": self.stats.received,
            "lost": len(self.stats.sent_at),
            "errors": self.stats.errors,
            "p50": pct(lat, 0.5) if lat else float("nan"),
            "p99": pct(lat, 0.99) if lat else float("nan"),
            "max": max(lat, default=float("nan")),
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


class NodeLoad:
    """The Node load generator (bench/socket_relay_node/loadgen.js, official socket.io-client),
    driven one JSON line at a time over its stdin/stdout."""

    def __init__(self, inflight: int, deflate: bool) -> None:
        self.inflight = inflight
        self.deflate = deflate
        self.p: asyncio.subprocess.Process | None = None

    async def setup(self, specs: list[PairSpec]) -> None:
        self.p = await asyncio.create_subprocess_exec(
            "node", str(NODE_DIR / "loadgen.js"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        pairs = [
            {
                "senderUrl": sp.sender_url,
                "receiverUrl": sp.receiver_url,
                "senderAuth": sp.sender_auth,
                "receiverAuth": sp.receiver_auth,
                "conversationId": sp.conversation_id,
                "receiverId": sp.receiver_id,
            }
            for sp in specs
        ]
        config = {"pairs": pairs, "inflight": self.inflight, "deflate": self.deflate}
        await self._ask(config, timeout=60)

    async def _ask(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.p is not None
        assert self.p.stdin is not None
        assert self.p.stdout is not None
        self.p.stdin.write(json.dumps(message).encode() + b"\n")
        await self.p.stdin.drain()
        line = await asyncio.wait_for(self.p.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the Node load generator exited ({await self.p.wait()})")
        return json.loads(line)  # type: ignore[no-any-return]

    def cpu_seconds(self) -> float:
        assert self.p is not None
        return proc_cpu_seconds(self.p.pid)

    async def closed_loop(self, seconds: float) -> tuple[float, int]:
        r = await self._ask({"cmd": "closed", "seconds": seconds}, timeout=seconds + 30)
        return float(r["msgs"]), int(r["deliveredTotal"])

    async def fixed_rate(self, rate: float, seconds: float) -> dict[str, float]:
        r = await self._ask({"cmd": "rate", "rate": rate, "seconds": seconds}, seconds + 30)
        nan = float("nan")
        return {k: nan if r.get(k) is None else float(r[k]) for k in FIXED_KEYS}

    async def close(self) -> None:
        if self.p is None:
            return
        with contextlib.suppress(Exception):
            assert self.p.stdin is not None
            self.p.stdin.write(b'{"cmd": "quit"}\n')
            await self.p.stdin.drain()
        try:
            await asyncio.wait_for(self.p.wait(), 10)
        except TimeoutError:
            self.p.kill()


FIXED_KEYS = ("sent", "achieved", "received", "lost", "errors", "p50", "p99", "max")


def ensure_node_modules() -> None:
    if not (NODE_DIR / "node_modules" / "socket.io-client").exists():
        print("[bench] npm ci in bench/socket_relay_node (first run only)...", file=sys.stderr)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True
        )


def token(uid: str) -> str:
    return mint_token(SETTINGS, uid, "doctor")


async def open_conversation(base: str, a: str, b: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        # b signs in first: the embedded directory knows who has presented a token
        seen = await http.get(
            "/api/v1/messages/unread-count", headers={"Authorization": f"Bearer {token(b)}"}
        )
        seen.raise_for_status()
        r = await http.post(
            "/api/v1/messages/conversations",
            json={"recipientId": b, "recipientType": "doctor"},
            headers={"Authorization": f"Bearer {token(a)}"},
        )
        r.raise_for_status()
        return str(r.json()["data"]["conversationId"])


def cpu_snapshot(
    servers: list[Proc], load: Bench | NodeLoad, redis_url: str | None
) -> dict[str, float]:
    """CPU seconds so far: the servers under test, Redis (when used), the load generator."""
    snap = {f"server{i}": p.cpu_seconds() for i, p in enumerate(servers)}
    snap["server"] = sum(snap.values())
    snap["loadgen"] = load.cpu_seconds()
    if redis_url:
        import redis

        with redis.Redis.from_url(redis_url) as r:
            info = r.info("cpu")
        snap["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return snap


async def measure(
    name: str,
    routes: list[tuple[str, str]],
    args: argparse.Namespace,
    servers: list[Proc],
    redis_url: str | None = None,
) -> dict[str, Any]:
    profiled = bool(args.profile) and name == "full"
    full = name.startswith("full")
    load: Bench | NodeLoad = (
        NodeLoad(args.inflight, args.client_deflate)
        if args.loadgen == "node"
        else Bench(args.inflight)
    )
    await load.setup(await pair_specs(args.pairs, routes, full=full))
    try:
        await load.closed_loop(1.0)  # warm-up
        # --profile: py-spy samples task A (the senders' task) over the closed loop only.
        spy = (
            start_profiler(args.profile, servers[0].pid, args.seconds, rate=250)
            if profiled
            else None
        )
        before = cpu_snapshot(servers, load, redis_url)
        throughput, delivered = await load.closed_loop(args.seconds)
        after = cpu_snapshot(servers, load, redis_url)
        if spy is not None:
            spy.wait(timeout=60)
        # Per message delivered between the snapshots (the drain after the clock stopped too).
        delivered = max(1, delivered)
        cpu_us = {k: (after[k] - before[k]) / delivered * 1e6 for k in after}
        fixed = await load.fixed_rate(args.rate, args.rate_seconds)
    finally:
        await load.close()
    return {"target": name, "closed_msgs": throughput, "cpu_us": cpu_us, **fixed}


async def run_target(name: str, args: argparse.Namespace) -> dict[str, Any]:
    py = sys.executable
    if name == "node":
        proc = Proc(["node", str(NODE_DIR / "relay.js")], {})
        with running(proc):
            return await measure(name, [(proc.url, proc.url)], args, [proc])
    if name in ("bare", "bare-receipt"):
        receipt = {"BARE_RECEIPT": "1"} if name == "bare-receipt" else {}
        proc = Proc([py, str(ROOT / "bench" / "socket_relay_bare.py")], receipt)
        with running(proc):
            return await measure(name, [(proc.url, proc.url)], args, [proc])
    env = {
        "REDIS_URL": args.redis_url,
        "RATE_LIMIT_MESSAGES": "1000000000",
        # It measures throughput, not the abuse limits (#11): a sender's closed loop passes 100
        # packets a second once the path delivers 2,000 msg/s over 20 senders, and a socket
        # closed for it would lose the rest of the run.
        "INBOUND_PACKETS_PER_SECOND": "1000000",
        "INBOUND_BYTES_PER_SECOND": "1000000000",
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "development",
    }
    if args.mongodb_uri:
        env["MONGODB_URI"] = args.mongodb_uri
        env["MONGODB_DB"] = f"bench-socket-{uuid.uuid4().hex[:6]}"
    # full-base: the same full path from another checkout (--base), in the same run.
    root = ROOT
    if name == "full-base":
        root = Path(args.base).resolve()
        env["PYTHONPATH"] = f"{root / 'layers'}:{root}"
    task_a = Proc(
        [py, "-m", "socket_tier.local"],
        {**env, "TASK_ID": f"bench-a-{uuid.uuid4().hex[:6]}"},
        cwd=root,
    )
    task_b = Proc(
        [py, "-m", "socket_tier.local"],
        {**env, "TASK_ID": f"bench-b-{uuid.uuid4().hex[:6]}"},
        cwd=root,
    )
    routes = [(task_a.url, task_b.url)]
    if args.layout == "spread":
        routes.append((task_b.url, task_a.url))
    with running(task_a, task_b):
        return await measure(name, routes, args, [task_a, task_b], args.redis_url)


def server_cpu(cpu: dict[str, float]) -> str:
    """The servers' CPU per message; with two tasks, also each task's share (A + B)."""
    parts = [cpu[k] for k in sorted(cpu) if k.startswith("server") and k != "server"]
    total = f"{cpu['server']:,.0f}"
    return total if len(parts) < 2 else f"{total} ({' + '.join(f'{p:,.0f}' for p in parts)})"


def report(rows: list[dict[str, Any]], args: argparse.Namespace, store: str) -> str:
    lines = [
        f"pairs={args.pairs}, in flight per sender={args.inflight}, "
        f"closed loop {args.seconds:g} s, fixed rate {args.rate:g} msg/s "
        f"for {args.rate_seconds:g} s; full path store: {store}, layout: {args.layout}; "
        f"load generator: {args.loadgen}{' offering deflate' if args.client_deflate else ''}",
        "",
        "| target | closed loop delivered msg/s | server CPU µs/msg (task A + B) "
        "| Redis CPU µs/msg | load generator CPU µs/msg | fixed-rate achieved msg/s "
        "| p50 ms | p99 ms | max ms | lost | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = r["cpu_us"]
        redis_cpu = f"{cpu['redis']:,.0f}" if "redis" in cpu else "-"
        lines.append(
            f"| {r['target']} | {r['closed_msgs']:,.0f} | {server_cpu(cpu)} | {redis_cpu} | "
            f"{cpu['loadgen']:,.0f} | {r['achieved']:,.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.1f} | {r['lost']:.0f} | {r['errors']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", default="node,bare,bare-receipt,full")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--inflight", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--rate-seconds", type=float, default=10.0)
    ap.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    )
    ap.add_argument(
        "--loadgen",
        choices=("node", "python"),
        default="node",
        help="load generator: socket.io-client on Node (light on CPU) or python-socketio",
    )
    ap.add_argument(
        "--client-deflate",
        action="store_true",
        help="Node load generator: offer permessage-deflate, as browsers do",
    )
    ap.add_argument(
        "--layout",
        choices=("split", "spread"),
        default="split",
        help="full path: every sender on task A (split) or half the senders on each task (spread)",
    )
    ap.add_argument("--mongodb-uri", default=None, help="use a real MongoDB for the full path")
    ap.add_argument(
        "--base",
        default=None,
        help="target full-base: the full path from this other checkout (a before/after pair)",
    )
    ap.add_argument(
        "--profile",
        default=None,
        help="full path: py-spy raw profile of task A over the closed loop, written to this file",
    )
    args = ap.parse_args()
    if not (1 <= args.seconds <= 120 and 1 <= args.rate_seconds <= 120):
        ap.error("--seconds and --rate-seconds must be between 1 and 120")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if "full-base" in targets and not args.base:
        ap.error("target full-base needs --base (another checkout of the service)")
    if any(t.startswith("full") for t in targets) and not args.redis_url:
        from tests.servers import redis_url

        args.redis_url = redis_url().rsplit("/", 1)[0] + "/12"
    if args.loadgen == "node" or "node" in targets:
        ensure_node_modules()
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
