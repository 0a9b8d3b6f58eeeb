"""Abuse benchmark: other users' send latency and the server's memory under a one-account flood.

    PYTHONPATH=layers:. .venv/bin/python bench/abuse_bench.py --seconds 15 --rate 300

One `socket_tier.local` process on Redis (loopback only). --pairs sender/receiver pairs send
`send_message` at --rate msg/s in total for --seconds (python-socketio clients, this process);
p50/p99 send->`new_message` latency. Run twice, side by side: without, then with a flooder in its
own process: one account with two sockets at once, one emitting `typing_start` as fast as it
can send, the other a binary packet declaring 9,999,999,999 attachments followed by 100 kB
frames, each reconnecting as soon as the server closes or refuses it. The server's RSS is
sampled during each run.
The sending budget is raised for the run (it measures the flood, not the budget). Every loop is
bounded in time.

--rounds N alternates the two runs N times (no flood, flood, no flood, ...) and compares the
medians of their p99s: one 15 s run's p99 is its 45 slowest messages, and two runs in a row on
this machine differ by 2x without any flood (RESULTS-abuse.md).

--pin keeps the three parties off each other's core on a 2-core machine: the server alone on
CPU 0; the measuring clients and the flooder on CPU 1, the flooder at nice 19 so that it gets
what the measuring clients leave. An attacker runs on its own machine; unpinned, the flooder's
own CPU (a core, sending as fast as it can) takes it from the server and from the clients that
measure, and the run measures the machine. The pinned flood still reaches the server at
thousands of packets a second (the flooder's packet count is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

from messaging_core.ids import new_id  # noqa: E402

from bench.profiler import start_profiler  # noqa: E402
from bench.socket_bench import (  # noqa: E402
    Proc,
    open_conversation,
    proc_cpu_seconds,
    running,
    token,
)
from bench.stats import pct  # noqa: E402

ATTACK_HEADER = '59999999999-["send_message",{"_placeholder":true,"num":0}]'
FRAME = b"\0" * 100_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def connect(url: str, uid: str) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, auth={"token": token(uid)}, transports=["websocket"], wait_timeout=10)
    return c


async def load(url: str, pairs: int, rate: int, seconds: float, pid: int) -> dict[str, Any]:
    """Send at a fixed rate through `pairs` pairs; latency of each delivered message."""
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    clients: list[socketio.AsyncClient] = []
    senders: list[tuple[socketio.AsyncClient, str]] = []
    for _ in range(pairs):
        a, b = new_id(), new_id()
        conv = await open_conversation(url, a, b)
        sender, receiver = await connect(url, a), await connect(url, b)

        async def on_new(m: dict[str, Any]) -> None:
            t0 = sent_at.pop(m.get("content", ""), None)
            if t0 is not None:
                latencies.append(time.perf_counter() - t0)

        receiver.on("new_message", on_new)
        clients += [sender, receiver]
        senders.append((sender, conv))
    rss = [rss_mb(pid)]
    cpu0 = proc_cpu_seconds(pid)
    total = int(rate * seconds)
    start = time.perf_counter()
    for k in range(total):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sender, conv = senders[k % pairs]
        key = f"m{k}-{new_id()}"
        sent_at[key] = time.perf_counter()
        await sender.emit("send_message", {"conversationId": conv, "content": key})
        if k % rate == 0:
            rss.append(rss_mb(pid))
    for _ in range(50):  # bounded drain: 5 s at most
        if not sent_at:
            break
        await asyncio.sleep(0.1)
    rss.append(rss_mb(pid))
    cpu = proc_cpu_seconds(pid) - cpu0
    for c in clients:
        with contextlib.suppress(Exception):
            await c.disconnect()
    ms = [x * 1000 for x in latencies]
    return {
        "sent": total,
        "delivered": len(latencies),
        "p50_ms": pct(ms, 0.5) if ms else float("nan"),
        "p99_ms": pct(ms, 0.99) if ms else float("nan"),
        "rss_start_mb": rss[0],
        "rss_max_mb": max(rss),
        "rss_end_mb": rss[-1],
        "server_cpu_s": cpu,
    }


async def flood(url: str, seconds: float, kinds: str = "typing,binary") -> dict[str, int]:
    """One account on raw websockets (pre-encoded frames: the cheapest way to send), one
    reconnecting loop per kind at the same time: typing_start as fast as the socket takes it;
    a binary packet declaring 9,999,999,999 attachments and 100 kB frames. Each loop reconnects
    as soon as it is closed or refused. Bounded in time."""
    from websockets.asyncio.client import connect as ws_connect

    a, b = new_id(), new_id()
    conv = await open_conversation(url, a, b)
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    typing = "42" + json.dumps(["typing_start", {"conversationId": conv}])
    deadline = time.monotonic() + seconds
    stats = {"connections": 0, "refused": 0, "packets": 0, "binary_attempts": 0, "frames": 0}

    async def attack(kind: str) -> None:
        while time.monotonic() < deadline:
            try:
                async with ws_connect(ws_url, max_size=None, close_timeout=0.1) as ws:
                    await ws.recv()  # Engine.IO open
                    await ws.send("40" + json.dumps({"token": token(a)}))
                    left = deadline - time.monotonic()
                    answer = str(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
                    if not answer.startswith("40"):
                        stats["refused"] += 1  # cooling down: a flooder keeps trying
                        continue
                    stats["connections"] += 1
                    if kind == "binary":
                        stats["binary_attempts"] += 1
                        await ws.send(ATTACK_HEADER)
                        for _ in range(20):
                            await ws.send(FRAME)
                            stats["frames"] += 1
                    # Well past the server's per-socket budget, then a new connection (the
                    # server stops reading a refused socket; its close may reach a busy client
                    # late).
                    for _ in range(1000 if kind == "typing" else 0):
                        if time.monotonic() >= deadline:
                            break
                        await ws.send(typing)
                        stats["packets"] += 1
                        await asyncio.sleep(0)
            except Exception:  # closed by the server, or the run is over: reconnect
                await asyncio.sleep(0)

    await asyncio.gather(*(attack(kind) for kind in ("typing", "binary") if kind in kinds))
    return stats


# --pin: the server's CPU, and the CPU of the measuring clients and the flooder.
SERVER_CPU, CLIENT_CPU = "0", "1"


def start_flooder(
    url: str, seconds: float, pin: bool = False, kinds: str = "typing,binary"
) -> subprocess.Popen[bytes]:
    prefix = ["nice", "-n", "19", "taskset", "-c", CLIENT_CPU] if pin else []
    flooder = ["--flooder", url, "--seconds", str(seconds), "--flood", kinds]
    return subprocess.Popen(
        [*prefix, sys.executable, __file__, *flooder],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )


async def flood_only(url: str, pid: int, args: argparse.Namespace) -> str:
    """The flood without the load generator: what it costs the server (CPU, optional profile)."""
    cpu0 = proc_cpu_seconds(pid)
    flooder = start_flooder(url, args.seconds + 1, kinds=args.flood)
    await asyncio.sleep(0.5)
    profiler = start_profiler(args.profile, pid, args.seconds, rate=200) if args.profile else None
    for _ in range(int(args.seconds * 10) + 600):  # bounded: the flooder stops by itself
        if flooder.poll() is not None:
            break
        await asyncio.sleep(0.1)
    out = flooder.stdout.read() if flooder.stdout else b""
    if profiler is not None:
        profiler.wait(timeout=60)
    cpu = proc_cpu_seconds(pid) - cpu0
    return f"server CPU s: {cpu:.2f}; flooder: {out.decode().strip().splitlines()[-1]}"


def report(
    rows: list[tuple[str, dict[str, Any]]], args: argparse.Namespace, floods: list[dict[str, Any]]
) -> str:
    lines = [
        f"`bench/abuse_bench.py --seconds {args.seconds:g} --rate {args.rate} "
        f"--pairs {args.pairs} --rounds {args.rounds}{' --pin' if args.pin else ''}`",
        "",
        "| run | sent | delivered | p50 ms | p99 ms | server CPU s "
        "| server RSS start → max → end (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['sent']} | {r['delivered']} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['server_cpu_s']:.1f} | "
            f"{r['rss_start_mb']:.0f} → {r['rss_max_mb']:.0f} → "
            f"{r['rss_end_mb']:.0f} |"
        )
    base = statistics.median(r["p99_ms"] for name, r in rows if name.startswith("no flood"))
    flooded = statistics.median(r["p99_ms"] for name, r in rows if name.startswith("flood"))
    lines += [
        "",
        f"median p99: no flood {base:.1f} ms, flood {flooded:.1f} ms; "
        f"ratio flood / no flood: {flooded / base:.2f}×",
    ]
    lines += [f"flooder, round {i + 1}: {f}" for i, f in enumerate(floods)]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    env = {
        "REDIS_URL": args.redis_url,
        "RATE_LIMIT_MESSAGES": "1000000",
        "LOG_LEVEL": "ERROR",
        "ENVIRONMENT": "development",
    }
    pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
    if args.pin:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})  # this process: the measuring clients
    server = Proc([*pin, sys.executable, "-m", "socket_tier.local"], env)
    if args.flood_only:
        with running(server):
            assert server.p is not None
            print(await flood_only(server.url, server.p.pid, args))
        return
    with running(server):
        assert server.p is not None
        pid = server.p.pid
        await load(server.url, args.pairs, args.rate, 2, pid)  # warm-up, not reported
        rows: list[tuple[str, dict[str, Any]]] = []
        floods: list[dict[str, Any]] = []
        for n in range(1, args.rounds + 1):
            rows.append(
                (f"no flood {n}", await load(server.url, args.pairs, args.rate, args.seconds, pid))
            )
            flooder = start_flooder(server.url, args.seconds + 2, args.pin, args.flood)
            await asyncio.sleep(1)  # the flood is under way before the measured sends
            profile = args.profile if args.profile and n == args.rounds else None
            profiler = start_profiler(profile, pid, args.seconds) if profile else None
            rows.append(
                (f"flood {n}", await load(server.url, args.pairs, args.rate, args.seconds, pid))
            )
            out, _ = flooder.communicate(timeout=60)
            if profiler is not None:
                profiler.wait(timeout=60)
            floods.append(json.loads(out.decode().strip().splitlines()[-1]) if out else {})
            # The next round starts after the cooldown the flood earned has expired.
            await asyncio.sleep(args.pause)
    print(report(rows, args, floods))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--redis-url", help="default: the test Redis (started if needed), db 14")
    parser.add_argument("--rounds", type=int, default=1, help="no flood / flood pairs, alternated")
    parser.add_argument("--pause", type=float, default=0, help="seconds between rounds")
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 0; clients and a nice 19 flooder on CPU 1"
    )
    parser.add_argument(
        "--profile", help="py-spy raw profile of the server during the last flood run"
    )
    parser.add_argument(
        "--flood-only", action="store_true", help="no load: the flood's own cost to the server"
    )
    parser.add_argument(
        "--flood",
        default="typing,binary",
        help="what the flooder sends: typing, binary or both (where a p99 comes from)",
    )
    parser.add_argument("--flooder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        if not args.flooder.startswith("http://127.0.0.1:"):
            raise SystemExit("loopback only")
        print(json.dumps(asyncio.run(flood(args.flooder, args.seconds, args.flood))), flush=True)
        return
    if not args.redis_url:
        from tests.servers import redis_url

        args.redis_url = redis_url().rsplit("/", 1)[0] + "/14"
    if "127.0.0.1" not in args.redis_url and "localhost" not in args.redis_url:
        raise SystemExit("loopback only")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
