"""The JSON shapes of `views.py`, typed: field for field and in the same order as the views build
them, so a reply validated against them serializes to the very bytes the view produced.

They are TypedDicts rather than models: a key a view leaves out (`specialty`, `tempId`,
`attachment`...) is `NotRequired` and stays absent, while a key it sets to null stays null, with
no `exclude_none`/`exclude_unset` to keep in step. `strict` refuses any coercion (a float where an
int is declared would otherwise change the bytes).

Extra keys are ignored, not refused: the type is the allow-list of what a reply may carry, so a
key a view grows without its field here never reaches a client undocumented. It is not silent
either: the tests compare every reply with its untyped writing (tests/replies_check.py), and
refusing instead (`extra="forbid"`) costs more on every warm request (figures in
bench/RESULTS-replies.md).
"""

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import ConfigDict, WithJsonSchema, with_config

from .models import ConversationType, MessageType, UserType


def _title(name: str, _info: object) -> str:
    # A field's title in the document is its JSON name (`profilePhoto`, not `Profilephoto`).
    return name


STRICT = ConfigDict(
    strict=True,
    extra="ignore",
    # The document says what the type guarantees: no other key is ever written.
    json_schema_extra={"additionalProperties": False},
    field_title_generator=_title,
    # Cold start (#19): FastAPI builds a validator and serializer per route for its reply type at
    # import; deferred, each is built at that route's first reply (or by the OpenAPI document,
    # which SnapStart's before-snapshot hook writes: functions/api/snapstart.py).
    defer_build=True,
)

# `clock.iso`'s text (UTC, `Z`); documented as a date-time, kept a string (no re-formatting).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
MaybeTimestamp = Annotated[
    str | None,
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
]


@with_config(STRICT)
class HistoryPagination(TypedDict):
    """Where a page of history sits in the whole."""

    currentPage: int
    totalPages: int
    totalItems: int
    itemsPerPage: int
    hasMore: bool


@with_config(STRICT)
class Pagination(HistoryPagination):
    """Where a page of conversations or search results sits in the whole."""

    hasPrevious: bool


@with_config(STRICT)
class RecipientView(TypedDict):
    """The other participant of a conversation, as the viewer sees them."""

    id: str
    name: str | None
    type: str  # the directory's word, else the type recorded when the conversation was opened
    profilePhoto: str | None
    isOnline: bool
    specialty: NotRequired[str]


@with_config(STRICT)
class LastMessageView(TypedDict):
    """The latest message of a conversation, for the conversation list."""

    messageId: str
    content: str
    timestamp: MaybeTimestamp
    senderId: str
    isRead: bool


@with_config(STRICT)
class ConversationView(TypedDict):
    """A conversation as one of its participants sees it."""

    conversationId: str
    conversationType: ConversationType
    recipient: NotRequired[RecipientView]  # one-to-one only: a care team lists `participants`
    lastMessage: LastMessageView | None
    unreadCount: int
    createdAt: MaybeTimestamp
    updatedAt: MaybeTimestamp
    # Care teams (#18) only.
    title: NotRequired[str]
    createdBy: NotRequired[str]
    participants: NotRequired[list[RecipientView]]
    members: NotRequired[list["MemberView"]]
    isMember: NotRequired[bool]


@with_config(STRICT)
class AttachmentView(TypedDict):
    """A verified file; `url` is a short-lived presigned GET (null when no file store is set)."""

    fileName: str
    fileSize: int
    mimeType: str
    url: str | None
    durationSeconds: NotRequired[float]  # voice and video messages (#17), as declared


@with_config(STRICT)
class ForwardedFromView(TypedDict):
    """Forwarding (issue #16 B): the source message of a forwarded copy."""

    messageId: str
    conversationId: str
    senderId: str
    createdAt: MaybeTimestamp


@with_config(STRICT)
class MessageView(TypedDict):
    """One message; a deleted one keeps its place with empty content and `deletedAt`."""

    id: str
    conversationId: str
    seq: int
    senderId: str
    senderName: str | None
    senderType: UserType
    receiverId: NotRequired[str]  # one-to-one only: a care team's receipts are per member
    receiverType: NotRequired[UserType]
    messageType: MessageType
    content: str
    isRead: bool
    readAt: MaybeTimestamp
    isDelivered: bool
    deliveredAt: MaybeTimestamp
    createdAt: MaybeTimestamp
    updatedAt: MaybeTimestamp
    isEdited: bool
    editedAt: MaybeTimestamp  # issue #16
    isDeleted: bool
    reactions: list["ReactionView"]  # issue #16
    forwardedFrom: ForwardedFromView | None  # issue #16 B
    tempId: NotRequired[str]
    deletedAt: NotRequired[MaybeTimestamp]
    metadata: NotRequired[dict[str, Any]]
    attachment: NotRequired[AttachmentView]
    # Care teams (#18) only.
    readBy: NotRequired[list["ReadByView"]]
    deliveredTo: NotRequired[list["DeliveredToView"]]


