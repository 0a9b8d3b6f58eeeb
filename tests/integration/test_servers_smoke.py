"""Smoke tests: each loopback test server answers its real Python client.

The servers are started on demand by tests/servers.py (scripts/servers/start.sh).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from tests import servers  # the repo root is on sys.path (pyproject: pythonpath)

pytestmark = [
    pytest.mark.integration,
    # kafka-python's protocol loader still uses importlib.resources' legacy API
    pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning"),
]


def test_redis_ping_set_get() -> None:
    import redis

    client = redis.Redis.from_url(servers.redis_url(), socket_timeout=5)
    try:
        assert client.ping() is True
        key = f"smoke:{uuid.uuid4().hex}"
        assert client.set(key, "héllo", ex=60) is True
        assert client.get(key) == "héllo".encode()
        assert client.delete(key) == 1
    finally:
        client.close()


def test_mongo_insert_find() -> None:
    from pymongo import AsyncMongoClient

    async def scenario() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            servers.mongodb_uri(), serverSelectionTimeoutMS=5000
        )
        try:
            coll = client["smoke"][f"c_{uuid.uuid4().hex[:12]}"]
            res = await coll.insert_one({"name": "alice", "n": 1})
            doc = await coll.find_one({"_id": res.inserted_id})
            assert doc is not None
            assert doc["name"] == "alice"
            assert doc["n"] == 1
            await coll.insert_many([{"name": "bob", "n": 2}, {"name": "carol", "n": 3}])
            names = [d["name"] async for d in coll.find({"n": {"$gte": 2}}).sort("n", 1)]
            assert names == ["bob", "carol"]
            await coll.drop()
        finally:
            await client.close()

    asyncio.run(scenario())


def test_kafka_produce_consume_keyed() -> None:
    from kafka import KafkaConsumer, KafkaProducer

    broker = servers.kafka_broker()
    topic = f"smoke-{uuid.uuid4().hex[:12]}"
    key, value = b"conv-42", b'{"type":"message.created"}'

    producer = KafkaProducer(
        bootstrap_servers=broker, acks="all", retries=5, request_timeout_ms=30000
    )
    try:
        # First send auto-creates the topic; acks=all + get() means it is really committed.
        meta = producer.send(topic, key=key, value=value).get(timeout=60)
        assert meta.topic == topic
        assert meta.offset == 0
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=f"smoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    try:
        got: list[Any] = []
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                got.extend(records)
        assert got, f"no message consumed back from {topic} within 60 s"
        assert (got[0].key, got[0].value) == (key, value)
        consumer.commit()
    finally:
        consumer.close()


def test_s3_bucket_put_get() -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=servers.s3_endpoint(),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"smoke-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"attachment bytes", ContentType="text/plain")
    obj = s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert obj["Body"].read() == b"attachment bytes"
    assert obj["ContentType"] == "text/plain"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["a/b.txt"]
