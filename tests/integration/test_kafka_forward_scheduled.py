"""Forwarding and scheduled messages on the real Kafka broker (issue #16 B): the `message.sent`
of a forward carries its source's ids, a scheduled send publishes once under its scheduled id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from messaging_core import conversations, scheduling
from messaging_core.clock import iso, utcnow
from messaging_core.forwarding import forward_message
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Principal

from tests import servers
from tests.integration.kafka_support import (
    consume,
    create_topics,
    kafka_core,
    open_pair,
    send,
    unique_prefix,
)

pytestmark = pytest.mark.integration

SECRET = "Compte rendu: IRM lombaire normale"


def sent_records(records: list[object], prefix: str) -> list[dict[str, object]]:
    return [
        json.loads(r.value)  # type: ignore[attr-defined]
        for r in records
        if r.topic == f"{prefix}message.sent"  # type: ignore[attr-defined]
    ]


async def test_forward_and_scheduled_sends_reach_kafka() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    topics = create_topics(broker, prefix)
    async with kafka_core(broker, prefix) as core:
        patient, doctor, conv_a = await open_pair(core)
        colleague = Principal(new_id(), "doctor", "Dr Two")
        await core.identify(colleague)
        opened = await conversations.open_conversation(core, doctor, colleague.id, "doctor")
        conv_b = str(opened.conversation["conversationId"])
        # When the patient writes, the doctor forwards it, and the patient schedules a message
        source = await send(core, patient, conv_a, SECRET)
        fwd = await forward_message(core, doctor, source, conv_b)
        data = SendMessageIn(content=SECRET, scheduledAt=iso(utcnow() + timedelta(hours=1)))
        scheduled = await scheduling.send_or_schedule(core, patient, conv_a, data)
        assert isinstance(scheduled, scheduling.Scheduled)
        later = utcnow() + timedelta(hours=2)
        assert await scheduling.send_due(core, clock=lambda: later) == 1
        assert await scheduling.send_due(core, clock=lambda: later) == 0
        assert await core.store.count_pending_events() == 0

    records = consume(broker, topics, lambda rs: len(sent_records(rs, prefix)) >= 3)
    for r in records:
        assert SECRET.encode() not in r.value
    sent = {str(p["messageId"]): p for p in sent_records(records, prefix)}
    assert len(sent) == 3
    # The forward: keyed by the target conversation, with the source's ids.
    forwarded = sent[fwd.ref.message_id]
    assert forwarded["conversationId"] == conv_b
    assert forwarded["senderId"] == doctor.id
    assert forwarded["forwardedFrom"] == {
        "messageId": source,
        "conversationId": conv_a,
        "senderId": patient.id,
        "createdAt": forwarded["forwardedFrom"]["createdAt"],  # type: ignore[index]
    }
    by_key = {r.key for r in records if json.loads(r.value).get("messageId") == fwd.ref.message_id}
    assert by_key == {conv_b.encode()}
    # The scheduled send: once, under its scheduled id, like any message.sent.
    assert sent[scheduled.scheduled_id]["conversationId"] == conv_a
    assert "forwardedFrom" not in sent[source]
    ids = [p["messageId"] for p in sent_records(records, prefix)]
    assert ids.count(scheduled.scheduled_id) == 1
