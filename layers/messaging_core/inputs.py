"""Input shapes shared by REST bodies and socket payloads; strict, so `{"$ne": null}` is 400."""

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from .config import Settings
from .errors import Invalid
from .models import Page

MAX_METADATA_BYTES = 4096
MAX_IDS_PER_CALL = 500
CURSOR_HINT = "to go further back, use the before/after cursors (a message id) with page=1"


TempId = Annotated[StrictStr, Field(min_length=1, max_length=128)]
# An id as a client sent it, lower-cased here once so every handler and cache key agrees with
# what the core stores (ids are 24 lower-case hex); the core's parse_id still checks its shape.
ClientId = Annotated[StrictStr, AfterValidator(str.lower)]


class InputModel(BaseModel):
    # defer_build (cold start, #19): a function validates a handful of these shapes, the socket
    # tier others; each is built at its first use (or by its route) instead of all at import.
    # SnapStart's before-snapshot hook builds them all (messaging_core.warm).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class CreateConversationIn(InputModel):
    # Required for a one-to-one conversation (the route says so); a care team names
    # `participantIds` and a `title` instead (#18).
    recipientId: ClientId | None = None
    recipientType: StrictStr | None = None
    participantIds: Annotated[list[ClientId], Field(max_length=50)] | None = None
    title: StrictStr | None = None


class SendMessageIn(InputModel):
    receiverId: ClientId | None = None
    messageType: StrictStr = "text"
    # Exactly one of `content` and `templateId` (a doctor's template, #17).
    content: StrictStr | None = None
    tempId: TempId | None = None
    metadata: dict[str, Any] | None = None
    # Scheduled messages (issue #16 B): ISO 8601 with a time zone; checked in scheduling.py.
    scheduledAt: Annotated[StrictStr, Field(max_length=64)] | None = None
    templateId: ClientId | None = None

    @model_validator(mode="after")
    def _content_or_template(self) -> "SendMessageIn":
        if (self.content is None) == (self.templateId is None):
            raise ValueError("give either content or templateId")
        return self


class SocketSendMessageIn(SendMessageIn):
    conversationId: ClientId


class MarkReadIn(InputModel):
    messageIds: Annotated[list[ClientId], Field(max_length=MAX_IDS_PER_CALL)] | None = None


class SocketMarkReadIn(MarkReadIn):
    conversationId: ClientId


class ConversationRefIn(InputModel):
    conversationId: ClientId
    receiverId: ClientId | None = None


class SyncIn(InputModel):
    """Socket `sync`: messages of a conversation after the last `seq` the client holds."""

    conversationId: ClientId
    afterSeq: Annotated[StrictInt, Field(ge=0)]
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 100


class DevTokenIn(InputModel):
    role: Literal["patient", "doctor"]
    name: Annotated[StrictStr, Field(max_length=100)] | None = None
    userId: StrictStr | None = None


def parse_input[T: BaseModel](model: type[T], data: Any) -> T:
    """Validate a payload into `model`, turning pydantic's report into one readable Invalid."""
    if not isinstance(data, dict):
        raise Invalid("Payload must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    return describe_errors(exc.errors(include_url=False, include_input=False))


def describe_errors(errors: Sequence[Any]) -> str:
    """One readable sentence from pydantic's error list: `field: reason`."""
    if not errors:
        return "Invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    reason = first.get("msg", "is invalid")
    if first.get("type") == "missing":
        reason = "is required"
    if first.get("type") == "value_error":  # a model's own rule: its sentence, unprefixed
        reason = str((first.get("ctx") or {}).get("error") or reason)
    return f"{where}: {reason}" if where else reason


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Small JSON object without operator-like keys (`$...`, dotted), so it is stored as data."""
    if metadata is None:
        return None
    if len(json.dumps(metadata, default=str)) > MAX_METADATA_BYTES:
        raise Invalid(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or key.startswith("$") or "." in key:
                    raise Invalid("metadata keys must not start with '$' or contain '.'")
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(metadata)
    return metadata


def check_offset(settings: Settings, page: Page, hint: str = CURSOR_HINT) -> None:
    """Offset paging ends at MAX_PAGE_OFFSET rows: a deeper skip makes the database walk every
    row before it, on each request. History's `before`/`after` cursors reach any depth."""
    if page.page * page.limit > settings.max_page_offset:
        raise Invalid(f"page x limit must be at most {settings.max_page_offset}: {hint}")


# -- issue #16 part A: edits and reactions (REST bodies and socket payloads)
class EditMessageIn(InputModel):
    content: StrictStr


class SocketEditMessageIn(EditMessageIn):
    messageId: ClientId


class ReactionIn(InputModel):
    emoji: StrictStr  # checked by reactions.check_emoji (one grapheme, emoji only)


class SocketReactionIn(ReactionIn):
    messageId: ClientId


# -- care teams (#18)
class AddParticipantIn(InputModel):
    userId: ClientId
