"""Care teams (#18): conversations of 3 to 20 members, a patient and their doctors.

The rules live here once: who may open one, who may add and remove members, and which periods
of the thread each member (current or former) may read. Every other operation goes through
`access.conversation_for` (current members) or `conversation_to_read` below (read paths, which
also let a former member read what was sent while they were in).
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from . import audit
from .access import conversation_for
from .budgets import spend
from .care_team_views import team_view, unread_counts
from .clock import utcnow
from .conversations import Opened, open_conversation
from .core import Core
from .errors import Forbidden, Invalid, NotFound, Unavailable
from .ids import new_id, parse_id
from .inputs import CreateConversationIn
from .models import USER_TYPES, Conversation, Member, Principal, UserType, Window
from .views import JSON

MIN_MEMBERS = 3  # the creator included; two people are a one-to-one conversation
MAX_MEMBERS = 20
MAX_TITLE_LENGTH = 100
PARTICIPANT_NOT_FOUND = "Participant not found"
MAX_MEMBERSHIP_ATTEMPTS = 5  # concurrent changes to one team: re-read and retry, bounded
MEMBERSHIP_BUSY = "The care team changed meanwhile, please retry"
CARE_TEAM_UPDATED = "care_team_updated"  # socket event to every member, past and present


@dataclass(frozen=True, slots=True)
class MembershipChange:
    conversation: Conversation
    user_id: str
    action: str  # "added" or "removed"


def check_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise Invalid("title is required for a care team")
    text = title.strip()
    if len(text) > MAX_TITLE_LENGTH:
        raise Invalid(f"title must be at most {MAX_TITLE_LENGTH} characters")
    return text


async def create_care_team(
    core: Core, user: Principal, participant_ids: Sequence[object], title: object
) -> Opened:
    """Open a care team: a doctor with 2 to 19 others, each known to the directory (404)."""
    if user.role != "doctor":
        raise Forbidden("Only a doctor can open a care team")
    name = check_title(title)
    ids = list(dict.fromkeys([user.id, *(parse_id(p, "participantIds") for p in participant_ids)]))
    if not MIN_MEMBERS <= len(ids) <= MAX_MEMBERS:
        raise Invalid(
            f"A care team has {MIN_MEMBERS} to {MAX_MEMBERS} participants, creator included"
        )
    await spend(core, user, "open_conversation")
    others = ids[1:]
    roles = await asyncio.gather(*(member_role(core, p) for p in others))
    types: dict[str, UserType] = {user.id: user.role, **dict(zip(others, roles, strict=True))}
    now = utcnow()
    conv = Conversation(
        id=new_id(),
        participants=sorted(ids),
        participant_types=types,
        conversation_type="care_team",
        created_at=now,
        updated_at=now,
        title=name,
        created_by=user.id,
        members=[Member(p, now) for p in ids],
    )
    stored, created = await core.store.get_or_create_conversation(conv)
    view = await team_view(core, stored, user.id, 0)
    await core.notify_many(others, CARE_TEAM_UPDATED, _update_payload(stored, user.id, "created"))
    return Opened(view, created=created)


async def member_role(core: Core, user_id: str) -> UserType:
    """The directory's role, authoritative (never guessed): unknown is 404, down is 503."""
    profile = await core.directory.lookup(user_id)
    role = profile.type if profile is not None else None
    if role not in USER_TYPES:
        raise NotFound(PARTICIPANT_NOT_FOUND)
    return role


def _may_manage(conv: Conversation, actor: Principal) -> bool:
    """The creator, or any doctor who is a current member."""
    return actor.id == conv.created_by or (actor.role == "doctor" and conv.has(actor.id))


async def add_member(
    core: Core, user: Principal, conversation_id: object, member_id: object
) -> MembershipChange:
    await spend(core, user, "open_conversation")
    target = parse_id(member_id, "userId")
    role: UserType | None = None
    for _ in range(MAX_MEMBERSHIP_ATTEMPTS):
        conv = await _team_for(core, user, conversation_id)
        if not _may_manage(conv, user):
            raise Forbidden("Only the creator or a doctor of the team can add members")
        if conv.has(target):
            return MembershipChange(conv, target, "added")  # idempotent retry
        if len(conv.participants) >= MAX_MEMBERS:
            raise Invalid(f"A care team has at most {MAX_MEMBERS} participants")
        role = role or await member_role(core, target)
        now = utcnow()
        conv.participants = sorted([*conv.participants, target])
        conv.participant_types[target] = role
        conv.members.append(Member(target, now, joined_seq=conv.seq))  # from the next message on
        if await _write_membership(core, conv, now):
            await _announce(core, conv, user.id, target, "added")
            return MembershipChange(conv, target, "added")
    raise Unavailable(MEMBERSHIP_BUSY)


