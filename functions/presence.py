"""Lambda `presence`: a user's online status, and the service's health check."""

from typing import Any

from fastapi import APIRouter
from messaging_core import presence
from messaging_core.replies import HealthView

from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import OnlineStatusReply

router = APIRouter(tags=["presence"])


@router.get(
    "/api/v1/messages/users/{userId}/online-status",
    response_model=OnlineStatusReply,
    responses=RESPONSES["online_status"],
)
async def online_status(userId: str, user: CurrentUser, core: Services) -> dict[str, Any]:
    """Whether a conversation partner (or the caller) is online now."""
    data = await presence.online_status(core, user, userId)
    return {"message": "Online status retrieved successfully", "data": data}


@router.get("/health", response_model=HealthView, responses=RESPONSES["health"])
async def health(core: Services) -> dict[str, Any]:
    """Liveness and the number of users online (no authentication)."""
    return await presence.health(core)


app = create_app(router)
handler = lambda_handler(app)
