"""Offline receivers: the notification service gets ids only, best effort, after Kafka confirms."""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from messaging_core.adapters.memory import MemoryEventPublisher
from messaging_core.adapters.notifications import (
    HttpNotificationSender,
    NotifyingPublisher,
    notification_payload,
)
from messaging_core.config import Settings
from messaging_core.events import message_delivered, message_sent
from messaging_core.ids import new_id
from messaging_core.models import Message, PendingEvent
from messaging_core.publisher import GuardedPublisher, build_publisher

SECRET = "résultats d'analyse: confidentiels"
AT = datetime(2024, 10, 29, 10, 0, tzinfo=UTC)


def a_message() -> Message:
    return Message(
        id=new_id(),
        conversation_id=new_id(),
        sender_id=new_id(),
        sender_type="patient",
        receiver_id=new_id(),
        receiver_type="doctor",
        message_type="text",
        content=SECRET,
        created_at=AT,
        updated_at=AT,
        seq=1,
    )


class Sender:
    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail
        self.hang = hang
        self.cancelled = False

    async def send(self, payload: dict[str, Any]) -> None:
        if self.hang:
            try:
                await asyncio.Event().wait()  # a service that never answers
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        if self.fail:
            raise httpx.ConnectError("refused")
        self.sent.append(payload)


def test_the_payload_names_the_receiver_and_the_message_but_carries_no_content() -> None:
    m = a_message()
    event = message_sent(m, receiver_online=False)
    payload = notification_payload(event)
    assert payload == {
        "type": "new_message",
        "userId": m.receiver_id,
        "conversationId": m.conversation_id,
        "messageId": m.id,
        "senderId": m.sender_id,
        "messageType": "text",
        "timestamp": event.payload["timestamp"],
        "eventId": event.event_id,
    }
    assert SECRET not in json.dumps(payload)


async def test_only_offline_receivers_of_sent_messages_are_notified() -> None:
    sender = Sender()
    inner = MemoryEventPublisher()
    publisher = NotifyingPublisher(inner, sender)
    offline = message_sent(a_message(), receiver_online=False)
    online = message_sent(a_message(), receiver_online=True)
    delivered = message_delivered(a_message(), AT)
    await publisher.publish([offline, online, delivered])
    assert [p["messageId"] for p in sender.sent] == [offline.payload["messageId"]]
    assert len(inner.events) == 3


async def test_a_failing_or_slow_notification_service_never_fails_the_publish() -> None:
    for sender in (Sender(fail=True), Sender(hang=True)):
        inner = MemoryEventPublisher()
        publisher = NotifyingPublisher(inner, sender, timeout_seconds=0.2)
        # The bound only stops a hang; the publisher's own timeout is what ends the wait.
        await asyncio.wait_for(
            publisher.publish([message_sent(a_message(), receiver_online=False)]), timeout=30
        )
        assert len(inner.events) == 1
        assert sender.sent == []
    assert sender.cancelled  # the silent service was given up on, not waited for


async def test_nobody_is_notified_when_the_event_was_not_published() -> None:
    class Down:
        async def publish(self, events: Sequence[PendingEvent]) -> None:
            raise ConnectionError("broker down")

        async def close(self) -> None:
            return None

    sender = Sender()
    publisher = NotifyingPublisher(Down(), sender)
    with pytest.raises(ConnectionError):
        await publisher.publish([message_sent(a_message(), receiver_online=False)])
    assert sender.sent == []  # the relay publishes it later, and notifies then


async def test_the_http_sender_posts_json_to_the_notifications_endpoint() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    sender = HttpNotificationSender(
        "http://notify.internal:4000/", transport=httpx.MockTransport(handle)
    )
    payload = notification_payload(message_sent(a_message(), receiver_online=False))
    await sender.send(payload)
    await sender.close()
    assert seen[0].method == "POST"
    assert str(seen[0].url) == "http://notify.internal:4000/api/v1/notifications"
    assert json.loads(seen[0].content) == payload


async def test_the_http_sender_raises_on_an_error_status() -> None:
    sender = HttpNotificationSender(
        "http://notify.internal", transport=httpx.MockTransport(lambda _r: httpx.Response(500))
    )
    with pytest.raises(httpx.HTTPStatusError):
        await sender.send({"messageId": "x"})


def test_the_notifier_is_wired_only_with_a_url() -> None:
    plain = build_publisher(Settings(_env_file=None, kafka_broker=None))  # type: ignore[call-arg]
    assert isinstance(plain, MemoryEventPublisher)
    notifying = build_publisher(
        Settings(_env_file=None, kafka_broker=None, notification_service_url="http://n")  # type: ignore[call-arg]
    )
    assert isinstance(notifying, NotifyingPublisher)
    kafka = build_publisher(
        Settings(_env_file=None, kafka_broker="127.0.0.1:1", notification_service_url="http://n")  # type: ignore[call-arg]
    )
    # Breaker outside, so the relay can bypass it; notifications after Kafka confirmed.
    assert isinstance(kafka, GuardedPublisher)
    assert isinstance(kafka.inner, NotifyingPublisher)
