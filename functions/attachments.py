"""Lambda `attachments`: presigned uploads and file messages (endpoint 5 of the original)."""

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from messaging_core import attachments
from messaging_core.errors import Invalid, TooLarge
from messaging_core.inputs import InputModel, parse_input
from pydantic import Field, StrictFloat, StrictInt, StrictStr
from starlette.formparsers import MultiPartException, MultiPartParser

from . import forwarding
from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import MessageReply, UploadReply

router = APIRouter(prefix="/api/v1/messages", tags=["attachments"])


class UploadRequestIn(InputModel):
    fileName: StrictStr
    mimeType: StrictStr
    fileSize: StrictInt


class SendFileIn(InputModel):
    key: StrictStr
    receiverId: StrictStr | None = None
    messageType: StrictStr
    caption: StrictStr | None = None
    # Voice and video messages (#17): seconds, as the client measured them (the core checks).
    durationSeconds: StrictInt | StrictFloat | None = Field(default=None, allow_inf_nan=False)


SEND_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SendFileIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "messageType"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "receiverId": {"type": "string"},
                        "messageType": {
                            "type": "string",
                            "enum": ["image", "document", "audio", "video"],
                        },
                        "caption": {"type": "string", "maxLength": 500},
                        "durationSeconds": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": 600,
                        },
                    },
                }
            },
        },
    }
}


@router.post(
    "/conversations/{conversationId}/attachments",
    status_code=201,
    response_model=UploadReply,
    responses=RESPONSES["request_upload"],
)
async def request_upload(
    conversationId: str, body: UploadRequestIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Ask for a presigned upload (POST the file straight to S3 with the returned fields)."""
    data = await attachments.request_upload(
        core, user, conversationId, body.fileName, body.mimeType, body.fileSize
    )
    return {"message": "Upload URL created successfully", "data": data}


@router.post(
    "/conversations/{conversationId}/send-file",
    status_code=201,
    response_model=MessageReply,
    openapi_extra=SEND_FILE_BODY,
    responses=RESPONSES["send_file"],
)
async def send_file(
    conversationId: str, request: Request, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Send a file message: JSON with an uploaded `key`, or a small multipart `file`."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        sent = await _send_multipart(conversationId, request, user, core)
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise Invalid(
                "Request body must be JSON {key, receiverId, messageType, caption}"
            ) from None
        body = parse_input(SendFileIn, raw)
        message = attachments.FileMessage(
            body.receiverId, body.messageType, body.caption, body.durationSeconds
        )
        sent = await attachments.send_uploaded_file(core, user, conversationId, body.key, message)
    return {"message": "File sent successfully", "data": sent.message}


async def _send_multipart(
    conversation_id: str, request: Request, user: CurrentUser, core: Services
) -> attachments.Sent:
    async def read_form(limit: int) -> attachments.SmallFile:
        # The core calls this last (budget, membership and Content-Length first), with the cap.
        parser = MultiPartParser(
            request.headers, _capped(request, limit, core), max_files=1, max_fields=10
        )
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise Invalid(exc.message) from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid("file is required")
        try:
            data = await upload.read(core.settings.multipart_max_bytes + 1)
        finally:
            await form.close()

        def text(name: str) -> str | None:
            value = form.get(name)
            return value if isinstance(value, str) else None

        message = attachments.FileMessage(
            text("receiverId"), text("messageType"), text("caption"), text("durationSeconds")
        )
        return attachments.SmallFile(upload.filename, upload.content_type, data, message)

    return await attachments.send_multipart_file(
        core, user, conversation_id, request.headers.get("content-length"), read_form
    )


async def _capped(request: Request, limit: int, core: Services) -> AsyncGenerator[bytes, None]:
    """The body's chunks, refused with 413 once past `limit` (a chunked body declares none)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(attachments.multipart_too_large(core))
        yield chunk


# Forwarding (issue #16 B) runs here: a forwarded file is copied under files/, which only this
# function's role may write.
app = create_app(router, forwarding.router)
handler = lambda_handler(app)
