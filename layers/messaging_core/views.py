"""The JSON shapes of the original service, shared by REST replies and socket events."""

import math
from typing import Any

from .clock import iso
from .core import Core
from .models import Conversation, Message, UserProfile

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


def conversation_view(
    conv: Conversation, viewer_id: str, profile: UserProfile | None, online: bool, unread: int
) -> JSON:
    other = conv.other(viewer_id)
    last = conv.last_message
    return {
        "conversationId": conv.id,
        "conversationType": conv.conversation_type,
        "recipient": recipient_view(other, profile, conv.participant_types.get(other, ""), online),
        "lastMessage": {
            "messageId": last.message_id,
            "content": last.content,
            "timestamp": iso(last.timestamp),
            "senderId": last.sender_id,
            "isRead": last.is_read,
        }
        if last
        else None,
        "unreadCount": unread,
        "createdAt": iso(conv.created_at),
        "updatedAt": iso(conv.updated_at),
    }


async def message_view(core: Core, m: Message, sender: UserProfile | None) -> JSON:
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
        "isDeleted": m.is_deleted,
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
