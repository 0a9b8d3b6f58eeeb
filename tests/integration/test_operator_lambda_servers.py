"""The operator Lambda (issue #15) on the real servers: a hold set and released through the
handler is stored in MongoDB, and each change's access record reaches Kafka's `audit.access`
topic through the outbox before the reply (nothing left pending)."""

import json
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient
from messaging_core import audit
from messaging_core.container import set_core

from functions import operator as operator_fn
from tests import servers
from tests.integration.kafka_support import at_least, consume, kafka_core, open_pair, unique_prefix
from tests.lambda_events import FakeContext

pytestmark = pytest.mark.integration

OPERATOR = "dpo@hopital.example"


def create_audit_topic(broker: str, prefix: str) -> str:
    topic = f"{prefix}{audit.AUDIT_ACCESS}"
    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=30_000)
    try:
        admin.create_topics(
            {topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True
        )
    finally:
        admin.close()
    return topic


def test_a_hold_and_its_release_are_stored_and_their_records_reach_kafka() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    topic = create_audit_topic(broker, prefix)
    loop = operator_fn._loop  # the handler's loop: the Core's clients are bound to it
    running = kafka_core(broker, prefix)
    core = loop.run_until_complete(running.__aenter__())
    set_core(core)
    try:
        _, _, conv = loop.run_until_complete(open_pair(core))

        def invoke(event: dict[str, Any], request_id: str) -> dict[str, Any]:
            return operator_fn.handler(event, FakeContext("operator", aws_request_id=request_id))

        base = {"conversationId": conv, "operator": OPERATOR}
        reply = invoke({"action": "hold", "reason": "litige 2026-114", **base}, "req-hold")
        assert reply["ok"] is True, reply
        assert loop.run_until_complete(core.store.held_conversations()) == [conv]
        # Published before the reply: nothing waits in the outbox for the relay
        assert loop.run_until_complete(core.store.count_pending_events()) == 0
        # A refused event changes nothing and records nothing
        refused = invoke({"action": "release", "reason": "x", **base, "operator": " "}, "req-bad")
        assert refused["ok"] is False
        assert loop.run_until_complete(core.store.held_conversations()) == [conv]
        reply = invoke({"action": "release", "reason": "litige clos", **base}, "req-release")
        assert (reply["ok"], reply["message"]) == (True, "legal hold lifted")
        assert loop.run_until_complete(core.store.held_conversations()) == []
        trail, total = loop.run_until_complete(core.store.audit_trail(conv, 0, 10))
        assert total == 2
    finally:
        set_core(None)
        loop.run_until_complete(running.__aexit__(None, None, None))

    records = consume(broker, [topic], at_least(2))
    got = [json.loads(r.value) for r in records]
    assert [
        (p["action"], p["actorId"], p["reason"], p["channel"], p["requestId"], p["conversationId"])
        for p in got
    ] == [
        ("legal_hold.set", OPERATOR, "litige 2026-114", "operator", "req-hold", conv),
        ("legal_hold.lift", OPERATOR, "litige clos", "operator", "req-release", conv),
    ]
    assert {r.id for r in trail} == {p["eventId"] for p in got}
