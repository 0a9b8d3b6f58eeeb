"""Presence questions: only the user and their conversation partners learn who is online."""

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from .access import conversation_for, receiver_of
from .budgets import spend
from .care_teams import share_a_team, typing_target
from .clock import iso, utcnow
from .core import Core
from .errors import Forbidden
from .ids import parse_id
from .models import Principal
from .views import JSON

logger = logging.getLogger(__name__)

PresenceEvent = Literal["user_online", "user_offline"]
# A health check answers within this even when Redis does not.
HEALTH_PRESENCE_TIMEOUT_SECONDS = 2.0


async def online_status(core: Core, user: Principal, user_id: object) -> JSON:
    await spend(core, user, "online_status")
    target = parse_id(user_id, "userId")
    if (
        target != user.id
        and await core.store.find_conversation_between(user.id, target) is None
        and not await share_a_team(core, user.id, target)  # care-team members (#18)
    ):
        raise Forbidden("You can only see the status of your conversation partners")
    return {"userId": target, "isOnline": await core.presence.is_online(target)}


async def announce(core: Core, user_id: str, event: PresenceEvent) -> int:
    """`user_online`/`user_offline` to the user's conversation partners who are online, only.

    Returns how many were told. The socket tier calls this on connect, disconnect, shutdown and
    when it reaps the users of a task that died."""
    partners = await core.store.partners_of(user_id)
    if not partners:
        return 0
    online = await core.presence.online_among(partners)
    payload = {"userId": user_id, "timestamp": iso(utcnow())}
    await asyncio.gather(*(core.notify(p, event, payload) for p in online))
    return len(online)


@dataclass(frozen=True, slots=True)
class TypingPartner:
    user_id: str  # who hears the indicator
    sender_name: str | None  # what it shows (looked up only when asked for)


async def typing_partner(
    core: Core,
    user: Principal,
    conversation_id: object,
    receiver_id: object | None,
    *,
    with_name: bool = False,
) -> TypingPartner:
    """The other participant, for a typing relay; each relay spends the typing budget (the
    throttled keystrokes in between never get here)."""
    await spend(core, user, "typing")
    conv = await conversation_for(core, user, conversation_id)
    if conv.is_care_team and receiver_id is None:  # every other member (#18)
        other = typing_target(conv, user.id)
    else:
        other = receiver_of(user, conv, receiver_id)
    return TypingPartner(other, await display_name(core, user) if with_name else None)


async def display_name(core: Core, user: Principal) -> str | None:
    """The name a typing indicator shows: the token's, else the directory's."""
    if user.name:
        return user.name
    profile = await core.directory.get_profile(user.id)
    return profile.name if profile else None


async def health(core: Core, presence_seconds: float = HEALTH_PRESENCE_TIMEOUT_SECONDS) -> JSON:
    """The health body of both tiers (REST `/health` and the socket tier's)."""
    body: JSON = {
        "service": "Messaging Service",
        "status": "healthy",
        "timestamp": iso(utcnow()),
        "onlineUsers": None,
    }
    try:
        body["onlineUsers"] = await asyncio.wait_for(core.presence.online_count(), presence_seconds)
    except Exception as exc:
        # Still 200: a Redis blip must not make the load balancer replace every task at once.
        body["status"] = "degraded"
        logger.warning("health: presence unavailable", extra={"error": type(exc).__name__})
    return body
