"""The REST envelopes `{message, data, pagination}` around the core's views (`replies.py`).

Each route declares one of these as its `response_model` (in the decorator: the core's views are
plain dicts, so the functions keep returning `dict[str, Any]`). The OpenAPI document then
describes every success reply, and FastAPI validates each reply against its type before writing
it, in field order, which is the order the views and routes build them in (same bytes as before
the routes were typed: tests/replies_check.py).
"""

from typing import TypedDict

from messaging_core.replies import (
    STRICT,
    AccessLogView,
    CancelledView,
    ConversationView,
    DevTokenView,
    ExportView,
    HistoryView,
    MessageView,
    OnlineStatusView,
    Pagination,
    ReactionsView,
    ReadReceiptView,
    ScheduledRefView,
    ScheduledView,
    SearchView,
    UnreadView,
    UploadView,
    VersionsView,
)
from pydantic import with_config


@with_config(STRICT)
class Reply(TypedDict):
    """A success with nothing more to say than its sentence."""

    message: str


@with_config(STRICT)
class ConversationReply(Reply):
    """The conversation created (201) or found (200)."""

    data: ConversationView


@with_config(STRICT)
class ConversationsReply(Reply):
    """A page of the caller's conversations, most recent activity first."""

    data: list[ConversationView]
    pagination: Pagination


@with_config(STRICT)
class HistoryReply(Reply):
    """A page of a conversation's messages."""

    data: HistoryView


@with_config(STRICT)
class MessageReply(Reply):
    """The message sent (or the original one, for a retried tempId)."""

    data: MessageView


@with_config(STRICT)
class ReadReply(Reply):
    """How many messages were marked read, and which."""

    data: ReadReceiptView


@with_config(STRICT)
class UnreadReply(Reply):
    """The caller's unread counts."""

    data: UnreadView


@with_config(STRICT)
class SearchReply(Reply):
    """Search results."""

    data: SearchView


@with_config(STRICT)
class UploadReply(Reply):
    """A presigned upload."""

    data: UploadView


@with_config(STRICT)
class OnlineStatusReply(Reply):
    """A user's online status."""

    data: OnlineStatusView


@with_config(STRICT)
class DevTokenReply(Reply):
    """A development token."""

    data: DevTokenView


@with_config(STRICT)
class AccessLogReply(Reply):
    """Who accessed the conversation, newest first."""

    data: AccessLogView


@with_config(STRICT)
class ExportReply(Reply):
    """The conversation exported as JSON (`format=json`; `fhir` answers a FHIR R4 Bundle)."""

    data: ExportView


# -- issue #16 part A: edits and reactions
@with_config(STRICT)
class VersionsReply(Reply):
    """Every text of a message, oldest first."""

    data: VersionsView


@with_config(STRICT)
class ReactionsReply(Reply):
    """A message's reactions after the change."""

    data: ReactionsView


# --- Forwarding and scheduled messages (issue #16 B) ------------------------------------------
@with_config(STRICT)
class ScheduledReply(Reply):
    """A message scheduled (202): sent at `scheduledAt` through the usual send path."""

    data: ScheduledRefView


@with_config(STRICT)
class ScheduledListReply(Reply):
    """The caller's pending scheduled messages, soonest first."""

    data: list[ScheduledView]
    pagination: Pagination


@with_config(STRICT)
class CancelledReply(Reply):
    """A scheduled message cancelled (it will not be sent)."""

    data: CancelledView
