"""Warm cost of one request through Mangum + FastAPI, next to a direct call of the same core
function on the same Core (history of a 20-message conversation).

    PYTHONPATH=layers:. .venv/bin/python bench/warm_overhead.py [--n 3000] [--mongo URI]
"""

import argparse
import asyncio
import statistics
import time
import uuid

from messaging_core import conversations, messages
from messaging_core.auth import mint_token
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Page, Principal

from bench.stats import pct
from functions import messages as messages_function
from tests.lambda_events import FakeContext, http_v2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--mongo", default=None, help="MongoDB URI (default: in-memory store)")
    args = parser.parse_args()
    # Budgets far above the run: the bench measures the framework, not the 429 path.
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, rate_limit_messages=10_000, rate_limit_history="1000000/60"
    )
    # The handler runs every request on its own long-lived loop; the Mongo client is bound to
    # the loop it first runs on, so the Core and the direct calls must use that same loop.
    messages_function.handler(http_v2("GET", "/warm-up"), FakeContext())
    loop = asyncio.get_event_loop()
    store = None
    if args.mongo:
        from messaging_core.store.mongo import MongoStore

        store = MongoStore.from_uri(args.mongo, f"bench_{uuid.uuid4().hex[:8]}")
    core = loop.run_until_complete(build_core(settings, store=store))
    set_core(core)
    patient = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient", "John Doe")
    doctor = Principal("673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith")

    async def seed() -> str:
        await core.identify(patient)
        await core.identify(doctor)
        opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
        conv = str(opened.conversation["conversationId"])
        for i in range(20):
            await messages.send_text(core, doctor, conv, SendMessageIn(content=f"message {i}"))
        return conv

    conv = loop.run_until_complete(seed())
    token = mint_token(settings, patient.id, "patient", "John Doe")
    path = f"/api/v1/messages/conversations/{conv}/messages"
    event = http_v2("GET", path, token, path_params={"conversationId": conv})
    ctx = FakeContext()

    def through_handler() -> None:
        reply = messages_function.handler(event, ctx)
        assert reply["statusCode"] == 200, reply

    def direct() -> None:
        loop.run_until_complete(messages.history(core, patient, conv, Page(1, 50)))

    for fn in (through_handler, direct):  # warm both paths
        for _ in range(50):
            fn()
    # Interleaved, so drift on a shared machine hits both paths alike.
    paths = (("handler (Mangum + FastAPI)", through_handler), ("direct core call", direct))
    results: dict[str, list[float]] = {name: [] for name, _ in paths}
    for _ in range(args.n):
        for name, fn in paths:
            t = time.perf_counter()
            fn()
            results[name].append((time.perf_counter() - t) * 1000)
    store_name = "MongoDB (" + args.mongo + ")" if args.mongo else "in-memory store"
    print(f"{args.n} requests each, history of 20 messages, {store_name}\n")
    print("| path | p50 ms | p99 ms | mean ms |")
    print("|---|---:|---:|---:|")
    for name, s in results.items():
        print(f"| {name} | {pct(s, 0.5):.3f} | {pct(s, 0.99):.3f} | {statistics.fmean(s):.3f} |")
    h, d = results["handler (Mangum + FastAPI)"], results["direct core call"]
    print(
        f"| framework overhead | {pct(h, 0.5) - pct(d, 0.5):.3f} | "
        f"{pct(h, 0.99) - pct(d, 0.99):.3f} | {statistics.fmean(h) - statistics.fmean(d):.3f} |"
    )


if __name__ == "__main__":
    main()
