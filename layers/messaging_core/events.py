"""Kafka event payloads, field for field as the original service published them, plus `eventId`."""

import os
from collections.abc import Sequence
from datetime import datetime

from .clock import epoch_ms
from .models import Message, PendingEvent

MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
MESSAGE_DELETED = "message.deleted"
EVENT_TYPES = (MESSAGE_SENT, MESSAGE_DELIVERED, MESSAGE_READ, MESSAGE_DELETED)


def event_id() -> str:
    """A random (version 4) UUID in its usual text form, as `str(uuid.uuid4())` gives, without
    building a UUID object: two per message sent (issue #19)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _event(event_type: str, conversation_id: str, at: datetime, **fields: object) -> PendingEvent:
    eid = event_id()
    payload = {"eventType": event_type, **fields, "eventId": eid}
    return PendingEvent(
        event_id=eid,
        event_type=event_type,
        key=conversation_id,
        payload=payload,
        created_at=at,
    )


def message_sent(message: Message, receiver_online: bool) -> PendingEvent:
    event = _event(
        MESSAGE_SENT,
        message.conversation_id,
        message.created_at,
        messageId=message.id,
        conversationId=message.conversation_id,
        senderId=message.sender_id,
        receiverId=message.receiver_id,
        messageType=message.message_type,
        timestamp=epoch_ms(message.created_at),
        isReceiverOnline=receiver_online,
    )
    # Forwarding (issue #16 B): the source's ids, so consumers can link the copy to it.
    source = message.forwarded_from
    if source is not None:
        event.payload["forwardedFrom"] = {
            "messageId": source.message_id,
            "conversationId": source.conversation_id,
            "senderId": source.sender_id,
            "createdAt": epoch_ms(source.created_at),
        }
    return event


def message_delivered(message: Message, at: datetime) -> PendingEvent:
    return _event(
        MESSAGE_DELIVERED,
        message.conversation_id,
        at,
        messageId=message.id,
        deliveredAt=epoch_ms(at),
    )


def message_read(
    conversation_id: str, message_ids: Sequence[str], reader_id: str, at: datetime
) -> PendingEvent:
    return _event(
        MESSAGE_READ,
        conversation_id,
        at,
        conversationId=conversation_id,
        messageIds=list(message_ids),
        readBy=reader_id,
        readAt=epoch_ms(at),
    )


def message_deleted(message: Message, by: str, at: datetime) -> PendingEvent:
    return _event(
        MESSAGE_DELETED,
        message.conversation_id,
        at,
        messageId=message.id,
        conversationId=message.conversation_id,
        deletedBy=by,
        deletedAt=epoch_ms(at),
    )


# -- issue #16 part A: edits and reactions (ids and times, never the text)
MESSAGE_EDITED = "message.edited"
MESSAGE_REACTION = "message.reaction"
ACTION_EVENT_TYPES = (MESSAGE_EDITED, MESSAGE_REACTION)


def message_edited(message: Message, by: str, version: int, at: datetime) -> PendingEvent:
    """`version`: how many texts the message has held, the current one included (2 after one
    edit), so a consumer can order edits and drop a duplicate."""
    return _event(
        MESSAGE_EDITED,
        message.conversation_id,
        at,
        messageId=message.id,
        conversationId=message.conversation_id,
        senderId=message.sender_id,
        editedBy=by,
        version=version,
        createdAt=epoch_ms(message.created_at),
        editedAt=epoch_ms(at),
    )


def message_reaction(
    message: Message, user_id: str, emoji: str, action: str, at: datetime
) -> PendingEvent:
    """`action` is "added" or "removed"."""
    return _event(
        MESSAGE_REACTION,
        message.conversation_id,
        at,
        messageId=message.id,
        conversationId=message.conversation_id,
        userId=user_id,
        emoji=emoji,
        action=action,
        reactedAt=epoch_ms(at),
    )