async def remove_member(
    core: Core, user: Principal, conversation_id: object, member_id: object
) -> MembershipChange:
    """Remove a member (the creator or a doctor member), or leave (anyone, themselves)."""
    await spend(core, user, "open_conversation")
    target = parse_id(member_id, "userId")
    for _ in range(MAX_MEMBERSHIP_ATTEMPTS):
        conv = await _team_for(core, user, conversation_id)
        if target != user.id and not _may_manage(conv, user):
            raise Forbidden("Only the creator or a doctor of the team can remove members")
        if not conv.has(target):
            raise NotFound(PARTICIPANT_NOT_FOUND)
        now = utcnow()
        conv.participants = [p for p in conv.participants if p != target]
        for m in conv.members:
            if m.user_id == target and m.left_at is None:
                # They keep what was numbered up to now, nothing after.
                m.left_at, m.left_seq = now, conv.seq
        if await _write_membership(core, conv, now):
            # Nothing more waits for them there: no unread count they could never clear.
            await core.store.drop_member_pending(conv.id, target)
            await _announce(core, conv, user.id, target, "removed")
            return MembershipChange(conv, target, "removed")
    raise Unavailable(MEMBERSHIP_BUSY)


async def _write_membership(core: Core, conv: Conversation, now: datetime) -> bool:
    """Write the change if nobody changed the team since it was read; else the caller re-reads
    and decides again (two doctors adding two colleagues at once both get in)."""
    version = conv.membership_version
    written = await core.store.set_membership(
        conv.id, conv.participants, conv.participant_types, conv.members, now, version
    )
    if written:
        conv.membership_version = version + 1
    return written


async def _team_for(core: Core, user: Principal, conversation_id: object) -> Conversation:
    conv = await conversation_for(core, user, conversation_id, fresh=True)
    if not conv.is_care_team:
        raise Invalid("Members can only be changed in a care team")
    return conv


async def _announce(
    core: Core, conv: Conversation, actor_id: str, target: str, action: str
) -> None:
    payload = _update_payload(conv, actor_id, action, target)
    await core.notify_many([*conv.participants, target], CARE_TEAM_UPDATED, payload)


def _update_payload(
    conv: Conversation, actor_id: str, action: str, target: str | None = None
) -> JSON:
    payload: JSON = {
        "conversationId": conv.id,
        "action": action,
        "by": actor_id,
        "participantIds": list(conv.participants),
    }
    if target is not None:
        payload["userId"] = target
    return payload


def windows_of(conv: Conversation, user_id: str) -> list[Window]:
    """The periods `user_id` was (or is) a member: what they may read of the thread."""
    return [(m.joined_seq, m.left_seq) for m in conv.members if m.user_id == user_id]


async def conversation_to_read(
    core: Core, user: Principal, conversation_id: object, action: str
) -> tuple[Conversation, list[Window] | None]:
    """The read paths' check (history, sync, search, export): a participant of a one-to-one
    (no window: everything), a current member of a care team, or a former one (their periods).

    A refusal (403, 404) leaves one `denied` audit record, as `audit.conversation_to_read` does.
    """
    conv_id = parse_id(conversation_id, "conversationId")
    try:
        conv = await conversation_for(core, user, conv_id)
    except Forbidden:
        former = await core.store.get_conversation(conv_id)
        windows = windows_of(former, user.id) if former and former.is_care_team else []
        if former is None or not windows:
            await audit.record_denied(core, user, action, conv_id)
            raise
        return former, windows
    except NotFound:
        await audit.record_denied(core, user, action, conv_id)
        raise
    return conv, (windows_of(conv, user.id) if conv.is_care_team else None)


async def open_any(core: Core, user: Principal, body: CreateConversationIn) -> Opened:
    """POST /conversations: a care team when `participantIds` is given, else one-to-one."""
    if body.participantIds is not None:
        return await create_care_team(core, user, body.participantIds, body.title)
    if body.recipientId is None:
        raise Invalid("recipientId: is required")  # the text pydantic gave before #18
    return await open_conversation(core, user, body.recipientId, body.recipientType)


async def member_view(core: Core, user: Principal, change: MembershipChange) -> JSON:
    """The team after a change, as the caller now sees it."""
    conv = change.conversation
    unread = await unread_counts(core, user.id, [conv.id])
    return await team_view(core, conv, user.id, unread.get(conv.id, 0))


# -- typing and presence among members
TYPING_TARGET_PREFIX = "members:"


def typing_target(conv: Conversation, user_id: str) -> str:
    """The typing relay keeps one target per (user, conversation): for a care team, every other
    current member, packed in one string the socket tier's notify unpacks (typing_members)."""
    return TYPING_TARGET_PREFIX + ",".join(p for p in conv.participants if p != user_id)


def typing_members(target: str) -> list[str] | None:
    """The members a typing target names, or None for a plain user id."""
    if not target.startswith(TYPING_TARGET_PREFIX):
        return None
    return [p for p in target[len(TYPING_TARGET_PREFIX) :].split(",") if p]


async def share_a_team(core: Core, user_id: str, other_id: str) -> bool:
    """Whether two users are current members of one care team (presence between them)."""
    teams = await core.store.care_teams_of(user_id)
    return any(t.has(user_id) and t.has(other_id) for t in teams)
