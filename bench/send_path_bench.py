"""The core's send path alone: CPU per `send_message` in one socket task, without socket.io.

    PYTHONPATH=layers:. .venv/bin/python bench/send_path_bench.py --redis-url redis://127.0.0.1:16379/6
    PYTHONPATH=layers:. .venv/bin/python bench/send_path_bench.py --base "$BASE" --rounds 3

Issue #19: what our own per-message work costs (participant check, budget, store, outbox,
access record, receipts, Redis fan-out), measured as the process's CPU time per send, which a
busy machine moves much less than msg/s. One socket task's wiring (`build_socket_runtime`:
Redis presence, budgets and fan-out on the loopback Redis, the in-memory store as under
`make run`), the receiver online on another task, `--inflight` sends at a time (as many
senders' events in flight on one task), each through `scheduling.send_or_schedule` after the
socket edge's `audit.bind`. With `--base PATH` the same loop runs from another checkout (say
`git archive` of main into a temporary folder), alternating with this one, `--rounds` times
each: a before/after pair in one run. Every loop is bounded by `--messages`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECEIVER_TASK = "bench-receiver-task"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(redis_url: str, messages: int, inflight: int) -> dict[str, float]:
    """One process, one checkout (whichever `messaging_core` is on the path)."""
    from messaging_core import audit, conversations, scheduling
    from messaging_core.config import Settings
    from messaging_core.container import SocketTask, build_socket_runtime, redis_ports
    from messaging_core.ids import new_id
    from messaging_core.inputs import SocketSendMessageIn
    from messaging_core.models import Principal

    settings = Settings(
        _env_file=None,
        environment="development",
        redis_url=redis_url,
        rate_limit_messages=10**9,
        log_level="WARNING",
    )  # type: ignore[call-arg]
    emitted = [0]

    async def local_emit(user_id: str, event: str, data: dict[str, Any]) -> None:
        emitted[0] += 1  # socket.io's own packet work is not measured here

    task = SocketTask(f"bench-send-{new_id()[-6:]}", 8, 60.0, local_emit)
    runtime = await build_socket_runtime(settings, task)
    core = runtime.core
    sender = Principal(id=new_id(), role="patient", name="Bench Patient")
    receiver = Principal(id=new_id(), role="doctor", name="Bench Doctor")
    await core.identify(sender)
    await core.identify(receiver)
    await runtime.presence.connect(sender.id, "sid-sender")
    # The receiver is online on another task: each new_message crosses Redis to that channel.
    other = redis_ports(settings, SocketTask(RECEIVER_TASK, 2, 600.0, local_emit))
    await other.presence.connect(receiver.id, "sid-receiver")
    opened = await conversations.open_conversation(core, sender, receiver.id, "doctor")
    conv = opened.conversation["conversationId"]

    async def send(i: int) -> None:
        audit.bind("socket")
        data = SocketSendMessageIn.model_validate(
            {
                "conversationId": conv,
                "receiverId": receiver.id,
                "content": f"m {i}",
                "tempId": f"t{i}",
            }
        )
        await scheduling.send_or_schedule(core, sender, data.conversationId, data)

    async def sender_loop(offset: int, count: int) -> None:
        for i in range(offset, offset + count):
            await send(i)

    await asyncio.gather(*(sender_loop(-100 - 10 * k, 10) for k in range(inflight)))  # warm-up
    await core.drain()
    per = messages // inflight
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(sender_loop(k * per, per) for k in range(inflight)))
    await core.drain()
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    sent = per * inflight
    counts = await count_work(core, runtime.client, sender_loop, inflight, 20)
    await other.presence.disconnect(receiver.id, "sid-receiver")
    await runtime.presence.disconnect(sender.id, "sid-sender")
    return {"cpu_us": cpu / sent * 1e6, "wall_us": wall / sent * 1e6, "sent": sent, **counts}


async def count_work(
    core: Any, client: Any, sender_loop: Any, inflight: int, per: int
) -> dict[str, float]:
    """What a busy machine does not move: Python calls, asyncio tasks, Redis script calls and
    socket writes, the collector's young-generation passes per send, over `inflight * per`
    more sends."""
    import gc

    from messaging_core.adapters.redis_client import script_batcher

    loop = asyncio.get_running_loop()
    tasks = [0]
    calls = [0]

    def factory(lp: Any, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        tasks[0] += 1
        return asyncio.Task(coro, loop=lp, **kw)

    def on_event(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            calls[0] += 1

    batcher = script_batcher(client)
    scripts0, gen0 = batcher.calls, gc.get_stats()[0]["collections"]
    writes0 = batcher.writes
    loop.set_task_factory(factory)
    sys.setprofile(on_event)
    try:
        await asyncio.gather(*(sender_loop(10**6 + k * per, per) for k in range(inflight)))
        await core.drain()
    finally:
        sys.setprofile(None)
        loop.set_task_factory(None)
    n = inflight * per
    return {
        "calls": calls[0] / n,
        "tasks": tasks[0] / n,
        "scripts": (batcher.calls - scripts0) / n,
        "writes": (batcher.writes - writes0) / n,
        "gen0": (gc.get_stats()[0]["collections"] - gen0) / n,
    }


def run_child(root: Path, args: argparse.Namespace) -> dict[str, float]:
    """This script in a fresh process, importing the service from `root`."""
    env = {**os.environ, "PYTHONPATH": f"{root / 'layers'}:{root}", "ENVIRONMENT": "development"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    cmd += ["--redis-url", args.redis_url, "--messages", str(args.messages)]
    cmd += ["--inflight", str(args.inflight)]
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, check=True, timeout=300)
    return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--inflight", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", default=None, help="another checkout to compare with (before)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.redis_url:
        ap.error("--redis-url (or REDIS_URL): the loopback test Redis")
    if not (
        1 <= args.messages <= 100_000 and 1 <= args.inflight <= 1000 and 1 <= args.rounds <= 10
    ):
        ap.error("--messages 1..100000, --inflight 1..1000, --rounds 1..10")
    if args.child:
        print(json.dumps(asyncio.run(measure(args.redis_url, args.messages, args.inflight))))
        return
    roots = {"this checkout": ROOT}
    if args.base:
        roots = {"base": Path(args.base).resolve(), **roots}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    for _ in range(args.rounds):  # alternating, so a change in the machine's load hits both
        for name, root in roots.items():
            results[name].append(run_child(root, args))
    print(
        f"`bench/send_path_bench.py --messages {args.messages} --inflight {args.inflight} "
        f"--rounds {args.rounds}`\n"
    )
    print(
        "| checkout | CPU µs per send (median) | each round | wall µs per send (median) "
        "| Python calls per send | asyncio tasks per send | Redis script calls per send "
        "| Redis writes per send | young GC passes per 1,000 sends |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        cpu = [r["cpu_us"] for r in runs]
        wall = statistics.median(r["wall_us"] for r in runs)
        each = ", ".join(f"{c:,.0f}" for c in cpu)
        last = runs[-1]
        print(
            f"| {name} | {statistics.median(cpu):,.0f} | {each} | {wall:,.0f} "
            f"| {last['calls']:,.0f} | {last['tasks']:.2f} | {last['scripts']:.2f} "
            f"| {last['writes']:.2f} | {last['gen0'] * 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