@with_config(STRICT)
class HistoryView(TypedDict):
    """A page of a conversation's messages, in the order named by `order`."""

    conversationId: str
    order: Literal["newest_first", "oldest_first"]
    messages: list[MessageView]
    pagination: HistoryPagination


@with_config(STRICT)
class SearchHit(TypedDict):
    """One message found by a search (a subset of the message view)."""

    id: str
    conversationId: str
    senderId: str
    senderName: str | None
    messageType: MessageType
    content: str
    attachment: NotRequired[AttachmentView]
    createdAt: MaybeTimestamp


@with_config(STRICT)
class SearchView(TypedDict):
    """The query as given, a page of hits and where it sits."""

    query: str
    messages: list[SearchHit]
    pagination: Pagination


@with_config(STRICT)
class UnreadByConversation(TypedDict):
    """Unread messages of one conversation."""

    conversationId: str
    recipientName: str | None
    unreadCount: int


@with_config(STRICT)
class UnreadView(TypedDict):
    """The caller's unread messages, in total and per conversation."""

    totalUnread: int
    byConversation: list[UnreadByConversation]


@with_config(STRICT)
class ReadReceiptView(TypedDict):
    """The messages this call marked as read (none when all were read already)."""

    conversationId: str
    messageIds: list[str]


@with_config(STRICT)
class OnlineStatusView(TypedDict):
    """Whether a user is online now."""

    userId: str
    isOnline: bool


@with_config(STRICT)
class UploadView(TypedDict):
    """A presigned POST: send `fields` and the file to `uploadUrl`, then the `key` in send-file."""

    uploadUrl: str
    fields: dict[str, str]
    key: str
    expiresIn: int
    maxFileSize: int


@with_config(STRICT)
class HealthView(TypedDict):
    """Liveness, and how many users are online (null, with status "degraded", when presence
    cannot be read: a Redis blip must not fail the health check)."""

    service: str
    status: str
    timestamp: Timestamp
    onlineUsers: int | None


@with_config(STRICT)
class DevTokenView(TypedDict):
    """A development token (ENVIRONMENT=development only)."""

    token: str
    userId: str
    role: UserType
    name: str | None
    expiresIn: int


@with_config(STRICT)
class AccessEntryView(TypedDict):
    """One access to a conversation's health data: who, when, how (no content)."""

    at: Timestamp
    actorId: str
    actorRole: str
    action: str
    channel: str
    messageCount: int
    outcome: str  # "success", or "denied" for a read the participant rule refused


@with_config(STRICT)
class AccessLogView(TypedDict):
    """A page of a conversation's access log, newest first."""

    entries: list[AccessEntryView]
    pagination: Pagination


@with_config(STRICT)
class ExportView(TypedDict):
    """A conversation's messages, oldest first, in the service's own shape (`format=json`)."""

    conversationId: str
    messages: list[MessageView]
    pagination: Pagination


# -- issue #16 part A: edits (versions kept) and reactions
@with_config(STRICT)
class ReactionView(TypedDict):
    """One emoji on a message and who put it there."""

    emoji: str
    userIds: list[str]


@with_config(STRICT)
class VersionView(TypedDict):
    """One text the message held: the original first (`editedAt` is then its createdAt)."""

    content: str
    editedAt: MaybeTimestamp


@with_config(STRICT)
class VersionsView(TypedDict):
    """Every text of a message, oldest first; the last one is the current text."""

    messageId: str
    versions: list[VersionView]


@with_config(STRICT)
class ReactionsView(TypedDict):
    """A message's reactions after the change."""

    messageId: str
    conversationId: str
    reactions: list[ReactionView]


# --- Scheduled messages (issue #16 B) ---------------------------------------------------------
@with_config(STRICT)
class ScheduledRefView(TypedDict):
    """A message scheduled: its id (the sent message will carry the same) and its time."""

    scheduledMessageId: str
    scheduledAt: MaybeTimestamp


@with_config(STRICT)
class ScheduledView(TypedDict):
    """One of the caller's pending scheduled messages."""

    scheduledMessageId: str
    conversationId: str
    receiverId: str
    messageType: Literal["text"]
    content: str
    scheduledAt: MaybeTimestamp
    status: Literal["pending", "sending", "sent", "cancelled", "failed"]
    createdAt: MaybeTimestamp
    metadata: NotRequired[dict[str, Any]]


@with_config(STRICT)
class CancelledView(TypedDict):
    scheduledMessageId: str
    status: Literal["cancelled"]


# -- care teams (#18)
@with_config(STRICT)
class MemberView(TypedDict):
    """One membership period of a care team; `leftAt` null while they are in it."""

    userId: str
    joinedAt: MaybeTimestamp
    leftAt: MaybeTimestamp


@with_config(STRICT)
class ReadByView(TypedDict):
    """A care-team member's read receipt."""

    userId: str
    readAt: MaybeTimestamp


@with_config(STRICT)
class DeliveredToView(TypedDict):
    """A care-team member's delivery receipt."""

    userId: str
    deliveredAt: MaybeTimestamp
