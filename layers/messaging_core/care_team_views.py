"""Care teams (#18) as their members see them, and unread counts that include them."""

import asyncio
from collections.abc import Sequence

from .clock import iso
from .core import Core
from .models import Conversation
from .views import JSON, last_message_view, recipient_view


async def unread_counts(
    core: Core, user_id: str, conversation_ids: Sequence[str] | None
) -> dict[str, int]:
    """Unread per conversation: one-to-one messages addressed to the user and care-team
    messages the user has not read yet (each member has their own count)."""
    direct, team = await asyncio.gather(
        core.store.unread_counts(user_id, conversation_ids),
        core.store.team_unread_counts(user_id, conversation_ids),
    )
    return {**direct, **team}


async def team_view(core: Core, conv: Conversation, viewer_id: str, unread: int) -> JSON:
    """A care team as a member sees it: its title and members instead of one `recipient`."""
    profiles, online = await asyncio.gather(
        core.directory.get_profiles(conv.participants),
        core.presence.online_among(conv.participants),
    )
    last = conv.last_message
    # In the order of replies.ConversationView (the typed reply writes that order).
    return {
        "conversationId": conv.id,
        "conversationType": conv.conversation_type,
        # A former member sees no later preview.
        "lastMessage": last_message_view(last) if last and conv.has(viewer_id) else None,
        "unreadCount": unread,
        "createdAt": iso(conv.created_at),
        "updatedAt": iso(conv.updated_at),
        "title": conv.title or "",
        "createdBy": conv.created_by or "",
        "participants": [
            recipient_view(p, profiles.get(p), conv.participant_types.get(p, ""), p in online)
            for p in conv.participants
        ],
        "members": [
            {"userId": m.user_id, "joinedAt": iso(m.joined_at), "leftAt": iso(m.left_at)}
            for m in conv.members
        ],
        "isMember": conv.has(viewer_id),
    }
