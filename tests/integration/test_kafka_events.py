"""Events on a real Kafka broker: every event of a conversation, its fields, key and headers,
and per-conversation order under concurrent senders. The outbox is the real MongoDB store."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import pytest
from messaging_core import messages

from tests import servers
from tests.integration.kafka_support import (
    PARTITIONS,
    at_least,
    consume,
    create_topics,
    header,
    kafka_core,
    open_pair,
    send,
    unique_prefix,
)

pytestmark = pytest.mark.integration

SECRET = "Résultat confidentiel: glycémie 1,32 g/L"


async def test_a_whole_conversation_reaches_kafka_field_for_field() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    topics = create_topics(broker, prefix)
    async with kafka_core(broker, prefix) as core:
        # Given a patient and a doctor (offline), when the patient writes, the doctor views
        # the conversation, reads it, and the patient deletes the message
        patient, doctor, conv = await open_pair(core)
        mid = await send(core, patient, conv, SECRET)
        await messages.deliver_pending(core, doctor, conv)
        await messages.mark_read(core, doctor, conv, None)
        await messages.delete_message(core, patient, mid)
        # Then every publish was confirmed in the request: nothing left in the outbox
        assert await core.store.count_pending_events() == 0

    records = consume(broker, topics, at_least(4))
    by_topic = {r.topic: r for r in records}
    assert sorted(by_topic) == sorted(topics)
    assert len(records) == 4
    for r in records:
        assert r.key == conv.encode()  # one conversation, one partition, one order
        assert SECRET.encode() not in r.value
        payload = json.loads(r.value)
        assert header(r, "eventId") == payload["eventId"].encode()
        assert header(r, "eventType") == payload["eventType"].encode()
        assert r.topic == prefix + payload["eventType"]
    assert len({r.partition for r in records if r.topic.endswith("message.sent")}) == 1

    sent = json.loads(by_topic[f"{prefix}message.sent"].value)
    assert sent == {
        "eventType": "message.sent",
        "messageId": mid,
        "conversationId": conv,
        "senderId": patient.id,
        "receiverId": doctor.id,
        "messageType": "text",
        "timestamp": sent["timestamp"],
        "isReceiverOnline": False,
        "eventId": sent["eventId"],
    }
    delivered = json.loads(by_topic[f"{prefix}message.delivered"].value)
    assert set(delivered) == {"eventType", "messageId", "deliveredAt", "eventId"}
    assert delivered["messageId"] == mid
    read = json.loads(by_topic[f"{prefix}message.read"].value)
    assert set(read) == {"eventType", "conversationId", "messageIds", "readBy", "readAt", "eventId"}
    assert (read["conversationId"], read["messageIds"], read["readBy"]) == (conv, [mid], doctor.id)
    deleted = json.loads(by_topic[f"{prefix}message.deleted"].value)
    assert deleted == {
        "eventType": "message.deleted",
        "messageId": mid,
        "conversationId": conv,
        "deletedBy": patient.id,
        "deletedAt": deleted["deletedAt"],
        "eventId": deleted["eventId"],
    }
    # Epoch milliseconds, in the order things happened.
    times = [sent["timestamp"], delivered["deliveredAt"], read["readAt"], deleted["deletedAt"]]
    assert all(isinstance(t, int) and t > 1_700_000_000_000 for t in times)
    assert times == sorted(times)


@pytest.mark.parametrize("background_dispatch", [False, True], ids=["lambda", "socket-tier"])
async def test_order_holds_per_conversation_under_concurrent_senders(
    background_dispatch: bool,
) -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    topics = create_topics(broker, prefix)
    conversations, per_conversation = 12, 15
    async with kafka_core(broker, prefix, background_dispatch=background_dispatch) as core:
        pairs = [await open_pair(core) for _ in range(conversations)]

        async def chat(patient: Any, doctor: Any, conv: str) -> list[str]:
            # Both participants take turns, each send awaited before the next one.
            ids = []
            for i in range(per_conversation):
                who = patient if i % 2 == 0 else doctor
                ids.append(await send(core, who, conv, f"message {i}"))
            return ids

        # Every conversation at once: publishes of different conversations interleave.
        sent_ids = await asyncio.gather(*(chat(*p) for p in pairs))
        await core.drain()
        assert await core.store.count_pending_events() == 0

    total = conversations * per_conversation
    records = consume(broker, [f"{prefix}message.sent"], at_least(total))
    assert len(records) == total
    # Consumer side: within each partition, records of one key come in send order.
    seen: dict[bytes, list[dict[str, Any]]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        seen[r.key].append(json.loads(r.value))
        partitions[r.key].add(r.partition)
    assert len({p for ps in partitions.values() for p in ps}) > 1  # the test spans partitions
    for (_, _, conv), ids in zip(pairs, sent_ids, strict=True):
        key = conv.encode()
        assert len(partitions[key]) == 1
        assert [e["messageId"] for e in seen[key]] == ids
        stamps = [e["timestamp"] for e in seen[key]]
        assert stamps == sorted(stamps)
    assert topics
    assert PARTITIONS > 1
