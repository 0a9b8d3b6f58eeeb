"""Presence questions: only the user and their conversation partners learn who is online."""

from .budgets import spend
from .clock import iso, utcnow
from .core import Core
from .errors import Forbidden
from .ids import parse_id
from .models import Principal
from .views import JSON


async def online_status(core: Core, user: Principal, user_id: object) -> JSON:
    await spend(core, user, "online_status")
    target = parse_id(user_id, "userId")
    if target != user.id and await core.store.find_conversation_between(user.id, target) is None:
        raise Forbidden("You can only see the status of your conversation partners")
    return {"userId": target, "isOnline": await core.presence.is_online(target)}


async def health(core: Core) -> JSON:
    return {
        "service": "Messaging Service",
        "status": "healthy",
        "timestamp": iso(utcnow()),
        "onlineUsers": await core.presence.online_count(),
    }
