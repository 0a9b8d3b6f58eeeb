"""Conversations: create-or-get with the pairing rules, the caller's list, unread totals."""

import asyncio
from dataclasses import dataclass

from .budgets import spend
from .care_team_views import team_view, unread_counts
from .clock import utcnow
from .core import Core
from .errors import Forbidden, Invalid, NotFound
from .ids import new_id, parse_id
from .inputs import check_offset
from .models import USER_TYPES, Conversation, ConversationType, Page, Principal, UserType
from .views import JSON, conversation_view, pagination

CONVERSATION_TYPES: tuple[str, ...] = ("patient_doctor", "doctor_doctor", "care_team")
RECIPIENT_NOT_FOUND = "Recipient not found"


@dataclass(frozen=True, slots=True)
class Opened:
    conversation: JSON
    created: bool


async def open_conversation(
    core: Core, user: Principal, recipient_id: object, recipient_type: object | None
) -> Opened:
    """Create the pair's conversation or return the existing one (one per pair, whoever asks).

    The recipient's role comes from the directory only; `recipientType` is checked against it.
    No profile leaves before every rule has passed.
    """
    rid = parse_id(recipient_id, "recipientId")
    if rid == user.id:
        raise Invalid("You cannot start a conversation with yourself")
    if recipient_type is None:
        raise Invalid("recipientType is required ('patient' or 'doctor')")
    if recipient_type not in USER_TYPES:
        raise Invalid("recipientType must be 'patient' or 'doctor'")
    existing = await core.store.find_conversation_between(user.id, rid)
    if existing is not None:  # its pair passed the rules when it was created
        return Opened(await _view(core, existing, user.id), created=False)
    await spend(core, user, "open_conversation")  # creations only: reopening one is free

    rtype = await recipient_role(core, user, rid)
    if recipient_type != rtype:
        raise Invalid("recipientType does not match the recipient")
    now = utcnow()
    types: dict[str, UserType] = {user.id: user.role, rid: rtype}
    conv_type: ConversationType = (
        "doctor_doctor" if user.role == "doctor" and rtype == "doctor" else "patient_doctor"
    )
    conv, created = await core.store.get_or_create_conversation(
        Conversation(
            id=new_id(),
            participants=sorted((user.id, rid)),
            participant_types=types,
            conversation_type=conv_type,
            created_at=now,
            updated_at=now,
        )
    )
    return Opened(await _view(core, conv, user.id), created=created)


async def recipient_role(core: Core, user: Principal, recipient_id: str) -> UserType:
    """The directory's role for a new conversation's recipient, if the caller may reach them.

    Unknown (never seen, user service 404, no or unknown role) is 404; a directory that cannot
    answer raises Unavailable (503) and nothing is created. Every id, known or not, goes through
    the same single look-up, and every refusal is a bare `{message}`.
    """
    profile = await core.directory.lookup(recipient_id)
    role = profile.type if profile is not None else None
    if role not in USER_TYPES:
        raise NotFound(RECIPIENT_NOT_FOUND)
    if user.role == "patient" and role != "doctor":
        raise Forbidden("Patients can only message doctors")
    return role


async def list_conversations(
    core: Core, user: Principal, conversation_type: str, page: Page
) -> tuple[list[JSON], JSON]:
    await spend(core, user, "list")
    check_offset(core.settings, page, "filter by type instead")
    if conversation_type != "all" and conversation_type not in CONVERSATION_TYPES:
        raise Invalid("type must be one of all, patient_doctor, doctor_doctor, care_team")
    wanted: ConversationType | None = (
        None if conversation_type == "all" else conversation_type  # type: ignore[assignment]
    )
    convs, total = await core.store.list_conversations(user.id, wanted, page.skip, page.limit)
    others = [c.other(user.id) for c in convs]
    profiles, online, unread = await asyncio.gather(
        core.directory.get_profiles(others),
        core.presence.online_among(others),
        unread_counts(core, user.id, [c.id for c in convs]),
    )
    views = [
        conversation_view(c, user.id, profiles.get(o), o in online, unread.get(c.id, 0))
        if not c.is_care_team
        else await team_view(core, c, user.id, unread.get(c.id, 0))  # title, members (#18)
        for c, o in zip(convs, others, strict=True)
    ]
    return views, pagination(page.page, page.limit, total)


async def unread_summary(core: Core, user: Principal) -> JSON:
    await spend(core, user, "unread")
    counts = await unread_counts(core, user.id, None)
    convs = await core.store.get_conversations(list(counts)) if counts else []
    profiles = await core.directory.get_profiles([c.other(user.id) for c in convs])
    by_conversation = []
    for c in convs:
        other = profiles.get(c.other(user.id))
        name = c.title if c.is_care_team else (other.name if other else None)  # (#18)
        by_conversation.append(
            {
                "conversationId": c.id,
                "recipientName": name,
                "unreadCount": counts[c.id],
            }
        )
    return {
        "totalUnread": sum(item["unreadCount"] for item in by_conversation),
        "byConversation": by_conversation,
    }


async def _view(core: Core, conv: Conversation, viewer_id: str) -> JSON:
    other = conv.other(viewer_id)
    profile, online, unread = await asyncio.gather(
        core.directory.get_profile(other),
        core.presence.is_online(other),
        core.store.unread_counts(viewer_id, [conv.id]),
    )
    return conversation_view(conv, viewer_id, profile, online, unread.get(conv.id, 0))
