"""Issue #16 part A on a real Kafka broker: `message.edited` (ids and times, never the text)
and `message.reaction` (ids, emoji, added/removed), keyed by conversation, through the outbox
on the real MongoDB store."""

from __future__ import annotations

import json

import pytest
from kafka.admin import KafkaAdminClient
from messaging_core import edits, events, reactions

from tests import servers
from tests.integration.kafka_support import (
    PARTITIONS,
    at_least,
    consume,
    header,
    kafka_core,
    open_pair,
    send,
    unique_prefix,
)

pytestmark = pytest.mark.integration

SECRET = "Résultat confidentiel: glycémie 1,32 g/L"
CORRECTED = "Résultat confidentiel: glycémie 1,23 g/L"


def create_action_topics(broker: str, prefix: str) -> list[str]:
    topics = [f"{prefix}{t}" for t in events.ACTION_EVENT_TYPES]
    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=30_000)
    try:
        admin.create_topics(
            {t: {"num_partitions": PARTITIONS, "replication_factor": 1} for t in topics},
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    return topics


async def test_edits_and_reactions_reach_kafka_without_the_text() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    topics = create_action_topics(broker, prefix)
    async with kafka_core(broker, prefix) as core:
        # Given a message, when its sender corrects it and the doctor reacts, then un-reacts
        patient, doctor, conv = await open_pair(core)
        mid = await send(core, patient, conv, SECRET)
        await edits.edit_message(core, patient, mid, CORRECTED)
        await reactions.add_reaction(core, doctor, mid, "👍🏽")
        await reactions.remove_reaction(core, doctor, mid, "👍🏽")
        # Then every publish was confirmed in the request: nothing left in the outbox
        assert await core.store.count_pending_events() == 0

    records = consume(broker, topics, at_least(3))
    assert len(records) == 3
    for r in records:
        assert r.key == conv.encode()
        assert b"glyc" not in r.value
        payload = json.loads(r.value)
        assert header(r, "eventId") == payload["eventId"].encode()
        assert r.topic == prefix + payload["eventType"]
    [edited] = [json.loads(r.value) for r in records if r.topic.endswith("message.edited")]
    assert edited == {
        "eventType": "message.edited",
        "messageId": mid,
        "conversationId": conv,
        "senderId": patient.id,
        "editedBy": patient.id,
        "version": 2,
        "createdAt": edited["createdAt"],
        "editedAt": edited["editedAt"],
        "eventId": edited["eventId"],
    }
    assert edited["createdAt"] <= edited["editedAt"]
    reacted = [json.loads(r.value) for r in records if r.topic.endswith("message.reaction")]
    reacted.sort(key=lambda p: (p["reactedAt"], p["action"] != "added"))
    assert [(p["action"], p["emoji"], p["userId"]) for p in reacted] == [
        ("added", "👍🏽", doctor.id),
        ("removed", "👍🏽", doctor.id),
    ]
    assert set(reacted[0]) == {
        "eventType",
        "messageId",
        "conversationId",
        "userId",
        "emoji",
        "action",
        "reactedAt",
        "eventId",
    }
