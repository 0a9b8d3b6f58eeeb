"""Event payloads: the original service's fields exactly, plus eventId; keyed by conversation."""

import json
from datetime import UTC, datetime
from typing import Any

from messaging_core import conversations, messages
from messaging_core.adapters.memory import MemoryEventPublisher
from messaging_core.config import Settings
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.events import (
    message_deleted,
    message_delivered,
    message_read,
    message_sent,
)
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Message, PendingEvent, Principal
from messaging_core.store.memory import MemoryStore

SECRET = "Mon diagnostic confidentiel: tension 14/9"
AT = datetime(2024, 10, 29, 10, 0, 0, 123000, tzinfo=UTC)
AT_MS = 1730196000123


def a_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "id": new_id(),
        "conversation_id": new_id(),
        "sender_id": new_id(),
        "sender_type": "patient",
        "receiver_id": new_id(),
        "receiver_type": "doctor",
        "message_type": "text",
        "content": SECRET,
        "created_at": AT,
        "updated_at": AT,
        "seq": 1,
    }
    fields.update(overrides)
    return Message(**fields)


def test_message_sent_has_the_spec_fields_and_an_event_id() -> None:
    m = a_message()
    e = message_sent(m, receiver_online=False)
    assert e.payload == {
        "eventType": "message.sent",
        "messageId": m.id,
        "conversationId": m.conversation_id,
        "senderId": m.sender_id,
        "receiverId": m.receiver_id,
        "messageType": "text",
        "timestamp": AT_MS,
        "isReceiverOnline": False,
        "eventId": e.event_id,
    }
    assert e.key == m.conversation_id
    assert e.event_type == "message.sent"


def test_message_delivered_read_and_deleted_shapes() -> None:
    m = a_message()
    delivered = message_delivered(m, AT)
    assert delivered.payload == {
        "eventType": "message.delivered",
        "messageId": m.id,
        "deliveredAt": AT_MS,
        "eventId": delivered.event_id,
    }
    read = message_read(m.conversation_id, [m.id], m.receiver_id, AT)
    assert read.payload == {
        "eventType": "message.read",
        "conversationId": m.conversation_id,
        "messageIds": [m.id],
        "readBy": m.receiver_id,
        "readAt": AT_MS,
        "eventId": read.event_id,
    }
    deleted = message_deleted(m, m.sender_id, AT)
    assert deleted.payload == {
        "eventType": "message.deleted",
        "messageId": m.id,
        "conversationId": m.conversation_id,
        "deletedBy": m.sender_id,
        "deletedAt": AT_MS,
        "eventId": deleted.event_id,
    }
    # Every event of a conversation shares its key: one partition, one order.
    assert {delivered.key, read.key, deleted.key} == {m.conversation_id}


def test_event_ids_are_unique() -> None:
    m = a_message()
    ids = {message_delivered(m, AT).event_id for _ in range(100)}
    assert len(ids) == 100


def _settings() -> Settings:
    return Settings(_env_file=None, kafka_broker=None, redis_url=None, mongodb_uri=None)  # type: ignore[call-arg]


async def a_core() -> tuple[Core, MemoryEventPublisher]:
    core = await build_core(_settings(), store=MemoryStore())
    assert isinstance(core.publisher, MemoryEventPublisher)
    return core, core.publisher


async def test_a_whole_conversation_publishes_each_event_once_without_content() -> None:
    # Given a patient and a doctor
    core, published = await a_core()
    patient = Principal(new_id(), "patient", "Pat")
    doctor = Principal(new_id(), "doctor", "Dr Who")
    await core.identify(doctor)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    conv_id = opened.conversation["conversationId"]
    # When the patient sends, the doctor views (delivery), reads, and the patient deletes
    sent = await messages.send_text(core, patient, conv_id, SendMessageIn(content=SECRET))
    mid = sent.message["id"]
    await messages.deliver_pending(core, doctor, conv_id)
    await messages.mark_read(core, doctor, conv_id, None)
    await messages.delete_message(core, patient, mid)
    # Then four events, in order, keyed by the conversation, all acked, none with the content
    # (besides them, the access records of issue #15 on their own topic: checked below)
    events: list[PendingEvent] = [e for e in published.events if e.event_type != "audit.access"]
    accesses = [e.payload["action"] for e in published.events if e.event_type == "audit.access"]
    assert accesses == ["message.read_receipt", "message.delete"]
    assert [e.event_type for e in events] == [
        "message.sent",
        "message.delivered",
        "message.read",
        "message.deleted",
    ]
    assert {e.key for e in events} == {conv_id}
    assert events[0].payload["isReceiverOnline"] is False
    assert events[0].payload["senderId"] == patient.id
    assert events[0].payload["receiverId"] == doctor.id
    assert events[1].payload["messageId"] == mid
    assert events[2].payload["messageIds"] == [mid]
    assert events[2].payload["readBy"] == doctor.id
    assert events[3].payload["deletedBy"] == patient.id
    for e in published.events:  # the access records too: never the content
        assert e.payload["eventId"] == e.event_id
        assert SECRET not in json.dumps(e.payload)
        assert "content" not in e.payload
    assert await core.store.count_pending_events() == 0


async def test_sending_to_an_online_receiver_publishes_sent_then_delivered() -> None:
    core, published = await a_core()
    patient = Principal(new_id(), "patient")
    doctor = Principal(new_id(), "doctor")
    await core.identify(doctor)  # the directory knows the recipient
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")

    class Online:
        async def is_online(self, user_id: str) -> bool:
            return True

        async def online_among(self, user_ids: Any) -> set[str]:
            return set(user_ids)

        async def online_count(self) -> int:
            return 1

    core.presence = Online()
    await messages.send_text(
        core, patient, opened.conversation["conversationId"], SendMessageIn(content="hi")
    )
    # Then sent and delivered, and the access record of the push to the device (issue #15)
    sent, delivered, pushed = list(published.events)
    assert (pushed.event_type, pushed.payload["action"]) == ("audit.access", "message.delivered")
    assert sent.event_type == "message.sent"
    assert sent.payload["isReceiverOnline"] is True
    assert delivered.event_type == "message.delivered"
    assert delivered.payload["messageId"] == sent.payload["messageId"]
