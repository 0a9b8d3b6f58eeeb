"""Connections per task and reconnect storms (issue #19), official socket.io-client on Node.

    PYTHONPATH=layers:. .venv/bin/python bench/connections.py idle --clients 3000
    PYTHONPATH=layers:. .venv/bin/python bench/connections.py storm --clients 3000 \
        --mongodb-uri "$TEST_MONGODB_URI" --redis-url "$TEST_REDIS_URL"

idle: N authenticated idle sockets on one server; reports the server's memory per connection
(RSS growth / N, from /proc) and connects per second (N / time to connect them all, 50 at a
time), for the minimal Node socket.io relay (bench/socket_relay_node/relay.js) and our socket
tier (`python -m socket_tier.server`, with Redis presence as in AWS) on granian and uvicorn.

storm: two tasks A and B (`socket_tier.local`: REST + Socket.IO) sharing Redis and MongoDB;
N patients each in their own conversation with a doctor, all connected to A; messages keep
being sent (REST on B, --rate msg/s, spread over the conversations) while A is restarted
(SIGTERM, then a new A on the same port). Each dropped client reconnects to A or B at random
(as the ALB would spread them) and `sync`s after the last seq it saw. Reports the time from the
first drop until all are back and synced, the messages lost (sent and acknowledged but seen by
their receiver neither live nor in `sync`: must be 0) and the p50/p99 of the `sync` calls.

Loopback only; every wait is bounded. The machine's other load shows in the numbers: compare
rows of one run, not runs of different days (bench/RESULTS-connections.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]
# The servers started here use the development secret (`make bench` exports the same).
os.environ.setdefault("ENVIRONMENT", "development")

from messaging_core.auth import mint_token  # noqa: E402
from messaging_core.config import Settings  # noqa: E402
from messaging_core.ids import new_id  # noqa: E402

from bench.ferretdb_gin import add_gin_indexes  # noqa: E402
from bench.profiler import start_profiler  # noqa: E402
from bench.socket_bench import (  # noqa: E402
    NODE_DIR,
    Proc,
    ensure_node_modules,
    proc_cpu_seconds,
    running,
)
from bench.stats import pct  # noqa: E402

SETTINGS = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
PY = sys.executable
# Bounds of the waits (seconds): a stuck phase ends the run with what it has.
CONNECT_TIMEOUT = 600.0
START_TIMEOUT = 120.0
STORM_TIMEOUT = 180.0
# Issue #19's goal for 3,000 clients: all back (reconnected and synced) in under 15 s, 0 lost.
STORM_GOAL_S = 15.0


STARTED = time.monotonic()


def log(text: str) -> None:
    print(f"[connections {time.monotonic() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Task(Proc):
    """A server process given more time to start than socket_bench's (index creation on a busy
    machine, the local S3 of `socket_tier.local`). `tree`: another checkout of the service (an
    earlier commit, `--before-tree`) to run instead of this one."""

    tree: Path = ROOT

    def start(self) -> Task:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        env["PYTHONPATH"] = f"{self.tree / 'layers'}:{self.tree}"
        self.p = subprocess.Popen(self.cmd, cwd=self.tree, env=env, stdout=subprocess.DEVNULL)
        for _ in range(int(START_TIMEOUT / 0.2)):  # bounded
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.cmd} exited with {self.p.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.cmd} did not start")


class NodeClients:
    """bench/socket_relay_node/connections.js, driven through its stdin/stdout lines.

    One daemon thread reads its stdout into a queue: a bounded wait for a line must not leave a
    thread blocked on `readline` behind it (asyncio.run would wait for that thread at exit, and
    the run would hang after a timed-out phase instead of reporting it)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.file = Path(tempfile.mkstemp(suffix=".json", prefix="conn-bench-")[1])
        self.file.write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "connections.js"), str(self.file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:  # ends with the process
            self._lines.put(text)
        self._lines.put(None)

    async def line(self, prefix: str, timeout: float) -> dict[str, Any]:
        """The next stdout line starting with `prefix` (bounded)."""
        deadline = time.monotonic() + timeout
        for _ in range(10_000):  # bounded: the script prints a handful of lines
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                text = await asyncio.to_thread(self._lines.get, True, min(left, 1.0))
            except queue.Empty:
                continue
            if text is None:
                raise RuntimeError(f"connections.js ended before {prefix}")
            if text.startswith(prefix + " "):
                return dict(json.loads(text[len(prefix) + 1 :]))
        raise TimeoutError(f"no {prefix} line within {timeout:.0f} s")

    def say(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.say("close")
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.file.unlink(missing_ok=True)


def token(uid: str, role: str = "patient") -> str:
    return mint_token(SETTINGS, uid, role)


# --- idle ------------------------------------------------------------------------------------
async def idle_target(name: str, proc: Proc, auths: list[dict[str, str]], args: Any) -> dict:
    with running(proc):
        assert proc.p is not None
        await asyncio.sleep(1.0)  # let start-up allocations settle before the baseline
        before = rss_kib(proc.p.pid)
        cpu_before = proc.cpu_seconds()
        clients = NodeClients(
            {
                "urls": [proc.url],
                "clients": [{"auth": a} for a in auths],
                "concurrency": args.concurrency,
                "mode": "idle",
                "timeoutMs": int(CONNECT_TIMEOUT * 1000),
            }
        )
        # --profile: py-spy samples our server while the clients connect (not Node's).
        spy = None
        if args.profile and name.startswith("ours"):
            spy = start_profiler(
                f"{args.profile}.{proc.env.get('SOCKET_SERVER')}", proc.pid, args.profile_seconds
            )
        try:
            result = await clients.line("CONNECTED", CONNECT_TIMEOUT)
            # CPU per connect: the server's own, which a loaded machine moves less than the rate.
            cpu = proc.cpu_seconds() - cpu_before
            client_cpu = proc_cpu_seconds(clients.proc.pid)
            if spy is not None:
                spy.wait(timeout=30)
            await asyncio.sleep(2.0)  # idle: let the connections settle (pings are 25 s apart)
            after = rss_kib(proc.p.pid)
        finally:
            clients.close()
    connected = int(result["connected"])
    return {
        "target": name,
        "connected": connected,
        "kib_per_conn": (after - before) / max(connected, 1),
        "connects_per_s": connected / max(float(result["seconds"]), 1e-9),
        "server_us_per_connect": cpu / max(connected, 1) * 1e6,
        "client_us_per_connect": client_cpu / max(connected, 1) * 1e6,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "connect_errors": result["connectErrors"],
    }


async def run_idle(args: argparse.Namespace) -> list[dict[str, Any]]:
    ensure_node_modules()
    users = [new_id() for _ in range(args.clients)]
    env = {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": args.redis_url,
        # One client per user here; the per-user cap and the inbound budget are per socket.
        "MAX_SOCKETS_PER_USER": "10",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    auths = [{"token": token(u)} for u in users]
    trees = [("", ROOT)]
    if args.before_tree:  # the same servers from an earlier checkout, in this same run
        trees.insert(0, (" before", Path(args.before_tree).resolve()))

    def node() -> Proc:
        return Proc(["node", str(NODE_DIR / "relay.js")], {})

    def ours(tree: Path, server: str) -> Callable[[], Proc]:
        def make() -> Proc:
            proc = Task(
                [PY, "-m", "socket_tier.server", "--host", "127.0.0.1"],
                {**env, "SOCKET_SERVER": server, "TASK_ID": f"conn-{uuid.uuid4().hex[:6]}"},
            )
            proc.tree = tree
            return proc

        return make

    targets: list[tuple[str, Callable[[], Proc], list[dict[str, str]]]] = []
    if "node" in args.targets:
        targets.append(("node", node, [{"userId": u} for u in users]))
    for label, tree in trees:
        for server in ("granian", "uvicorn"):
            if server in args.targets:
                targets.append((f"ours{label} ({server})", ours(tree, server), auths))
    rows = []
    for round_no in range(1, args.rounds + 1):
        # Every other round in the reverse order: a machine that speeds up or slows down
        # within a round favours neither side.
        order = targets if round_no % 2 else targets[::-1]
        for name, make, clients in order:
            row = await idle_target(name, make(), clients, args)
            rows.append({**row, "round": round_no})
    return rows


def idle_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    out = [
        f"idle connections: {args.clients} authenticated websocket clients, "
        f"{args.concurrency} connecting at a time (official socket.io-client on Node), "
        f"{args.rounds} round(s)",
        "",
        "| round | target | connected | KiB / connection | vs Node | connects / s | vs Node "
        "| server CPU µs / connect | vs Node | load generator CPU µs / connect |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        node = next((n for n in rows if n["target"] == "node" and n["round"] == r["round"]), None)
        cells = {"mem": "-", "rate": "-", "cpu": "-"}
        if node is not None and r is not node:
            got = {
                "mem": r["kib_per_conn"] / node["kib_per_conn"],
                "rate": r["connects_per_s"] / node["connects_per_s"],
                "cpu": r["server_us_per_connect"] / node["server_us_per_connect"],
            }
            for key, value in got.items():
                ratios.setdefault(r["target"], {}).setdefault(key, []).append(value)
                cells[key] = f"{value:.2f}x"
        elif node is not None:
            cells = {"mem": "1.00x", "rate": "1.00x", "cpu": "1.00x"}
        out.append(
            f"| {r['round']} | {r['target']} | {r['connected']} | {r['kib_per_conn']:.1f} "
            f"| {cells['mem']} | {r['connects_per_s']:.0f} | {cells['rate']} "
            f"| {r['server_us_per_connect']:,.0f} | {cells['cpu']} "
            f"| {r['client_us_per_connect']:,.0f} |"
        )
    if args.rounds > 1 and ratios:
        out += ["", "Median over the rounds (each ratio taken within its round):", ""]
        out += ["| target | memory vs Node | connects/s vs Node | server CPU vs Node |"]
        out += ["|---|---|---|---|"]
        for target, by in ratios.items():
            med = {k: statistics.median(v) for k, v in by.items()}
            span = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in by.items()}
            out.append(
                f"| {target} | {med['mem']:.2f}x ({span['mem']}) | {med['rate']:.2f}x "
                f"({span['rate']}) | {med['cpu']:.2f}x ({span['cpu']}) |"
            )
    return "\n".join(out)


# --- storm -----------------------------------------------------------------------------------
def store_cpu_by_name(names: list[str]) -> dict[str, float]:
    """CPU seconds so far of the store's processes on this machine (FerretDB, its PostgreSQL or
    SQLite, or mongod), by the first of `names` in each command line: in a storm the store
    shares the two cores with the tasks, so its share says who the run measured, and its parts
    say which of its processes (FerretDB's protocol and BSON work, or PostgreSQL's) spent it."""
    out = dict.fromkeys(names, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            name = next((n for n in names if n in cmd), None)
            if name is not None:
                out[name] += proc_cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return out


class StormCpu:
    """CPU seconds spent from the first drop until everyone is back: tasks, store, clients; and
    the store's by process name (a process started meanwhile, such as a new PostgreSQL backend,
    counts whole)."""

    def __init__(self, tasks: list[Task], clients: NodeClients, store: list[str]) -> None:
        self.tasks, self.clients, self.store = tasks, clients, store
        self.start, self.start_store = self._snap()

    def _snap(self) -> tuple[dict[str, float], dict[str, float]]:
        tasks = 0.0
        for t in self.tasks:
            if t.p is not None and t.p.poll() is None:
                with contextlib.suppress(OSError):
                    tasks += proc_cpu_seconds(t.p.pid)
        store = store_cpu_by_name(self.store)
        totals = {
            "tasks": tasks,
            "store": sum(store.values()),
            "clients": proc_cpu_seconds(self.clients.proc.pid),
        }
        return totals, store

    def add_task(self, task: Task) -> None:
        """A task started after the first snapshot: all of its CPU counts."""
        self.tasks.append(task)

    def spent(self) -> tuple[dict[str, float], dict[str, float]]:
        """(tasks, store, clients) and the store's parts, since the first snapshot."""
        end, end_store = self._snap()
        totals = {k: end[k] - self.start.get(k, 0.0) for k in end}
        parts = {k: v - self.start_store.get(k, 0.0) for k, v in end_store.items()}
        return totals, {k: v for k, v in parts.items() if v > 0}


async def prepare(base: str, n: int, concurrency: int) -> list[dict[str, str]]:
    """N (patient, doctor, conversation) triples, created through REST (bounded concurrency)."""
    gate = asyncio.Semaphore(concurrency)
    out: list[dict[str, str]] = []

    async def one(http: httpx.AsyncClient) -> None:
        patient, doctor = new_id(), new_id()
        async with gate:
            seen = await http.get(
                "/api/v1/messages/unread-count",
                headers={"Authorization": f"Bearer {token(patient)}"},
            )
            seen.raise_for_status()
            r = await http.post(
                "/api/v1/messages/conversations",
                json={"recipientId": patient, "recipientType": "patient"},
                headers={"Authorization": f"Bearer {token(doctor, 'doctor')}"},
            )
            r.raise_for_status()
        conv = str(r.json()["data"]["conversationId"])
        out.append({"patient": patient, "doctor": doctor, "conversationId": conv})

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await asyncio.gather(*(one(http) for _ in range(n)))
    return out


class Sender:
    """Sends --rate msg/s through REST on one task, round-robin over the conversations.

    Open loop with at most `in_flight` requests outstanding: a tick that finds them all busy is
    counted as skipped, and a late tick does not make up for the missed ones. (It used to: one
    stall of the bench's loop, then every missed send at once, thousands of tasks queued in the
    HTTP pool; the bench's own loop then starved and the storm never reported, see
    bench/RESULTS-connections.md.)"""

    def __init__(
        self, base: str, triples: list[dict[str, str]], rate: float, in_flight: int = 32
    ) -> None:
        self.base, self.triples, self.rate = base, triples, rate
        self.sent: list[tuple[str, str]] = []  # (conversationId, messageId) acknowledged
        self.failed = 0
        self.failures: dict[str, int] = {}  # by status code (or exception name)
        self.skipped = 0  # ticks with every slot busy (the server behind the rate)
        self.slots = asyncio.Semaphore(in_flight)
        self.stop = asyncio.Event()

    async def run(self, max_seconds: float) -> None:
        interval = 1.0 / self.rate
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            next_at = time.monotonic()
            for i in range(int(max_seconds * self.rate)):  # bounded
                if self.stop.is_set():
                    break
                if self.slots.locked():
                    self.skipped += 1
                else:
                    await self.slots.acquire()
                    t = self.triples[i % len(self.triples)]
                    task = asyncio.create_task(self._send(http, t, i))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _t: self.slots.release())
                # Late (the loop was busy): the schedule restarts from now, no burst.
                next_at = max(next_at + interval, time.monotonic())
                await asyncio.sleep(next_at - time.monotonic())
            if tasks:
                await asyncio.wait(tasks, timeout=30)

    def _failed(self, why: str) -> None:
        self.failed += 1
        self.failures[why] = self.failures.get(why, 0) + 1

    async def _send(self, http: httpx.AsyncClient, t: dict[str, str], i: int) -> None:
        try:
            r = await http.post(
                f"/api/v1/messages/conversations/{t['conversationId']}/messages",
                json={"content": f"storm {i}", "messageType": "text"},
                headers={"Authorization": f"Bearer {token(t['doctor'], 'doctor')}"},
            )
        except httpx.HTTPError as exc:
            self._failed(type(exc).__name__)
            return
        if r.status_code not in (200, 201):
            self._failed(str(r.status_code))
            return
        data = r.json().get("data", {})
        mid = data.get("id") or data.get("messageId") or data.get("_id")
        self.sent.append((t["conversationId"], str(mid)))


def unseen(sent: list[tuple[str, str]], report: dict[str, Any]) -> list[tuple[str, str]]:
    """The (conversation, message) pairs of `sent` that the clients' report has not seen."""
    received = {k: set(v) for k, v in report["received"].items()}
    return [(c, m) for c, m in sent if m not in received.get(c, set())]


async def retrievable(
    base: str, triples: list[dict[str, str]], pairs: list[tuple[str, str]]
) -> int:
    """How many of `pairs` the receiver's own history (REST `afterSeq=0`, what `sync` reads)
    returns: stored, so a later `sync` delivers them; the others would be lost for good."""
    patient_of = {t["conversationId"]: t["patient"] for t in triples}
    found = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for conv, mid in pairs:  # bounded: the unseen messages only
            r = await http.get(
                f"/api/v1/messages/conversations/{conv}/messages",
                params={"afterSeq": 0, "limit": 100},
                headers={"Authorization": f"Bearer {token(patient_of[conv])}"},
            )
            if r.status_code == 200 and any(
                m.get("id") == mid for m in r.json()["data"]["messages"]
            ):
                found += 1
    return found


def drop_database(uri: str, name: str) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(name)
    except Exception as exc:  # reported, not fatal: the run's numbers stand
        log(f"could not drop {name}: {type(exc).__name__}")
    finally:
        client.close()


async def run_storm(args: argparse.Namespace) -> dict[str, Any]:
    ensure_node_modules()
    if not args.mongodb_uri or not args.redis_url:
        raise SystemExit("storm needs --mongodb-uri and --redis-url (shared by both tasks)")
    env = {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": args.redis_url,
        "MONGODB_URI": args.mongodb_uri,
        "MONGODB_DB": f"bench-storm-{uuid.uuid4().hex[:6]}",
        "RATE_LIMIT_MESSAGES": "1000000000",
        "SOCKET_SERVER": args.server,
        "SHUTDOWN_GRACE_SECONDS": "10",
    }
    cmd = [PY, "-m", "socket_tier.local"]
    task_a = Task(cmd, {**env, "TASK_ID": f"storm-a-{uuid.uuid4().hex[:6]}"})
    task_b = Task(cmd, {**env, "TASK_ID": f"storm-b-{uuid.uuid4().hex[:6]}"})
    restarted = Task(cmd, {**env, "TASK_ID": f"storm-a2-{uuid.uuid4().hex[:6]}"})
    restarted.port = task_a.port
    with running(task_a, task_b):
        log(f"tasks up; creating {args.clients} conversations")
        triples = await prepare(task_b.url, args.clients, args.concurrency)
        if args.store_gin:
            made = await asyncio.to_thread(add_gin_indexes, args.store_gin, env["MONGODB_DB"])
            log(f"{made} GIN indexes added for FerretDB's finds (bench/ferretdb_gin.py)")
        log("connecting the clients to A")
        clients = NodeClients(
            {
                "urls": [task_a.url, task_b.url],
                "clients": [
                    {"auth": {"token": token(t["patient"])}, "conversationId": t["conversationId"]}
                    for t in triples
                ],
                "concurrency": args.concurrency,
                "mode": "storm",
                "timeoutMs": int((CONNECT_TIMEOUT + STORM_TIMEOUT) * 1000),
            }
        )
        try:
            connected = await clients.line("CONNECTED", CONNECT_TIMEOUT)
            log(f"connected: {connected}; sending, then restarting A")
            sender = Sender(task_b.url, triples, args.rate, args.in_flight)
            sending = asyncio.create_task(sender.run(STORM_TIMEOUT))
            await asyncio.sleep(1.0)  # messages flow before the restart too
            assert task_a.p is not None
            cpu = StormCpu([task_b], clients, args.store_procs.split(","))
            assert task_b.p is not None
            if args.profile:  # task B from the drop: it takes reconnects and every REST send
                start_profiler(f"{args.profile}.storm-b", task_b.p.pid, args.profile_seconds)
            stopping_at = time.monotonic()
            task_a.p.terminate()  # SIGTERM, as ECS stops a task: the drain closes every session
            await asyncio.to_thread(task_a.p.wait, 60)
            a_stop_s = time.monotonic() - stopping_at
            log("A stopped; starting the new A")
            # In a thread: its health polls block, and the sends and the clients' lines must
            # keep flowing meanwhile (they stalled here before, bench/RESULTS-connections.md).
            cpu.add_task(restarted)  # counted from its start (its own import and indexes)
            starting_at = time.monotonic()
            a_start_s: list[float] = []

            def started(_t: object) -> None:
                a_start_s.append(time.monotonic() - starting_at)
                log("the new A answers its health check")

            restarting = asyncio.create_task(asyncio.to_thread(restarted.start))
            restarting.add_done_callback(started)
            try:
                back = await clients.line("BACK", STORM_TIMEOUT)
                spent, store_parts = cpu.spent()
                log(f"all back: {back}")
                await restarting
                await asyncio.sleep(1.0)  # messages keep flowing after everyone is back
                sender.stop.set()
                await asyncio.wait_for(sending, 60)
                log(
                    f"sent {len(sender.sent)} ({sender.failed} failed, {sender.skipped} ticks "
                    "skipped); asking for the report"
                )
                await asyncio.sleep(2.0)  # the last sends reach their receivers
                clients.say("report")
                report = await clients.line("REPORT", 60)
                missing = unseen(sender.sent, report)
                late, stored = 0, 0
                if missing:
                    # Not seen yet: late (still on its way, on a loaded machine) or lost? Ask
                    # again after a while, then ask the store what a `sync` would return.
                    log(f"{len(missing)} not seen by their receivers; asking again in 10 s")
                    await asyncio.sleep(10.0)
                    clients.say("report")
                    still = unseen(missing, await clients.line("REPORT", 60))
                    late = len(missing) - len(still)
                    stored = await retrievable(task_b.url, triples, still)
                log("report received; stopping")
            finally:
                sender.stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(restarting, START_TIMEOUT)
                await asyncio.to_thread(restarted.stop)
        finally:
            clients.close()
            # The next run starts on an empty server: a store that scans (FerretDB) must not
            # carry this run's tables into it.
            await asyncio.to_thread(drop_database, args.mongodb_uri, env["MONGODB_DB"])
    lost = unseen(sender.sent, report)
    sync_ms = sorted(float(x) for x in report["syncMs"])
    return {
        "clients": args.clients,
        "connected": connected["connected"],
        "connects_per_s": connected["connected"] / max(float(connected["seconds"]), 1e-9),
        "dropped": back["dropped"],
        "all_back_s": back["seconds"],
        "all_reconnected_s": back.get("reconnectedSeconds"),
        "sent": len(sender.sent),
        "send_failed": sender.failed,
        "send_failures": sender.failures,
        "send_skipped": sender.skipped,
        "sync_failed": report.get("syncFailed", 0),
        # Sent and acknowledged, not seen by the receiver (live or by `sync`) at the report;
        # of those, seen 10 s later (late), and, of the rest, what a `sync` would return now.
        "lost": len(lost),
        "late": late,
        "unseen_but_stored": stored,
        "sync_calls": len(sync_ms),
        "sync_p50_ms": pct(sync_ms, 0.5) if sync_ms else None,
        "sync_p99_ms": pct(sync_ms, 0.99) if sync_ms else None,
        "connected_at_end": report["connected"],
        "connect_errors": back.get("connectErrorsBy", {}),
        "reconnected_to": back.get("reconnectedTo", {}),
        "cpu_until_back": spent,
        "store_cpu_by_process": store_parts,
        "server": args.server,
        "store_gin": bool(args.store_gin),
        # Task A away: its drain (SIGTERM until it exited), then the new A's start (until its
        # health check answers); the ALB sends every reconnect to B meanwhile.
        "a_stop_s": a_stop_s,
        "a_start_s": a_start_s[0] if a_start_s else None,
    }


def storm_report(r: dict[str, Any], args: argparse.Namespace) -> str:
    p50 = f"{r['sync_p50_ms']:.0f}" if r["sync_p50_ms"] is not None else "-"
    p99 = f"{r['sync_p99_ms']:.0f}" if r["sync_p99_ms"] is not None else "-"
    return "\n".join(
        [
            f"reconnect storm: {r['clients']} clients on task A ({r['server']}), A restarted "
            f"(SIGTERM + a new A), {args.rate:.0f} msg/s sent through B meanwhile"
            + ("; FerretDB's finds served by GIN twins" if r["store_gin"] else ""),
            "",
            "| clients | dropped | all reconnected (s) | all back (s) | sent | lost | sync calls "
            "| sync p50 (ms) | sync p99 (ms) | sync failed | send failures | sends skipped |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {r['clients']} | {r['dropped']} | {r['all_reconnected_s'] or 0:.1f} "
            f"| {r['all_back_s']:.1f} | {r['sent']} "
            f"| {r['lost']} | {r['sync_calls']} | {p50} | {p99} | {r['sync_failed']} "
            f"| {r['send_failed']} | {r['send_skipped']} |",
            "",
            f"CPU seconds from the first drop until all were back: {cpu_line(r)}"
            + f"; connect errors by reason: {r['connect_errors'] or 'none'}",
            f"Not seen at the report: {r['lost']}; of those, seen 10 s later: {r['late']}; of "
            f"the rest, returned by the receiver's history (a later `sync`): "
            f"{r['unseen_but_stored']}",
            f"Task A away: its drain took {r['a_stop_s']:.1f} s, the new A's start "
            + (f"{r['a_start_s']:.1f} s" if r["a_start_s"] is not None else "did not finish"),
        ]
    )


def cpu_line(r: dict[str, Any]) -> str:
    """`tasks 7.8, store 13.7 (ferretdb 7.7, postgres 6.2), clients 2.7`."""
    cpu, parts = r["cpu_until_back"], r.get("store_cpu_by_process") or {}
    out = []
    for k, v in cpu.items():
        out.append(f"{k} {v:.1f}")
        if k == "store" and parts:
            out[-1] += " (" + ", ".join(f"{n} {s:.1f}" for n, s in parts.items()) + ")"
    return ", ".join(out)


def storm_rounds_report(results: list[dict[str, Any]]) -> str:
    """One line per storm run back to back, then what the goal asks of them: how many came all
    back within STORM_GOAL_S with nothing lost, and the median (a single run moves with the
    machine's speed, bench/RESULTS-connections.md)."""
    out = [
        f"{len(results)} storms back to back",
        "",
        "| run | all reconnected (s) | all back (s) | lost | sync p50 / p99 (ms) "
        "| connect timeouts | CPU s from the drop |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(results, 1):
        p50, p99 = r["sync_p50_ms"], r["sync_p99_ms"]
        sync = f"{p50:,.0f} / {p99:,.0f}" if p50 is not None and p99 is not None else "-"
        out.append(
            f"| {i} | {r['all_reconnected_s'] or 0:.1f} | {r['all_back_s']:.1f} | {r['lost']} "
            f"| {sync} | {r['connect_errors'].get('timeout', 0)} | {cpu_line(r)} |"
        )
    back = [float(r["all_back_s"]) for r in results]
    within = sum(1 for r in results if r["all_back_s"] < STORM_GOAL_S and r["lost"] == 0)
    out += [
        "",
        f"All back: {min(back):.1f} to {max(back):.1f} s, median {statistics.median(back):.1f}; "
        f"{within} of {len(results)} under {STORM_GOAL_S:.0f} s with none lost; "
        f"lost in all: {sum(int(r['lost']) for r in results)}",
    ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("idle", "storm"))
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="idle: run every target this many times, each other round in reverse order, and "
        "report the median of each ratio to Node (taken within its round); storm: run this "
        "many storms back to back and report them side by side, with their median",
    )
    parser.add_argument("--targets", default="node,granian,uvicorn")
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="uvicorn")
    parser.add_argument("--rate", type=float, default=100.0, help="storm: msg/s sent meanwhile")
    parser.add_argument(
        "--store-procs",
        default="ferretdb,postgres,mongod",
        help="storm: command-line names of the store's processes, for their CPU share",
    )
    parser.add_argument(
        "--store-gin",
        metavar="POSTGRES_URL",
        help="storm on FerretDB over PostgreSQL: after seeding, give the service's indexes GIN "
        "twins that FerretDB's finds can use, as MongoDB's would be (bench/ferretdb_gin.py)",
    )
    parser.add_argument("--in-flight", type=int, default=32, help="storm: REST sends outstanding")
    parser.add_argument(
        "--profile",
        help="idle: py-spy raw profile of our server's first seconds of connects, to "
        "FILE.<server>; storm: of task B from the drop, to FILE.storm-b",
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=2.0, help="how long --profile samples"
    )
    parser.add_argument(
        "--before-tree",
        help="idle: also run the socket tier of this checkout (e.g. `git worktree add` of an "
        "earlier commit), in the same run, as `ours before`",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    )
    parser.add_argument(
        "--mongodb-uri",
        default=os.environ.get("MONGODB_URI") or os.environ.get("TEST_MONGODB_URI"),
    )
    args = parser.parse_args()
    if args.mode == "idle":
        print(idle_report(asyncio.run(run_idle(args)), args))
    else:
        results = []
        for round_no in range(1, args.rounds + 1):  # bounded; each storm on a fresh database
            if args.rounds > 1:
                log(f"storm {round_no} of {args.rounds}")
            results.append(asyncio.run(run_storm(args)))
            print(storm_report(results[-1], args))
            print(json.dumps(results[-1]), flush=True)
        if args.rounds > 1:
            print()
            print(storm_rounds_report(results))


if __name__ == "__main__":
    main()
