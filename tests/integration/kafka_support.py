"""Helpers for the Kafka integration tests (no tests here): real broker, real MongoDB outbox.

Each test gets its own topic prefix (so earlier runs' records never interfere) and its own
database, dropped afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from messaging_core import conversations, messages
from messaging_core.config import Settings
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.events import EVENT_TYPES
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Principal
from pymongo import AsyncMongoClient

from tests import servers

PARTITIONS = 3


def unique_prefix() -> str:
    return f"it{uuid.uuid4().hex[:10]}."


def create_topics(broker: str, prefix: str, partitions: int = PARTITIONS) -> list[str]:
    """The four topics, with several partitions so that per-key order is really exercised."""
    topics = [f"{prefix}{t}" for t in EVENT_TYPES]
    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=30_000)
    try:
        admin.create_topics(
            {t: {"num_partitions": partitions, "replication_factor": 1} for t in topics},
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    return topics


# The last record of a test on each partition it reads: what was published before it has been
# read once this is (per-partition order), so no duplicate can still be on its way.
END_MARK = b"__end_of_test_records__"


def consume(
    broker: str,
    topics: list[str],
    done: Callable[[list[Any]], bool],
    timeout: float = 60.0,
) -> list[Any]:
    """Read the topics from the start until `done(records)`, then up to an end mark written
    afterwards on every partition (duplicates published before it are read; no time waited)."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=broker,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(records):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        if done(records):
            marks = _write_end_marks(broker, topics)
            for _ in range(600):  # bounded by count: the marks are what ends the read
                if not marks:
                    break
                for batch in consumer.poll(timeout_ms=200).values():
                    for record in batch:
                        if record.value == END_MARK:
                            marks.discard((record.topic, record.partition))
                        else:
                            records.append(record)
            assert not marks, f"end marks never read back: {sorted(marks)}"
    finally:
        consumer.close()
    return records


def _write_end_marks(broker: str, topics: list[str]) -> set[tuple[str, int]]:
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    try:
        marks = set()
        for topic in topics:
            for partition in sorted(producer.partitions_for(topic) or ()):
                producer.send(topic, value=END_MARK, partition=partition)
                marks.add((topic, partition))
        producer.flush(timeout=30)
    finally:
        producer.close()
    return marks


def at_least(n: int) -> Callable[[list[Any]], bool]:
    return lambda records: len(records) >= n


def header(record: Any, name: str) -> bytes | None:
    return dict(record.headers or []).get(name)


def settings_for(broker: str, prefix: str, db: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "environment": "test",
        "jwt_secret": "integration-test-secret-0123456789abcdef",
        "mongodb_uri": servers.mongodb_uri(),
        "mongodb_db": db,
        "kafka_broker": broker,
        "kafka_topic_prefix": prefix,
        "redis_url": None,
        "notification_service_url": None,
        "rate_limit_messages": 100_000,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def kafka_core(
    broker: str, prefix: str, *, background_dispatch: bool = False, **overrides: Any
) -> AsyncIterator[Core]:
    """A Core on the real MongoDB (fresh database) publishing to the real broker."""
    db = f"kafka_it_{uuid.uuid4().hex[:10]}"
    settings = settings_for(broker, prefix, db, **overrides)
    core = await build_core(settings, background_dispatch=background_dispatch)
    try:
        yield core
    finally:
        await core.drain()
        await core.publisher.close()
        await core.store.close()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongodb_uri())
        try:
            await client.drop_database(db)
        finally:
            await client.close()


async def open_pair(core: Core) -> tuple[Principal, Principal, str]:
    patient = Principal(new_id(), "patient", "Pat")
    doctor = Principal(new_id(), "doctor", "Dr Who")
    await core.identify(patient)
    await core.identify(doctor)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    return patient, doctor, str(opened.conversation["conversationId"])


async def send(core: Core, user: Principal, conversation_id: str, text: str) -> str:
    sent = await messages.send_text(core, user, conversation_id, SendMessageIn(content=text))
    return str(sent.message["id"])
