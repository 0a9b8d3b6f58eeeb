"""What publishing events costs on the send path, and what the producer sustains.

    PYTHONPATH=layers:. .venv/bin/python bench/events_bench.py [--rate 500] [--seconds 10]

1. Send latency through `messages.send_text` at a fixed arrival rate (open loop: each send
   starts on schedule, latency counts from its scheduled start), events off (in-memory
   publisher) vs on (Kafka, acks=all), in both dispatch modes: awaited before the reply (Lambda)
   and in the background (socket tier). The store is the in-memory one, so the difference is
   the cost of the publish alone; `--store mongo` uses the loopback MongoDB server instead.
2. Producer throughput: events/s through KafkaEventPublisher, in relay-sized batches and as
   concurrent one-event publishes (one per send, as requests do).

Loopback servers only (tests/servers.py starts them). Bounded: a few tens of seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

from messaging_core import conversations, messages  # noqa: E402
from messaging_core.adapters.kafka import KafkaEventPublisher  # noqa: E402
from messaging_core.config import Settings  # noqa: E402
from messaging_core.container import build_core  # noqa: E402
from messaging_core.core import Core  # noqa: E402
from messaging_core.events import message_sent  # noqa: E402
from messaging_core.ids import new_id  # noqa: E402
from messaging_core.inputs import SendMessageIn  # noqa: E402
from messaging_core.models import Message, Principal  # noqa: E402
from messaging_core.store.memory import MemoryStore  # noqa: E402

from bench.stats import pct  # noqa: E402
from tests import servers  # noqa: E402

CONVERSATIONS = 50


def settings(broker: str | None, prefix: str, store: str) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "kafka_broker": broker,
        "kafka_topic_prefix": prefix,
        "redis_url": None,
        "mongodb_uri": servers.mongodb_uri() if store == "mongo" else None,
        "mongodb_db": f"events_bench_{uuid.uuid4().hex[:8]}",
        "rate_limit_messages": 10_000_000,
    }
    return Settings(**values)


async def send_at_rate(
    broker: str | None, prefix: str, store: str, background: bool, rate: float, seconds: float
) -> dict[str, float]:
    s = settings(broker, prefix, store)
    core: Core = await build_core(
        s, store=MemoryStore() if store == "memory" else None, background_dispatch=background
    )
    try:
        pairs = []
        for _ in range(CONVERSATIONS):
            patient = Principal(new_id(), "patient")
            doctor = Principal(new_id(), "doctor")
            await core.identify(doctor)  # the directory knows the recipient
            opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
            pairs.append((patient, opened.conversation["conversationId"]))
        # Warm up: producer built, metadata fetched, connections open.
        for patient, conv in pairs:
            await messages.send_text(core, patient, conv, SendMessageIn(content="warm"))
        await core.drain()

        total = int(rate * seconds)
        latencies: list[float] = []
        failures = 0
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1

        async def one(i: int) -> None:
            nonlocal failures
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            patient, conv = pairs[i % CONVERSATIONS]
            try:
                await messages.send_text(core, patient, conv, SendMessageIn(content=f"b{i}"))
            except Exception:
                failures += 1
            latencies.append(loop.time() - due)

        await asyncio.gather(*(one(i) for i in range(total)))
        await core.drain()
        pending = await core.store.count_pending_events()
        return {
            "sends": total,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": pct(latencies, 0.99) * 1000,
            "max_ms": max(latencies) * 1000,
            "failures": failures,
            "pending": pending,
        }
    finally:
        await core.publisher.close()
        if store == "mongo":
            from pymongo import AsyncMongoClient

            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongodb_uri())
            await client.drop_database(s.mongodb_db)
            await client.close()
        await core.store.close()


def an_event(conversation_id: str) -> Any:
    now = __import__("messaging_core.clock", fromlist=["utcnow"]).utcnow()
    m = Message(
        id=new_id(),
        conversation_id=conversation_id,
        sender_id=new_id(),
        sender_type="patient",
        receiver_id=new_id(),
        receiver_type="doctor",
        message_type="text",
        content="",
        created_at=now,
        updated_at=now,
        seq=1,
    )
    return message_sent(m, receiver_online=False)


async def producer_throughput(broker: str, prefix: str, events: int) -> dict[str, float]:
    s = settings(broker, prefix, "memory")
    publisher = KafkaEventPublisher.from_settings(s)
    convs = [new_id() for _ in range(CONVERSATIONS)]
    try:
        await publisher.publish([an_event(convs[0])])  # warm up
        batch = [an_event(convs[i % CONVERSATIONS]) for i in range(events)]
        started = time.monotonic()
        for i in range(0, events, 200):
            await publisher.publish(batch[i : i + 200])
        batched = events / (time.monotonic() - started)

        singles = [an_event(convs[i % CONVERSATIONS]) for i in range(events)]
        started = time.monotonic()
        sem = asyncio.Semaphore(256)

        async def one(e: Any) -> None:
            async with sem:
                await publisher.publish([e])

        await asyncio.gather(*(one(e) for e in singles))
        concurrent = events / (time.monotonic() - started)
    finally:
        await publisher.close()
    return {"batched_per_s": batched, "concurrent_single_per_s": concurrent}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--store", choices=("memory", "mongo"), default="memory")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    broker = servers.kafka_broker()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    print(f"broker {broker}, topics {prefix}*, store {args.store}, {args.rate:g} sends/s")
    print("| events | dispatch | sends | p50 ms | p99 ms | max ms | failed | left pending |")
    print("|---|---|---|---|---|---|---|---|")
    for background in (False, True):
        mode = "background (socket tier)" if background else "awaited (Lambda)"
        for name, b in (("off (memory)", None), ("on (Kafka)", broker)):
            r = await send_at_rate(b, prefix, args.store, background, args.rate, args.seconds)
            print(
                f"| {name} | {mode} | {r['sends']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f}"
                f" | {r['max_ms']:.1f} | {r['failures']:.0f} | {r['pending']:.0f} |"
            )
    t = await producer_throughput(broker, prefix, args.events)
    print(
        f"\nproducer: {t['batched_per_s']:,.0f} events/s in batches of 200 (relay), "
        f"{t['concurrent_single_per_s']:,.0f} events/s as concurrent one-event publishes"
    )


if __name__ == "__main__":
    asyncio.run(main())
