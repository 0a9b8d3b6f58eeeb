"""Domain records: what the core reads and writes through its repository port."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

UserType = Literal["patient", "doctor"]
ConversationType = Literal["patient_doctor", "doctor_doctor", "care_team"]
MessageType = Literal["text", "image", "document", "system", "audio", "video"]
USER_TYPES: tuple[str, ...] = ("patient", "doctor")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, from its token's claims."""

    id: str
    role: UserType
    name: str | None = None
    # The token's `exp` (epoch seconds): a socket authenticated by it closes then.
    expires_at: float | None = field(default=None, compare=False)
    # The token's `iat` and `jti`: what a revocation mark is compared with.
    issued_at: float | None = field(default=None, compare=False)
    token_id: str | None = field(default=None, compare=False)


@dataclass(slots=True)
class UserProfile:
    id: str
    type: UserType | None
    name: str | None = None
    profile_photo: str | None = None
    specialty: str | None = None


@dataclass(slots=True)
class LastMessage:
    message_id: str
    content: str
    sender_id: str
    timestamp: datetime
    is_read: bool
    seq: int


@dataclass(slots=True)
class Member:
    """One membership period of a care team (care_teams.py): reads honour it."""

    user_id: str
    joined_at: datetime
    left_at: datetime | None = None
    # The conversation's seq when they joined and left: what they may read is decided on these
    # (the order messages were numbered in), not on clocks that tie within a millisecond.
    joined_seq: int = 0
    left_seq: int | None = None


@dataclass(slots=True)
class Receipt:
    """A care-team member's read or delivery of a message."""

    user_id: str
    at: datetime


@dataclass(slots=True)
class Conversation:
    id: str
    participants: list[str]  # sorted; exactly two, or a care team's current members
    participant_types: dict[str, UserType]
    conversation_type: ConversationType
    created_at: datetime
    updated_at: datetime
    last_message: LastMessage | None = None
    seq: int = 0
    is_active: bool = True
    is_archived: bool = False
    # Care teams (#18): their title, creator and every membership period, left ones included.
    title: str | None = None
    created_by: str | None = None
    members: list[Member] = field(default_factory=list)
    membership_version: int = 0  # each change needs the version it read (no lost update)

    @property
    def is_care_team(self) -> bool:
        return self.conversation_type == "care_team"

    @property
    def pair_key(self) -> str:
        if self.is_care_team:  # unique per team: any number of teams may share members
            return f"team:{self.id}"
        return pair_key(self.participants[0], self.participants[1])

    def other(self, user_id: str) -> str:
        return self.participants[1] if self.participants[0] == user_id else self.participants[0]

    def has(self, user_id: str) -> bool:
        return user_id in self.participants


def pair_key(a: str, b: str) -> str:
    """One key per pair of users, whoever starts the conversation."""
    first, second = sorted((a, b))
    return f"{first}:{second}"


@dataclass(slots=True)
class Attachment:
    file_name: str
    file_size: int
    mime_type: str
    s3_key: str
    # Voice and video messages (#17): the duration the sender declared, in seconds.
    duration_seconds: float | None = None


@dataclass(slots=True)
class PendingEvent:
    """An event recorded with the state change it belongs to, until the publisher confirms it."""

    event_id: str
    event_type: str
    key: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ForwardedFrom:
    """Forwarding (issue #16 B): where a forwarded message came from (ids and time only)."""

    message_id: str
    conversation_id: str
    sender_id: str
    created_at: datetime


