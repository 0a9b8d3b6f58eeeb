"""Response analytics (#17) on 100,000 messages in FerretDB, side by side with a plain history
page, in one run: the doctor's whole history sits in the analytics range (the worst case for
one call), spread over conversations with one patient each.

    eval "$(bash scripts/servers/env.sh)"
    PYTHONPATH=layers:. .venv/bin/python bench/analytics_bench.py --mongo "$TEST_MONGODB_URI" \
        [--messages 100000] [--conversations 200] [--repeat 5] [--warmup 1] [--keep | --db NAME]

The seeding goes straight through pymongo in batches (the store's own document mapping), so the
figures measure the reads only. The database is dropped at the end, unless --keep (its name is
printed); --db NAME measures an earlier --keep'd database without seeding again (on FerretDB's
SQLite backend, 100,000 messages take minutes to seed and each read scans them all).
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from messaging_core import analytics, messages
from messaging_core.container import build_core
from messaging_core.ids import new_id
from messaging_core.models import Conversation, Message, Page, Principal
from messaging_core.store.mongo import MongoStore, _conversation_doc, _message_doc

from tests.conftest import make_settings

DOCTOR = "673a1b2c3d4e5f6a7b8c9d0e"
DAYS = 30
BATCH = 5_000


def _loopback(uri: str) -> str:
    host = urlparse(uri).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("benchmarks run against loopback servers only")
    return uri


async def seed(store: MongoStore, n_messages: int, n_conversations: int) -> list[str]:
    """n_conversations doctor-patient pairs; patients write, the doctor answers minutes later."""
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=DAYS - 1)
    conversations = []
    for _ in range(n_conversations):
        patient = new_id()
        conversations.append(
            Conversation(
                id=new_id(),
                participants=sorted((patient, DOCTOR)),
                participant_types={patient: "patient", DOCTOR: "doctor"},
                conversation_type="patient_doctor",
                created_at=start,
                updated_at=start,
            )
        )
    await store.db["conversations"].insert_many([_conversation_doc(c) for c in conversations])
    per = n_messages // n_conversations
    step = (end - start) / per
    batch: list[dict[str, object]] = []
    inserted = [0]
    for c in conversations:  # bounded: n_conversations x per
        patient = c.other(DOCTOR)
        for i in range(per):
            from_doctor = i % 3 == 2  # two patient messages, then a reply
            at = start + step * i + timedelta(seconds=37 * (i % 11))
            sender, receiver = (DOCTOR, patient) if from_doctor else (patient, DOCTOR)
            m = Message(
                id=new_id(),
                conversation_id=c.id,
                sender_id=sender,
                sender_type="doctor" if from_doctor else "patient",
                receiver_id=receiver,
                receiver_type="patient" if from_doctor else "doctor",
                message_type="text",
                content=f"Message {i}: comment allez-vous aujourd'hui ?",
                created_at=at,
                updated_at=at,
                seq=i + 1,
                # Delivered and read, as an old history is: a history page then only reads.
                is_delivered=True,
                delivered_at=at,
                is_read=True,
                read_at=at,
            )
            batch.append(_message_doc(m))
            if len(batch) >= BATCH:
                await store.db["messages"].insert_many(batch, ordered=False)
                batch = []
                inserted[0] += BATCH
                print(f"seeded {inserted[0]}", file=sys.stderr, flush=True)
    if batch:
        await store.db["messages"].insert_many(batch, ordered=False)
    return [c.id for c in conversations]


def _row(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"| {name} | {statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} | {len(ms)} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mongo", default=os.environ.get("TEST_MONGODB_URI"))
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured calls of each first")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--db", help="measure this kept database (bench_analytics_...)")
    args = parser.parse_args()
    if not args.mongo:
        sys.exit("--mongo (or TEST_MONGODB_URI) is required: run scripts/servers/env.sh")
    db_name = args.db or f"bench_analytics_{uuid.uuid4().hex[:8]}"
    if not db_name.startswith("bench_analytics_"):
        sys.exit("--db: a database this benchmark seeded (bench_analytics_...)")
    store = MongoStore.from_uri(_loopback(args.mongo), db_name)
    settings = make_settings(rate_limit_analytics="100000/60", rate_limit_history="100000/60")
    core = await build_core(settings, store=store)
    doctor = Principal(DOCTOR, "doctor", "Dr. Bench")
    try:
        await store.ensure_indexes()
        print("indexes ready", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        if args.db:
            found = store.db["conversations"].find({}, {"_id": 1}).sort("_id", 1)
            conversation_ids = [str(d["_id"]) async for d in found]
        else:
            conversation_ids = await seed(store, args.messages, args.conversations)
        seeded = time.perf_counter() - t0
        total = await store.db["messages"].estimated_document_count()
        print(f"{total} messages in {db_name}", file=sys.stderr, flush=True)
        # Warm-up calls of each (connection, plan caches), then the measured calls.
        report = {}
        for _ in range(args.warmup):  # bounded
            report = await analytics.doctor_analytics(core, doctor)
            await messages.history(core, doctor, conversation_ids[0], Page(1, 50))
        analytics_times, history_times = [], []
        for _ in range(args.repeat):  # bounded
            t = time.perf_counter()
            report = await analytics.doctor_analytics(core, doctor)
            analytics_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            await messages.history(core, doctor, conversation_ids[1], Page(1, 50))
            history_times.append(time.perf_counter() - t)
        rows = report["totals"]["sent"] + report["totals"]["received"]
        how = "kept from an earlier run" if args.db else f"seeded in {seeded:.1f} s"
        print(f"{total} messages in {len(conversation_ids)} conversations ({how})")
        print(f"analytics covered {rows} messages; totals: {report['totals']}")
        print("| call | median ms | min ms | max ms | runs |")
        print("|---|---|---|---|---|")
        print(_row(f"analytics, last {DAYS} days ({rows} messages)", analytics_times))
        print(_row("history page (50 newest of one conversation)", history_times))
    finally:
        if args.keep or args.db:
            print(f"kept {db_name}", file=sys.stderr)
        else:
            await store._client.drop_database(db_name)
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
