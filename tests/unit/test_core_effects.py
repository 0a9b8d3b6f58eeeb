"""What each rule does besides its reply: realtime pushes, recorded and published events."""

from collections.abc import Sequence
from typing import Any

import httpx
from messaging_core import messages
from messaging_core.core import Core
from messaging_core.inputs import SendMessageIn
from messaging_core.models import PendingEvent

API = "/api/v1/messages"


def pushes(core: Core) -> list[tuple[str, str, dict[str, Any]]]:
    return list(core.notifier.emitted)  # type: ignore[attr-defined]


def published(core: Core) -> list[dict[str, Any]]:
    """The message.* events (the access records of issue #15 share the publisher: not these)."""
    events = core.publisher.events  # type: ignore[attr-defined]
    return [e.payload for e in events if e.event_type != "audit.access"]


async def test_send_read_delete_push_to_the_right_people_and_publish_events(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "Bonjour docteur")
    assert (cast.doctor.id, "new_message") in [(u, e) for u, e, _ in pushes(core)]
    new = next(d for u, e, d in pushes(core) if e == "new_message")
    assert new["id"] == msg["id"]
    assert new["senderName"] == "John Doe"
    sent = published(core)[-1]
    assert sent == {
        "eventType": "message.sent",
        "messageId": msg["id"],
        "conversationId": conv,
        "senderId": cast.patient.id,
        "receiverId": cast.doctor.id,
        "messageType": "text",
        "timestamp": sent["timestamp"],
        "isReceiverOnline": False,
        "eventId": sent["eventId"],
    }
    assert isinstance(sent["timestamp"], int)
    assert sent["timestamp"] > 1_700_000_000_000

    await client.put(f"{API}/conversations/{conv}/mark-read", json={}, headers=cast.doctor.headers)
    read_push = [d for u, e, d in pushes(core) if e == "messages_read"]
    assert read_push
    assert read_push[-1]["messageIds"] == [msg["id"]]
    assert read_push[-1]["readBy"] == cast.doctor.id
    assert [u for u, e, _ in pushes(core) if e == "messages_read"] == [cast.patient.id]
    read = published(core)[-1]
    assert read["eventType"] == "message.read"
    assert read["messageIds"] == [msg["id"]]
    assert read["readBy"] == cast.doctor.id
    assert isinstance(read["readAt"], int)

    await client.delete(f"{API}/{msg['id']}", headers=cast.patient.headers)
    deleted_to = sorted(u for u, e, _ in pushes(core) if e == "message_deleted")
    assert deleted_to == sorted([cast.patient.id, cast.doctor.id])
    gone = published(core)[-1]
    assert gone["eventType"] == "message.deleted"
    assert gone["deletedBy"] == cast.patient.id
    # every event was confirmed, so nothing is left for the relay
    assert await core.store.count_pending_events() == 0


async def test_an_online_receiver_gets_the_message_delivered_at_once(
    core: Core, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    await core.presence.connect(cast.doctor.id, "sid-1")  # type: ignore[attr-defined]
    sent = await messages.send_text(core, cast.patient.principal, conv, SendMessageIn(content="hi"))
    assert sent.message["isDelivered"] is True
    receipts = [(u, d) for u, e, d in pushes(core) if e == "message_delivered"]
    assert receipts == [
        (
            cast.patient.id,
            {"messageId": sent.message["id"], "deliveredAt": sent.message["deliveredAt"]},
        )
    ]
    kinds = [p["eventType"] for p in published(core)]
    assert kinds[-2:] == ["message.sent", "message.delivered"]
    assert published(core)[-2]["isReceiverOnline"] is True


class BrokenPublisher:
    async def publish(self, events: Sequence[PendingEvent]) -> None:
        raise ConnectionError("broker down")

    async def close(self) -> None:
        return None


async def test_a_failed_publish_keeps_the_event_pending_and_the_send_succeeds(
    core: Core, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    core.publisher = BrokenPublisher()
    sent = await messages.send_text(core, cast.patient.principal, conv, SendMessageIn(content="x"))
    assert sent.created
    pending = await core.store.pending_events(sent_at_or_later(), 10)
    assert [e.event_type for e in pending] == ["message.sent"]
    assert pending[0].key == conv


def sent_at_or_later() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=1)


async def test_a_realtime_failure_never_fails_the_send(
    core: Core, cast: Any, open_conversation: Any
) -> None:
    class Down:
        async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
            raise ConnectionError("redis down")

    conv = await open_conversation(cast.patient, cast.doctor)
    core.notifier = Down()
    sent = await messages.send_text(core, cast.patient.principal, conv, SendMessageIn(content="x"))
    assert sent.created
