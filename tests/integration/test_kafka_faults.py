"""Nothing lost: the broker stops while the API takes 200 messages, the relay dies mid-batch.

Real broker (stopped and restarted through tests/servers.py), real MongoDB outbox. Each test
reads back its own topics (unique prefix) and checks every message.sent arrived, and that any
duplicate carries the same eventId.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from messaging_core.auth import mint_token
from messaging_core.container import set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.models import PendingEvent
from messaging_core.ports import EventPublisher
from messaging_core.publisher import GuardedPublisher
from messaging_core.relay import relay_once, relay_pending

from tests import servers
from tests.integration.kafka_support import (
    at_least,
    consume,
    create_topics,
    kafka_core,
    open_pair,
    send,
    unique_prefix,
)

pytestmark = pytest.mark.integration

API = "/api/v1/messages"


async def relay_until_drained(core: Core, timeout: float = 120.0) -> None:
    """Run the relay as the scheduled function would, until the outbox is empty."""
    for _ in range(int(timeout / 0.5)):  # bounded by count: an empty outbox ends it
        if not await core.store.count_pending_events():
            return
        try:
            await relay_pending(core, older_than_seconds=0, batch=50)
        except Exception:
            await asyncio.sleep(0.5)  # broker still electing leaders after its restart
    assert not await core.store.count_pending_events(), "the relay did not drain the outbox"


def assert_all_arrived_once_per_event_id(records: Sequence[Any], expected: set[str]) -> None:
    event_ids: dict[str, set[str]] = defaultdict(set)
    for r in records:
        payload = json.loads(r.value)
        event_ids[payload["messageId"]].add(payload["eventId"])
    assert set(event_ids) == expected, f"missing: {len(expected - set(event_ids))}"
    # At least once: a message may arrive twice, always under the same eventId.
    assert all(len(ids) == 1 for ids in event_ids.values())


async def test_200_messages_sent_while_kafka_is_down_all_arrive_after_it_is_back() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    create_topics(broker, prefix)
    async with kafka_core(broker, prefix) as core:
        from functions.local_app import create_local_app

        set_core(core)
        transport = httpx.ASGITransport(app=create_local_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            # Given ten conversations, each with one message published while Kafka is up
            chats = []
            for _ in range(10):
                patient, _doctor, conv = await open_pair(core)
                token = mint_token(core.settings, patient.id, "patient")
                chats.append((conv, {"Authorization": f"Bearer {token}"}))
            expected: set[str] = set()
            for conv, auth in chats:
                r = await client.post(
                    f"{API}/conversations/{conv}/messages", json={"content": "hi"}, headers=auth
                )
                assert r.status_code == 201
                expected.add(r.json()["data"]["id"])
            assert await core.store.count_pending_events() == 0

            # When the broker stops and 200 messages are sent (ten senders at once)
            assert isinstance(core.publisher, GuardedPublisher)
            inner = core.publisher.inner
            attempts: list[int] = []
            real_publish = inner.publish

            async def counted_publish(events: Any) -> None:
                attempts.append(len(events))  # a request that went on to the (dead) broker
                await real_publish(events)

            inner.publish = counted_publish  # type: ignore[method-assign]
            servers.stop_kafka()
            try:

                async def sender(conv: str, auth: dict[str, str]) -> None:
                    for i in range(20):
                        r = await client.post(
                            f"{API}/conversations/{conv}/messages",
                            json={"content": f"pendant la panne {i}"},
                            headers=auth,
                        )
                        assert r.status_code == 201, r.text
                        expected.add(r.json()["data"]["id"])

                await asyncio.gather(*(sender(c, a) for c, a in chats))
                # Then the API kept answering, and most requests did not try the broker at all:
                # after the first failures the circuit breaker skips it (a request that tries
                # waits at most KAFKA_SEND_TIMEOUT_SECONDS; without the breaker, all 200 would).
                # The ten first concurrent requests try, then one probe per open period.
                assert 1 <= len(attempts) < 50, len(attempts)
                r = await client.get(f"{API}/conversations", headers=chats[0][1])
                assert r.status_code == 200
                assert await core.store.count_pending_events() == 200
                assert core.publisher.breaker.is_open
            finally:
                servers.start_kafka()
        set_core(None)

        # And once it is back, the relay publishes every one of them
        await relay_until_drained(core)
        assert await core.store.count_pending_events() == 0

    records = consume(broker, [f"{prefix}message.sent"], at_least(210), timeout=90)
    assert_all_arrived_once_per_event_id(records, expected)
    assert len(expected) == 210


class Down:
    """A publisher that always fails (the broker is unreachable)."""

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        raise ConnectionError("broker unreachable")

    async def close(self) -> None:
        return None


class DiesAfter:
    """Publishes the first `n` events of a batch for real, then dies (crash mid-batch)."""

    def __init__(self, inner: EventPublisher, n: int) -> None:
        self.inner = inner
        self.n = n

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        await self.inner.publish(events[: self.n])
        raise ConnectionError("relay process killed")

    async def close(self) -> None:
        return None


class HangsAfter:
    """Publishes the first `n` events for real, then hangs until cancelled (task killed)."""

    def __init__(self, inner: EventPublisher, n: int) -> None:
        self.inner = inner
        self.n = n
        self.hung = asyncio.Event()

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        await self.inner.publish(events[: self.n])
        self.hung.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


async def test_a_relay_killed_mid_batch_loses_nothing() -> None:
    broker = servers.kafka_broker()
    prefix = unique_prefix()
    create_topics(broker, prefix)
    async with kafka_core(broker, prefix) as core:
        kafka = core.publisher
        # Given 60 messages whose publish failed in the request (all pending in the outbox)
        core.publisher = Down()
        expected = set()
        for _ in range(3):
            patient, _doctor, conv = await open_pair(core)
            for i in range(20):
                expected.add(await send(core, patient, conv, f"m{i}"))
        assert await core.store.count_pending_events() == 60

        # When the relay dies after publishing part of a batch (nothing is acked)
        core.publisher = DiesAfter(kafka, 25)
        with pytest.raises(ConnectionError):
            await relay_once(core, older_than_seconds=0, batch=50)
        assert await core.store.count_pending_events() == 60
        # and another relay task is cancelled in the middle of its batch
        hanging = HangsAfter(kafka, 10)
        core.publisher = hanging
        task = asyncio.create_task(relay_once(core, older_than_seconds=0, batch=50))
        await asyncio.wait_for(hanging.hung.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await core.store.count_pending_events() == 60

        # Then the next relay run publishes everything, and the outbox is empty
        core.publisher = kafka
        await relay_until_drained(core)

    records = consume(broker, [f"{prefix}message.sent"], at_least(60 + 25), timeout=60)
    assert_all_arrived_once_per_event_id(records, expected)
    assert len(records) >= 60 + 25  # the partial batches were re-sent: duplicates, same ids
    assert new_id() not in expected
