"""Offline receivers: tell the platform's notification service (NOTIFICATION_SERVICE_URL).

Called on the publish path (request and relay) for `message.sent` events whose receiver was
offline, after Kafka confirmed the event. Best effort: a short timeout, and a failure is logged
and forgotten, never raised. The payload carries ids only, never message content; `eventId`
lets the service drop the duplicates that at-least-once delivery can produce.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from ..events import MESSAGE_SENT
from ..models import PendingEvent
from ..ports import EventPublisher

logger = logging.getLogger(__name__)

NOTIFICATIONS_PATH = "/api/v1/notifications"


def needs_notification(event: PendingEvent) -> bool:
    return event.event_type == MESSAGE_SENT and event.payload.get("isReceiverOnline") is False


def notification_payload(event: PendingEvent) -> dict[str, Any]:
    """What the notification service gets: who, where and which message; no content."""
    p = event.payload
    return {
        "type": "new_message",
        "userId": p["receiverId"],
        "conversationId": p["conversationId"],
        "messageId": p["messageId"],
        "senderId": p["senderId"],
        "messageType": p["messageType"],
        "timestamp": p["timestamp"],
        "eventId": event.event_id,
    }


class NotificationSender(Protocol):
    async def send(self, payload: dict[str, Any]) -> None: ...


class HttpNotificationSender:
    """POST {base_url}/api/v1/notifications with a short timeout."""

    def __init__(self, base_url: str, timeout_seconds: float = 1.0, transport: Any = None) -> None:
        self._url = base_url.rstrip("/") + NOTIFICATIONS_PATH
        self._timeout = timeout_seconds
        self._transport = transport  # tests pass an httpx.MockTransport
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_for_loop(self) -> Any:
        import httpx

        # httpx's pool belongs to one event loop; the relay Lambda may run a new one per call.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
            self._loop = loop
        return self._client

    async def send(self, payload: dict[str, Any]) -> None:
        response = await self._client_for_loop().post(self._url, json=payload)
        response.raise_for_status()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class NotifyingPublisher:
    """An EventPublisher that, once `inner` confirmed, notifies offline receivers."""

    def __init__(
        self, inner: EventPublisher, sender: NotificationSender, timeout_seconds: float = 1.0
    ) -> None:
        self.inner = inner
        self._sender = sender
        self._timeout = timeout_seconds

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        # First and without an await before it: the inner publisher sees calls in order.
        await self.inner.publish(events)
        wanted = [notification_payload(e) for e in events if needs_notification(e)]
        wanted += [p for e in events for p in team_notification_payloads(e)]  # care teams (#18)
        if wanted:
            await asyncio.gather(*(self._notify(p) for p in wanted))

    async def _notify(self, payload: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(self._sender.send(payload), timeout=self._timeout)
        except Exception as exc:  # best effort: the event on Kafka is the record of truth
            logger.warning(
                "notification service call failed",
                extra={"messageId": payload["messageId"], "error": type(exc).__name__},
            )

    async def close(self) -> None:
        close = getattr(self._sender, "close", None)
        if close is not None:
            await close()
        await self.inner.close()


# -- care teams (#18)
def team_notification_payloads(event: PendingEvent) -> list[dict[str, Any]]:
    """A care-team `message.sent` (participantIds, no receiverId): one notification per member
    who was offline, the sender excepted. Same payload as a one-to-one notification."""
    p = event.payload
    if event.event_type != MESSAGE_SENT or "participantIds" not in p:
        return []
    reached = set(p.get("onlineParticipantIds") or ()) | {p["senderId"]}
    return [
        {
            "type": "new_message",
            "userId": member,
            "conversationId": p["conversationId"],
            "messageId": p["messageId"],
            "senderId": p["senderId"],
            "messageType": p["messageType"],
            "timestamp": p["timestamp"],
            "eventId": event.event_id,
        }
        for member in p["participantIds"]
        if member not in reached
    ]
