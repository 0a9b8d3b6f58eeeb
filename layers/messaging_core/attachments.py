"""Attachments: hand out presigned uploads, check what was stored, send it as a file message.

A Lambda behind API Gateway cannot take a 10 MB body, so files go straight to S3; the API signs
the upload and, before accepting the message, checks the stored object itself (existence, owner,
single use, size, and first bytes against the declared type).

A presigned POST stays valid for its whole TTL, so the upload key can be written again after the
check. The message therefore never points at the upload key: the object is copied server-side to
a key under `files/` (which no upload policy ever names, and which the bucket policy lets only
the confirming role write), the copy is what gets checked, and the upload key is then removed.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .access import conversation_for
from .budgets import spend
from .clock import utcnow
from .core import Core
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unavailable
from .filetypes import MEDIA_KINDS, SNIFF_BYTES, FileType, content_matches, file_type
from .messages import Sent, store_message
from .models import Attachment, Conversation, Principal, Upload
from .views import JSON

if TYPE_CHECKING:  # types only: the ports are not imported at run time (cold start, #19)
    from .ports import FileStore, UploadRepository

__all__ = [
    "FileMessage",
    "Sent",
    "SmallFile",
    "request_upload",
    "send_multipart_file",
    "send_small_file",
    "send_uploaded_file",
]

MAX_FILE_NAME = 255
CONFIRMED = "confirmed"
UPLOAD_PREFIX = "messages/"  # what presigned POST policies name (infra: ATTACHMENTS_PREFIX)
CONFIRMED_PREFIX = "files/"  # what messages reference (infra: CONFIRMED_FILES_PREFIX)


@dataclass(frozen=True, slots=True)
class FileMessage:
    """What send-file needs besides the file: who receives it, as what, with which caption."""

    receiver_id: object | None
    message_type: object
    caption: object | None = None
    # Voice and video messages (#17): what the client declares, shown as given (<= 600 s).
    duration_seconds: object | None = None


@dataclass(frozen=True, slots=True)
class CheckedMessage:
    """A file message's type and caption once checked against the file's kind."""

    kind: FileType
    message_type: str
    caption: str | None
    duration_seconds: float | None = None


def _checked_message(core: Core, kind: FileType, message: FileMessage) -> CheckedMessage:
    return CheckedMessage(
        kind,
        _message_type(kind, message.message_type),
        _caption(core, message.caption),
        _duration(kind, message.duration_seconds),
    )


def size_limit(core: Core, kind: FileType) -> int:
    """The ceiling of one file of this kind: audio and video have their own (#17)."""
    if kind.kind == "audio":
        return core.settings.max_audio_size
    if kind.kind == "video":
        return core.settings.max_video_size
    return core.settings.max_file_size


def _ports(core: Core) -> "tuple[FileStore, UploadRepository]":
    if core.files is None or core.uploads is None:
        raise Unavailable("File storage is not configured")
    return core.files, core.uploads


def _checked_type(mime: object, size: object, core: Core) -> tuple[FileType, int]:
    kind = file_type(mime)
    if kind is None:
        raise Invalid(
            "File type not allowed: images (jpeg, png, gif), pdf, doc, docx, xls, xlsx, "
            "audio (mpeg, mp4, webm, ogg) or video (mp4, webm, quicktime)"
        )
    limit = size_limit(core, kind)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise Invalid("fileSize must be a positive number of bytes")
    if size > limit:
        raise Invalid(f"File too large: at most {limit} bytes")
    return kind, size


def _checked_name(file_name: object) -> str:
    if not isinstance(file_name, str) or not file_name.strip():
        raise Invalid("fileName is required")
    if len(file_name) > MAX_FILE_NAME:
        raise Invalid(f"fileName must be at most {MAX_FILE_NAME} characters")
    return file_name.strip()


def new_key(conversation_id: str, kind: FileType, prefix: str = UPLOAD_PREFIX) -> str:
    """`{prefix}{conversationId}/{timestamp}_{uuid}.{ext}`: the extension from the type only."""
    stamp = int(time.time() * 1000)
    return f"{prefix}{conversation_id}/{stamp}_{uuid.uuid4().hex}.{kind.extension}"


async def request_upload(
    core: Core,
    user: Principal,
    conversation_id: object,
    file_name: object,
    mime: object,
    size: object,
) -> JSON:
    """A presigned POST for one file, only for a participant, remembered for its later check."""
    await spend(core, user, "upload")
    files, uploads = _ports(core)
    conv = await conversation_for(core, user, conversation_id)
    name = _checked_name(file_name)
    kind, declared = _checked_type(mime, size, core)
    key = new_key(conv.id, kind)
    ttl = core.settings.upload_url_ttl_seconds
    post = await files.presigned_upload(key, kind.mime, size_limit(core, kind), ttl)
    await uploads.record_upload(Upload(key, conv.id, user.id, name, kind.mime, declared, utcnow()))
    return {
        "uploadUrl": post["url"],
        "fields": post["fields"],
        "key": key,
        "expiresIn": ttl,
        "maxFileSize": size_limit(core, kind),
    }


async def send_uploaded_file(
    core: Core, user: Principal, conversation_id: object, key: object, message: FileMessage
) -> Sent:
    """Send a file uploaded through a presigned POST, after checking the stored object."""
    await spend(core, user, "send_file")
    files, uploads = _ports(core)
    conv = await conversation_for(core, user, conversation_id)
    if not isinstance(key, str) or not key:
        raise Invalid("key must be the string returned with the upload URL")
    upload = await uploads.get_upload(key)
    if upload is None:
        raise NotFound("Unknown upload key: ask for an upload first")
    if upload.conversation_id != conv.id or upload.sender_id != user.id:
        raise Forbidden("This upload was issued for another conversation or sender")
    kind = file_type(upload.mime_type)
    assert kind is not None  # only whitelisted types are ever issued
    checked = _checked_message(core, kind, message)
    if await files.stat(key) is None:
        if await uploads.is_claimed(key):  # sent already: its upload key was removed then
            raise Conflict("This upload has already been sent")
        raise NotFound("The file has not been uploaded (or the upload expired)")
    # Claimed before the copy: one grant yields at most one confirmed object, ever (a refused
    # file is deleted, so a retry needs a new grant anyway).
    if not await uploads.claim_upload(key):
        raise Conflict("This upload has already been sent")
    confirmed = new_key(conv.id, kind, CONFIRMED_PREFIX)
    await files.copy(key, confirmed)
    # Check the copy, not the upload: the copy is what the message serves, and nothing can
    # write it once made; a re-POST to the upload key after this point changes nothing.
    await _verify_stored(core, files, confirmed, kind, upload.file_size, also_delete=key)
    await files.delete(key)  # the upload key is spent; its policy can only write a dead key
    # The size is the copy's, just checked.
    attachment = Attachment(
        upload.file_name, upload.file_size, kind.mime, confirmed, checked.duration_seconds
    )
    return await _send(core, user, conv, message.receiver_id, checked, attachment)


async def send_small_file(
    core: Core,
    user: Principal,
    conversation_id: object,
    file_name: object,
    mime: object,
    data: bytes,
    message: FileMessage,
) -> Sent:
    """The original's multipart form, for files small enough to pass API Gateway and Lambda."""
    await spend(core, user, "send_file")
    _ports(core)
    conv = await conversation_for(core, user, conversation_id)
    return await _send_small(core, user, conv, SmallFile(file_name, mime, data, message))


@dataclass(frozen=True, slots=True)
class SmallFile:
    """A multipart form's file and fields, as the edge parsed them."""

    file_name: object
    mime: object
    data: bytes
    message: FileMessage


# Reads the request's form, pulling at most the given number of body bytes (TooLarge past it).
FormReader = Callable[[int], Awaitable[SmallFile]]

# Room for the form's other fields, part headers and boundaries around the file itself.
MULTIPART_OVERHEAD = 64_000


def multipart_body_limit(core: Core) -> int:
    """The most bytes a multipart send-file body may have, form around the file included."""
    return core.settings.multipart_max_bytes + MULTIPART_OVERHEAD


async def send_multipart_file(
    core: Core,
    user: Principal,
    conversation_id: object,
    declared_length: object,
    read_form: FormReader,
) -> Sent:
    """Multipart send-file: budget, membership and declared size settled before the body is read.

    A refused sender costs no body read (#11): `read_form` runs last and is given the limit, so
    a body with no declared length (chunked) or a wrong one is cut there too.
    """
    await spend(core, user, "send_file")
    _ports(core)
    conv = await conversation_for(core, user, conversation_id)
    limit = multipart_body_limit(core)
    declared = declared_length if isinstance(declared_length, str) else ""
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(multipart_too_large(core))
    return await _send_small(core, user, conv, await read_form(limit))


async def _send_small(core: Core, user: Principal, conv: Conversation, small: SmallFile) -> Sent:
    files, _ = _ports(core)
    data = small.data
    if len(data) > core.settings.multipart_max_bytes:
        raise TooLarge(multipart_too_large(core))
    name = _checked_name(small.file_name)
    kind, _ = _checked_type(small.mime, len(data), core)
    checked = _checked_message(core, kind, small.message)
    if not content_matches(kind, data[:SNIFF_BYTES]):
        raise Invalid(f"The file's content is not {kind.extension.upper()}")
    # Checked in memory already: stored straight under the confirmed prefix.
    key = new_key(conv.id, kind, CONFIRMED_PREFIX)
    await files.put(key, data, kind.mime)
    attachment = Attachment(name, len(data), kind.mime, key, checked.duration_seconds)
    return await _send(core, user, conv, small.message.receiver_id, checked, attachment)


def multipart_too_large(core: Core) -> str:
    limit = core.settings.multipart_max_bytes
    return (
        f"File too large for a direct upload (at most {limit} bytes): ask for a presigned upload "
        "with POST /api/v1/messages/conversations/{conversationId}/attachments, then send-file "
        "with its key"
    )


async def _verify_stored(
    core: Core,
    files: "FileStore",
    key: str,
    kind: FileType,
    declared_size: int,
    *,
    also_delete: str,
) -> None:
    stat = await files.stat(key)
    problem = None
    if stat is None:
        problem = "The file could not be confirmed"
    elif stat[0] > size_limit(core, kind):
        problem = f"File too large: at most {size_limit(core, kind)} bytes"
    elif stat[0] != declared_size:
        problem = "The uploaded file's size differs from the declared size"
    elif stat[1].lower() != kind.mime:
        problem = "The uploaded file's type differs from the declared type"
    elif not content_matches(kind, await files.read_head(key, min(stat[0], SNIFF_BYTES))):
        problem = f"The file's content is not {kind.extension.upper()}"
    if problem:
        for refused in (key, also_delete):  # a refused file is not kept, under either key
            await files.delete(refused)
        raise Invalid(problem)


async def _send(
    core: Core,
    user: Principal,
    conv: Conversation,
    receiver_id: object | None,
    checked: CheckedMessage,
    attachment: Attachment,
) -> Sent:
    default = DEFAULT_CONTENT[checked.kind.kind]
    sent = await store_message(
        core,
        user,
        conv,
        receiver_id=receiver_id,
        message_type=checked.message_type,  # type: ignore[arg-type]
        content=checked.caption or default,
        attachment=attachment,
    )
    if core.files is not None:  # out of the pending-upload lifecycle rule
        await core.files.set_state(attachment.s3_key, CONFIRMED)
    return sent


DEFAULT_CONTENT = {
    "image": "Sent an image",
    "document": "Sent a document",
    "audio": "Sent a voice message",
    "video": "Sent a video",
}
MAX_DURATION_SECONDS = 600


def _message_type(kind: FileType, requested: object) -> str:
    if requested not in DEFAULT_CONTENT:
        raise Invalid("messageType must be 'image', 'document', 'audio' or 'video'")
    if requested != kind.kind:
        raise Invalid(f"messageType '{requested}' does not match a {kind.mime} file")
    return kind.kind


def _caption(core: Core, caption: object | None) -> str | None:
    if caption is None or caption == "":
        return None
    if not isinstance(caption, str):
        raise Invalid("caption must be a string")
    limit = core.settings.max_caption_length
    if len(caption) > limit:
        raise Invalid(f"caption must be at most {limit} characters")
    return caption.strip() or None


def _duration(kind: FileType, value: object | None) -> float | None:
    """`durationSeconds` (#17): optional, audio and video only, a number in (0, 600]."""
    if value is None or value == "":
        return None
    if kind.kind not in MEDIA_KINDS:
        raise Invalid("durationSeconds is for audio and video messages only")
    if isinstance(value, str):  # a multipart form field
        try:
            value = float(value)
        except ValueError:
            raise Invalid("durationSeconds must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("durationSeconds must be a number of seconds")
    seconds = float(value)
    # NaN and infinities fail both comparisons' complement: refused, never stored.
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise Invalid(f"durationSeconds must be more than 0 and at most {MAX_DURATION_SECONDS}")
    return seconds
