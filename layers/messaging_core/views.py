"""The JSON shapes of the original service, shared by REST replies and socket events."""

import math
from typing import Any

from .clock import iso
from .core import Core
from .models import Conversation, LastMessage, Message, Reaction, UserProfile

JSON = dict[str, Any]


def pagination(page: int, limit: int, total: int) -> JSON:
    pages = math.ceil(total / limit) if limit else 0
    return {
        "currentPage": page,
        "totalPages": pages,
        "totalItems": total,
        "itemsPerPage": limit,
        "hasMore": page * limit < total,
        "hasPrevious": page > 1,
    }


def recipient_view(
    user_id: str, profile: UserProfile | None, fallback_type: str, online: bool
) -> JSON:
    view: JSON = {
        "id": user_id,
        "name": profile.name if profile else None,
        "type": (profile.type if profile and profile.type else fallback_type),
        "profilePhoto": profile.profile_photo if profile else None,
        "isOnline": online,
    }
    if profile and profile.specialty:
        view["specialty"] = profile.specialty
    return view


def last_message_view(last: LastMessage) -> JSON:
    """A conversation's preview of its latest message (one-to-one and care teams alike)."""
    return {
        "messageId": last.message_id,
        "content": last.content,
        "timestamp": iso(last.timestamp),
        "senderId": last.sender_id,
        "isRead": last.is_read,
    }


def conversation_view(
    conv: Conversation, viewer_id: str, profile: UserProfile | None, online: bool, unread: int
) -> JSON:
    other = conv.other(viewer_id)
    last = conv.last_message
    return {
        "conversationId": conv.id,
        "conversationType": conv.conversation_type,
        "recipient": recipient_view(other, profile, conv.participant_types.get(other, ""), online),
        "lastMessage": last_message_view(last) if last else None,
        "unreadCount": unread,
        "createdAt": iso(conv.created_at),
        "updatedAt": iso(conv.updated_at),
    }


async def message_view(core: Core, m: Message, sender: UserProfile | None) -> JSON:
    view = await _message_view(core, m, sender)
    if m.recipients:  # care teams (#18): receipts per member, no single receiver
        care_team_receipts(view, m)
    return view


async def _message_view(core: Core, m: Message, sender: UserProfile | None) -> JSON:
    view: JSON = {
        "id": m.id,
        "conversationId": m.conversation_id,
        "seq": m.seq,
        "senderId": m.sender_id,
        "senderName": sender.name if sender else None,
        "senderType": m.sender_type,
        "receiverId": m.receiver_id,
        "receiverType": m.receiver_type,
        "messageType": m.message_type,
        # A deleted message keeps its place in the history, never its content.
        "content": "" if m.is_deleted else m.content,
        "isRead": m.is_read,
        "readAt": iso(m.read_at),
        "isDelivered": m.is_delivered,
        "deliveredAt": iso(m.delivered_at),
        "createdAt": iso(m.created_at),
        "updatedAt": iso(m.updated_at),
        "isEdited": m.is_edited,
        "editedAt": iso(m.edited_at),  # issue #16: null until the first edit
        "isDeleted": m.is_deleted,
        # issue #16: a deleted message keeps none of what was said about it either
        "reactions": [] if m.is_deleted else reactions_view(m.reactions),
        # Forwarding (issue #16 B): ids and time of the source, null for any other message.
        "forwardedFrom": forwarded_view(m),
    }
    if m.temp_id:
        view["tempId"] = m.temp_id
    if m.is_deleted:
        view["deletedAt"] = iso(m.deleted_at)
        return view
    if m.metadata:
        view["metadata"] = m.metadata
    if m.attachment:
        a = m.attachment
        url = await core.files.download_url(a.s3_key, a.mime_type) if core.files else None
        view["attachment"] = {
            "fileName": a.file_name,
            "fileSize": a.file_size,
            "mimeType": a.mime_type,
            "url": url,
        }
        if a.duration_seconds is not None:  # voice and video messages (#17)
            view["attachment"]["durationSeconds"] = a.duration_seconds
    return view


async def message_views(core: Core, messages: list[Message]) -> list[JSON]:
    senders = await core.directory.get_profiles([m.sender_id for m in messages])
    return [await message_view(core, m, senders.get(m.sender_id)) for m in messages]


# -- issue #16 part A
def reactions_view(reactions: list[Reaction]) -> list[JSON]:
    """`[{emoji, userIds}]`, each emoji in the order it was first put on the message."""
    return [{"emoji": r.emoji, "userIds": list(r.user_ids)} for r in reactions]


# --- Forwarding (issue #16 B)
def forwarded_view(m: Message) -> JSON | None:
    f = m.forwarded_from
    if f is None:
        return None
    return {
        "messageId": f.message_id,
        "conversationId": f.conversation_id,
        "senderId": f.sender_id,
        "createdAt": iso(f.created_at),
    }


# -- care teams (#18)
def care_team_receipts(view: JSON, m: Message) -> None:
    """A care-team message has no receiver: `readBy` and `deliveredTo` list each member's receipt;
    `isRead`/`isDelivered` say whether every recipient has."""
    view.pop("receiverId", None)
    view.pop("receiverType", None)
    view["readBy"] = [{"userId": r.user_id, "readAt": iso(r.at)} for r in m.read_by]
    view["deliveredTo"] = [{"userId": r.user_id, "deliveredAt": iso(r.at)} for r in m.delivered_to]
