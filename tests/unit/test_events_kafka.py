"""KafkaEventPublisher without a broker: records, settings, timeouts, ordering, the event loop."""

import asyncio
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future
from kafka.net.sasl.oauth import AbstractTokenProvider
from messaging_core.adapters import kafka as kafka_adapter
from messaging_core.adapters.kafka import (
    KafkaEventPublisher,
    KafkaPublishError,
    MskIamTokenProvider,
    encode_event,
    producer_config,
    topic_for,
)
from messaging_core.config import Settings
from messaging_core.events import message_deleted, message_sent
from messaging_core.ids import new_id
from messaging_core.models import Message, PendingEvent

AT = datetime(2024, 10, 29, 10, 0, tzinfo=UTC)


def a_message(conversation_id: str | None = None) -> Message:
    return Message(
        id=new_id(),
        conversation_id=conversation_id or new_id(),
        sender_id=new_id(),
        sender_type="patient",
        receiver_id=new_id(),
        receiver_type="doctor",
        message_type="text",
        content="secret",
        created_at=AT,
        updated_at=AT,
        seq=1,
    )


def sent_event(conversation_id: str | None = None) -> PendingEvent:
    return message_sent(a_message(conversation_id), receiver_online=False)


class FakeProducer:
    """Records sends; acks them at once (`auto`), never, or with an error; `block` holds send()
    (as kafka-python does while it waits for metadata) until the test releases it."""

    def __init__(self, mode: str = "auto", hold_first: bool = False, **config: Any) -> None:
        self.config = config
        self.mode = mode
        self.hold_first = hold_first
        self.entered = threading.Event()
        self.release = threading.Event()
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]], int]] = []
        self.futures: list[Future] = []
        self.threads: set[str] = set()

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        timestamp_ms: int,
    ) -> Future:
        self.threads.add(threading.current_thread().name)
        if self.hold_first and not self.sent:
            # The first send blocks (a metadata wait) until every later call has been made.
            self.entered.set()
            self.release.wait(timeout=30)  # a bound so a broken test cannot hang the suite
        if self.mode == "block":
            self.entered.set()
            self.release.wait(timeout=30)  # a bound so a broken test cannot hang the suite
            raise KafkaTimeoutError("Failed to update metadata after 1.0 secs.")
        self.sent.append((topic, key, value, headers, timestamp_ms))
        future = Future()
        if self.mode == "auto":
            future.success({"topic": topic})
        elif self.mode == "error":
            future.failure(KafkaTimeoutError("Expiring 1 record(s)"))
        self.futures.append(future)
        return future

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


def publisher_with(producer: FakeProducer, **kwargs: Any) -> KafkaEventPublisher:
    return KafkaEventPublisher({}, producer_factory=lambda **_: producer, **kwargs)


def test_topic_is_the_prefix_plus_the_event_type() -> None:
    assert topic_for("", "message.sent") == "message.sent"
    assert topic_for("esante.", "message.read") == "esante.message.read"


def test_a_record_is_keyed_by_conversation_with_event_id_headers() -> None:
    event = sent_event()
    key, value, headers = encode_event(event)
    assert key == event.key.encode() == event.payload["conversationId"].encode()
    assert json.loads(value) == event.payload
    assert dict(headers) == {
        "eventId": event.event_id.encode(),
        "eventType": b"message.sent",
    }


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"_env_file": None, "kafka_broker": "b1:9092, b2:9092"}
    base.update(overrides)
    return Settings(**base)


def test_producer_settings_are_durable_bounded_and_plaintext_by_default() -> None:
    config = producer_config(settings())
    assert config["bootstrap_servers"] == ["b1:9092", "b2:9092"]
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["security_protocol"] == "PLAINTEXT"
    # A dead broker may not hold a request much longer than the send timeout.
    assert config["max_block_ms"] <= 2000
    assert config["bootstrap_timeout_ms"] <= 2000
    assert config["delivery_timeout_ms"] >= config["request_timeout_ms"] + config["linger_ms"]


