"""Compliance routes (served by the `messages` Lambda): access log and export of a conversation."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from messaging_core import audit

from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES

router = APIRouter(prefix="/api/v1/messages", tags=["compliance"])


@router.get("/conversations/{conversationId}/access-log", responses=RESPONSES["access_log"])
async def access_log(
    conversationId: str,
    user: CurrentUser,
    core: Services,
    page: PageNumber = 1,
    limit: Annotated[int | None, Query(description="1..100, default 50")] = None,
) -> dict[str, Any]:
    """Who accessed this conversation, newest first (participants only; reading it is recorded)."""
    data = await audit.access_log(core, user, conversationId, page_of(page, limit, 50, 100))
    return {"message": "Access log retrieved successfully", "data": data}
