"""Compliance routes (served by the `messages` Lambda): access log and export of a conversation."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from messaging_core import audit, export

from .api.deps import CurrentUser, PageNumber, Services, page_of
from .api.openapi import RESPONSES
from .api.schemas import AccessLogReply, ExportReply

# `format=fhir` (the default) answers a FHIR R4 Bundle under its own media type.
FHIR_REPLY: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            export.FHIR_MEDIA_TYPE: {
                "schema": {"type": "object", "description": "A FHIR R4 Bundle (collection)"}
            }
        }
    }
}

router = APIRouter(prefix="/api/v1/messages", tags=["compliance"])


@router.get(
    "/conversations/{conversationId}/access-log",
    response_model=AccessLogReply,
    responses=RESPONSES["access_log"],
)
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


@router.get(
    "/conversations/{conversationId}/export",
    response_model=ExportReply,
    responses={**RESPONSES["export_conversation"], **FHIR_REPLY},
)
async def export_conversation(
    conversationId: str,
    user: CurrentUser,
    core: Services,
    format: Annotated[str, Query(description="fhir (a FHIR R4 Bundle) or json")] = "fhir",
    page: PageNumber = 1,
    limit: Annotated[int | None, Query(description="1..200, default 100")] = None,
) -> Response:
    """Export a conversation, oldest first: a FHIR R4 Bundle, or the messages as JSON (GDPR)."""
    page_req = page_of(page, limit, 100, 200)
    data = await export.export_conversation(core, user, conversationId, format, page_req)
    if format == "fhir":
        return JSONResponse(data, media_type=export.FHIR_MEDIA_TYPE)
    return JSONResponse({"message": "Conversation exported successfully", "data": data})