def test_tls_and_iam_security() -> None:
    assert producer_config(settings(kafka_security="tls"))["security_protocol"] == "SSL"
    iam = producer_config(settings(kafka_security="iam", aws_region="eu-west-3"))
    assert iam["security_protocol"] == "SASL_SSL"
    assert iam["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(iam["sasl_oauth_token_provider"], AbstractTokenProvider)


def test_the_config_is_accepted_by_kafka_python() -> None:
    # Every key is a real KafkaProducer setting (a typo would be silently ignored or rejected).
    from kafka import KafkaProducer

    for security in ("plaintext", "tls", "iam"):
        config = producer_config(settings(kafka_security=security))
        assert set(config) <= set(KafkaProducer.DEFAULT_CONFIG), security


def test_iam_tokens_are_signed_for_the_region_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    now = 1_700_000_000.0

    def generate(region: str) -> tuple[str, int]:
        calls.append(region)
        return f"token-{len(calls)}", int((now + 900) * 1000)

    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # the signer's module

    monkeypatch.setattr(MSKAuthTokenProvider, "generate_auth_token", generate)
    provider = MskIamTokenProvider("eu-west-3", clock=lambda: now)
    assert provider.token() == "token-1"
    assert provider.token() == "token-1"
    assert calls == ["eu-west-3"]
    now += 900 - 61  # still more than a minute left: reused
    assert provider.token() == "token-1"
    now += 2  # within the last minute: a new one
    assert provider.token() == "token-2"
    assert calls == ["eu-west-3", "eu-west-3"]


async def test_publish_returns_after_every_record_is_acked() -> None:
    producer = FakeProducer()
    publisher = publisher_with(producer, topic_prefix="esante.")
    conv = new_id()
    events = [sent_event(conv), message_deleted(a_message(conv), new_id(), AT)]
    await publisher.publish(events)
    assert [(t, k) for t, k, *_ in producer.sent] == [
        ("esante.message.sent", conv.encode()),
        ("esante.message.deleted", conv.encode()),
    ]
    # The record's timestamp is the event's time, not the publish time.
    assert producer.sent[0][4] == int(AT.timestamp() * 1000)
    # Blocking producer calls never run on the event loop's thread.
    assert producer.threads
    assert all(n.startswith("kafka-publish") for n in producer.threads)
    await publisher.close()


async def test_a_broker_error_raises() -> None:
    publisher = publisher_with(FakeProducer(mode="error"))
    with pytest.raises(KafkaPublishError):
        await publisher.publish([sent_event()])


async def test_a_missing_ack_fails_within_the_timeout() -> None:
    publisher = publisher_with(FakeProducer(mode="never"), timeout_seconds=0.3)
    # The bound only stops a hang: the publisher's own timeout must be what ends the wait.
    with pytest.raises(KafkaPublishError, match=r"no broker ack within 0\.3 s"):
        await asyncio.wait_for(publisher.publish([sent_event()]), timeout=30)


async def test_a_send_blocked_on_metadata_fails_within_the_timeout_without_blocking_the_loop() -> (
    None
):
    producer = FakeProducer(mode="block")
    publisher = publisher_with(producer, timeout_seconds=0.3)
    try:
        publishing = asyncio.create_task(publisher.publish([sent_event()]))
        # The loop keeps serving while the publisher thread is held inside send()...
        assert await asyncio.to_thread(producer.entered.wait, 30)
        served = asyncio.Event()
        asyncio.get_running_loop().call_soon(served.set)
        await asyncio.wait_for(served.wait(), timeout=30)
        # ...and the publish gives up on its own timeout while send() is still held.
        with pytest.raises(KafkaPublishError, match=r"no broker ack within 0\.3 s"):
            await asyncio.wait_for(publishing, timeout=30)
        assert not producer.release.is_set()
    finally:
        producer.release.set()


async def test_unconfirmed_records_are_capped() -> None:
    producer = FakeProducer(mode="never")
    publisher = publisher_with(producer, timeout_seconds=0.2, max_in_flight=3)
    with pytest.raises(KafkaPublishError):
        await publisher.publish([sent_event() for _ in range(3)])  # times out, 3 in flight
    with pytest.raises(KafkaPublishError, match="too many"):
        await publisher.publish([sent_event()])
    assert len(producer.sent) == 3
    for f in producer.futures:  # the broker finally answers: room again
        f.success(None)
    producer.mode = "auto"
    await publisher.publish([sent_event()])


async def test_concurrent_publishes_reach_the_producer_in_call_order() -> None:
    producer = FakeProducer(hold_first=True)
    publisher = publisher_with(producer)
    conv = new_id()
    events = [sent_event(conv) for _ in range(50)]
    # As the socket tier does: one background task per send, created in order.
    tasks = [asyncio.create_task(publisher.publish([e])) for e in events]
    try:
        assert await asyncio.to_thread(producer.entered.wait, 30)
        await asyncio.sleep(0)  # a yield: every task has handed its send over by now
    finally:
        producer.release.set()
    await asyncio.gather(*tasks)
    order = [json.loads(v)["eventId"] for _, _, v, _, _ in producer.sent]
    assert order == [e.event_id for e in events]


async def test_the_producer_is_built_lazily_and_retried_after_a_failed_bootstrap() -> None:
    attempts = 0
    producer = FakeProducer()

    def factory(**_: Any) -> FakeProducer:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise KafkaTimeoutError("Unable to bootstrap")
        return producer

    publisher = KafkaEventPublisher({}, producer_factory=factory)
    assert attempts == 0
    with pytest.raises(KafkaPublishError):
        await publisher.publish([sent_event()])
    await publisher.publish([sent_event()])
    assert attempts == 2
    assert len(producer.sent) == 1


def test_kafka_is_not_imported_without_a_broker() -> None:
    # The container builds the publisher lazily: a function without KAFKA_BROKER never loads it.
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root / 'layers'}{os.pathsep}{root}"}
    code = (
        "import sys, asyncio\n"
        "from messaging_core.config import Settings\n"
        "from messaging_core.publisher import build_publisher\n"
        "build_publisher(Settings(_env_file=None, kafka_broker=None))\n"
        "print('kafka' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert out.stdout.strip() == "False"
    assert kafka_adapter.KafkaEventPublisher is KafkaEventPublisher