@dataclass(slots=True)
class Message:
    id: str
    conversation_id: str
    sender_id: str
    sender_type: UserType
    receiver_id: str
    receiver_type: UserType
    message_type: MessageType
    content: str
    created_at: datetime
    updated_at: datetime
    seq: int
    temp_id: str | None = None
    attachment: Attachment | None = None
    metadata: dict[str, Any] | None = None
    is_read: bool = False
    read_at: datetime | None = None
    is_delivered: bool = False
    delivered_at: datetime | None = None
    is_edited: bool = False
    edited_at: datetime | None = None
    is_deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    search_tokens: list[str] = field(default_factory=list)
    pending_events: list[PendingEvent] = field(default_factory=list)
    # -- issue #16 part A: edits keep every earlier text; reactions (see edits.py, reactions.py)
    versions: list["MessageVersion"] = field(default_factory=list)  # earlier texts, oldest first
    reactions: list["Reaction"] = field(default_factory=list)
    reaction_rev: int = 0  # bumped by each reaction change: the store's compare-and-set
    # Forwarding (issue #16 B): set on a forwarded copy, None otherwise.
    forwarded_from: ForwardedFrom | None = None
    # Care-team messages (#18): receiver_id is "", receipts are per member. `recipients` are the
    # members when it was sent (but the sender); the two pending lists shrink as they read it.
    recipients: list[str] = field(default_factory=list)
    unread_by: list[str] = field(default_factory=list)
    undelivered_to: list[str] = field(default_factory=list)
    read_by: list[Receipt] = field(default_factory=list)
    delivered_to: list[Receipt] = field(default_factory=list)

    @property
    def client_key(self) -> str:
        """Unique per sender: the client's tempId when given, so a retry is not stored twice."""
        return f"{self.sender_id}:{self.temp_id}" if self.temp_id else f"{self.sender_id}#{self.id}"


@dataclass(slots=True)
class Page:
    """A page request: 1-based page number and size."""

    page: int
    limit: int

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True, slots=True)
class HistoryCursor:
    """Where a history page starts: before a message (newest first), or after a message or a
    sequence number (oldest first, the catch-up after a reconnect). None of them: by page."""

    before: object | None = None  # a message id, as the client sent it
    after: object | None = None  # a message id, as the client sent it
    after_seq: int | None = None


@dataclass(slots=True)
class Upload:
    """A presigned upload handed out: for this conversation, to this sender, for this file."""

    key: str
    conversation_id: str
    sender_id: str
    file_name: str
    mime_type: str
    file_size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One access to health data (audit.py): ids and counts only, never content or names."""

    id: str  # also the eventId of its `audit.access` record: consumers dedupe on it
    at: datetime
    actor_id: str
    actor_role: str
    action: str
    conversation_id: str | None
    message_ids: list[str]  # empty beyond audit.MAX_IDS: then only the count
    message_count: int
    channel: str
    request_id: str | None
    outcome: str
    reason: str | None = None  # operator actions (legal hold) say why


# -- issue #16 part A: message edits (versions kept) and reactions
@dataclass(frozen=True, slots=True)
class MessageVersion:
    """A text the message held before an edit, and since when it held it."""

    content: str
    since: datetime  # createdAt for the original text, else the edit that wrote it


@dataclass(slots=True)
class Reaction:
    """One emoji on a message and who put it there, in the order they did."""

    emoji: str
    user_ids: list[str]


# --- Scheduled messages (issue #16 B) ---------------------------------------------------------
ScheduledStatus = Literal["pending", "sending", "sent", "cancelled", "failed"]


@dataclass(slots=True)
class ScheduledMessage:
    """A text message to send at `scheduled_at`; its message takes the same id when sent."""

    id: str
    conversation_id: str
    sender_id: str
    sender_type: UserType
    receiver_id: str
    content: str
    scheduled_at: datetime
    created_at: datetime
    status: ScheduledStatus = "pending"
    metadata: dict[str, Any] | None = None
    # While `sending`: the claim holds until then; past it another worker may take it over.
    lease_until: datetime | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    temp_id: str | None = None  # the client's id: a retried schedule is not stored twice

    @property
    def client_key(self) -> str:
        return f"{self.sender_id}:{self.temp_id}" if self.temp_id else f"{self.sender_id}#{self.id}"


# Care teams (#18): a member's period as message numbers: after `joined_seq`, up to `left_seq`
# included (None while they are still in).
Window = tuple[int, int | None]


def within(seq: int, windows: "list[Window] | None") -> bool:
    """Whether message number `seq` falls in one of the windows (None: no period applies)."""
    if windows is None:
        return True
    return any(start < seq and (end is None or seq <= end) for start, end in windows)
