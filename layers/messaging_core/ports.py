"""The core's interfaces to the world; each has an in-memory twin for tests and `make run`."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from .doctor_records import ActivityRow, Template
from .models import (
    AuditRecord,
    Conversation,
    ConversationType,
    LastMessage,
    Member,
    Message,
    MessageVersion,
    PendingEvent,
    Reaction,
    ScheduledMessage,
    ScheduledStatus,
    Upload,
    UserProfile,
    UserType,
    Window,
)


class ConversationRepository(Protocol):
    async def get_or_create_conversation(self, conv: Conversation) -> tuple[Conversation, bool]: ...
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...
    async def find_conversation_between(self, a: str, b: str) -> Conversation | None: ...
    async def list_conversations(
        self, user_id: str, conversation_type: ConversationType | None, skip: int, limit: int
    ) -> tuple[list[Conversation], int]: ...
    async def conversation_ids_for(self, user_id: str) -> list[str]: ...
    async def partners_of(self, user_id: str) -> list[str]: ...
    async def get_conversations(self, conversation_ids: Sequence[str]) -> list[Conversation]:
        """The given conversations, most recent activity first."""

    async def allocate_seq(self, conversation_id: str, floor: int = 0) -> int:
        """Next sequence number, above `floor` (the highest seen in a collision)."""

    async def max_seq(self, conversation_id: str) -> int: ...
    async def record_message(
        self, conversation_id: str, last: LastMessage, receiver_id: str, at: datetime
    ) -> None: ...
    async def set_last_message(self, conversation_id: str, last: LastMessage | None) -> None: ...
    async def mark_last_message_read(
        self, conversation_id: str, message_ids: Sequence[str]
    ) -> None: ...


class MessageRepository(Protocol):
    async def insert_message(self, message: Message) -> None:
        """Store a new message; raise DuplicateKey when its client key already exists."""

    async def get_message(self, message_id: str) -> Message | None: ...
    async def find_by_client_key(self, sender_id: str, temp_id: str) -> Message | None: ...
    async def list_messages(
        self,
        conversation_id: str,
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        """Newest first, or oldest first when `after_seq` is given (catch-up)."""

    async def latest_visible_message(self, conversation_id: str) -> Message | None: ...
    async def unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        """Unread messages addressed to `user_id`, per conversation (counted, never drifting)."""

    async def unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]: ...
    async def mark_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        """Mark the unread ones read; return how many changed (exact under concurrency)."""

    async def undelivered_for(
        self, receiver_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]: ...
    async def mark_delivered(self, message_id: str, at: datetime, event: PendingEvent) -> bool: ...
    async def mark_deleted(
        self, message_id: str, by: str, at: datetime, event: PendingEvent
    ) -> bool: ...
    async def search_messages(
        self, conversation_ids: Sequence[str], tokens: Sequence[str], skip: int, limit: int
    ) -> tuple[list[Message], int]: ...
    async def pending_events(self, older_than: datetime, limit: int) -> list[PendingEvent]: ...
    async def ack_events(self, event_ids: Sequence[str]) -> None: ...
    async def count_pending_events(self) -> int: ...


class AuditRepository(Protocol):
    """The access audit trail: append and read only; no update or delete exists (audit.py)."""

    async def append_audit(self, record: AuditRecord, event: PendingEvent) -> None:
        """Store the record and its pending `audit.access` event (acked like any event)."""

    async def audit_trail(
        self, conversation_id: str, skip: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        """A conversation's records, newest first, and their total."""

    async def audit_after(
        self, cursor: tuple[datetime, str] | None, until: datetime, limit: int
    ) -> list[AuditRecord]:
        """Records after `cursor` (at, id) and at or before `until`, in that order."""

    async def audit_archive_cursor(self) -> tuple[datetime, str] | None: ...
    async def set_audit_archive_cursor(self, at: datetime, record_id: str) -> None: ...


class RetentionRepository(Protocol):
    """Legal holds and the purge's queries (retention.py)."""

    async def set_legal_hold(self, conversation_id: str, reason: str, at: datetime) -> None: ...
    async def lift_legal_hold(self, conversation_id: str) -> bool: ...
    async def held_conversations(self) -> list[str]: ...
    async def expired_messages(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        """Messages created before `before`, outside the `exclude`d conversations."""

    async def erase_messages(self, message_ids: Sequence[str]) -> int: ...
    async def deleted_with_content(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        """Messages soft-deleted before `before` whose content is not erased yet."""

    async def erase_content(self, message_ids: Sequence[str], at: datetime) -> int: ...
    async def stash_events(self, events: Sequence[PendingEvent]) -> None:
        """Events with no document of their own (a purge): pending until acked."""


class CareTeamRepository(Protocol):
    """Care teams (#18): membership, reads within membership periods, receipts per member."""

    async def set_membership(
        self,
        conversation_id: str,
        participants: Sequence[str],
        participant_types: dict[str, UserType],
        members: Sequence[Member],
        at: datetime,
        version: int,
    ) -> bool:
        """Write a new membership if it is still at `version` (then version + 1); else False."""

    async def list_messages_within(
        self,
        conversation_id: str,
        windows: Sequence[Window],
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        """As list_messages, only messages created within one of the windows."""

    async def team_unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]: ...
    async def team_unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]: ...
    async def mark_member_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        """The reader's receipt on each message still unread by them; how many changed."""

    async def team_undelivered_for(
        self, user_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]: ...
    async def mark_member_delivered(
        self, message_id: str, user_id: str, at: datetime, event: PendingEvent
    ) -> bool: ...
    async def drop_member_pending(self, conversation_id: str, user_id: str) -> None: ...
    async def care_teams_of(self, user_id: str) -> list[Conversation]:
        """Every care team the user is or was a member of."""

    async def search_messages_within(
        self,
        scopes: Sequence[tuple[str, Sequence[Window] | None]],
        tokens: Sequence[str],
        skip: int,
        limit: int,
    ) -> tuple[list[Message], int]:
        """As search_messages; a conversation with windows matches only within them."""


class UserRepository(Protocol):
    async def remember_user(self, profile: UserProfile) -> None: ...
    async def get_user(self, user_id: str) -> UserProfile | None: ...


# -- issue #16 part A: edits and reactions, each a compare-and-set on the message
class MessageActionRepository(Protocol):
    async def edit_message(
        self,
        message_id: str,
        expected_versions: int,
        content: str,
        search_tokens: Sequence[str],
        at: datetime,
        previous: MessageVersion,
        event: PendingEvent,
    ) -> bool:
        """Replace the text, keeping `previous` in `versions`; False when the message is deleted
        or no longer holds `expected_versions` earlier texts (another edit won)."""

    async def edit_last_message(self, conversation_id: str, message_id: str, content: str) -> None:
        """The conversation's preview follows an edit, if it still shows that message."""

    async def set_reactions(
        self, message_id: str, expected_rev: int, reactions: Sequence[Reaction], event: PendingEvent
    ) -> bool:
        """Store the new reaction list; False when deleted or `reaction_rev` moved meanwhile."""


# -- Doctors' tools (#17): message templates and the rows of response analytics.
class TemplateRepository(Protocol):
    """The `templates` collection: every query names the owner, so no doctor reaches another's."""

    async def list_templates(self, owner_id: str, limit: int) -> list[Template]:
        """The owner's templates, most recently changed first."""

    async def count_templates(self, owner_id: str) -> int: ...
    async def insert_template(self, template: Template) -> None: ...
    async def get_template(self, template_id: str, owner_id: str) -> Template | None: ...
    async def update_template(
        self, template_id: str, owner_id: str, title: str, content: str, at: datetime
    ) -> Template | None:
        """The template as changed, or None when the owner has no such template."""

    async def delete_template(self, template_id: str, owner_id: str) -> bool: ...


class ActivityRepository(Protocol):
    async def activity_rows(
        self, conversation_ids: Sequence[str], start: datetime, end: datetime, limit: int
    ) -> list[ActivityRow]:
        """Messages of these conversations created in [start, end), projected (no content)."""


class Store(
    ConversationRepository,
    MessageRepository,
    UserRepository,
    AuditRepository,
    RetentionRepository,
    MessageActionRepository,  # issue #16 part A
    CareTeamRepository,
    TemplateRepository,  # doctors' tools (#17)
    ActivityRepository,  # doctors' tools (#17)
    Protocol,
):
    async def ensure_indexes(self) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class UserDirectory(Protocol):
    async def remember(self, profile: UserProfile) -> None: ...
    async def get_profile(self, user_id: str) -> UserProfile | None:
        """A profile to show (name, photo): degrades to what is known, never fails a request."""

    async def lookup(self, user_id: str) -> UserProfile | None:
        """The authoritative answer, for authorization: None when the user is unknown; raises
        Unavailable when the directory cannot answer. Never cached, never guessed."""

    async def get_profiles(self, user_ids: Sequence[str]) -> dict[str, UserProfile]: ...


class PresenceStore(Protocol):
    async def is_online(self, user_id: str) -> bool: ...
    async def online_among(self, user_ids: Sequence[str]) -> set[str]: ...
    async def online_count(self) -> int: ...


class ConnectionPresence(PresenceStore, Protocol):
    """The socket tier's side of presence: it registers the connections it holds."""

    async def connect(self, user_id: str, sid: str) -> bool:
        """Register a socket; True when the user just came online (their first socket)."""

    async def disconnect(self, user_id: str, sid: str, *, leaving: bool = False) -> bool:
        """Forget a socket; True when the user just went offline (their last socket) and the
        caller announces it. `leaving`: the socket's task is draining; a presence shared by
        several tasks may leave the announcement to them (False then), to be skipped if the
        user connects again meanwhile."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[PendingEvent]) -> None:
        """Publish and confirm, or raise; the caller keeps unconfirmed events pending."""

    async def close(self) -> None: ...


class RealtimeNotifier(Protocol):
    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None: ...


class GroupNotifier(RealtimeNotifier, Protocol):
    """Care teams (#18): one event to several users, published once per task holding any."""

    async def emit_to_users(
        self, user_ids: Sequence[str], event: str, data: dict[str, Any]
    ) -> None: ...


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        """Count one action; False when `key` is over `limit` in the window."""


class RevocationStore(Protocol):
    """Ended sessions: a per-user "issued before T is invalid" mark and a `jti` deny-list."""

    async def marks(self, user_id: str, token_id: str | None) -> tuple[float | None, bool]:
        """The user's not-before mark (epoch seconds) and whether `token_id` is denied: one read.

        Raises Unavailable when the marks cannot be read (the caller refuses the token)."""

    async def revoke_user(self, user_id: str, not_before: float, keep_seconds: int) -> None: ...
    async def deny_token(self, token_id: str, keep_seconds: int) -> None: ...


class FileStore(Protocol):
    """Attachment storage (S3): presigned upload in, checks, presigned download out."""

    async def presigned_upload(
        self, key: str, mime: str, max_size: int, ttl_seconds: int
    ) -> dict[str, Any]: ...
    async def stat(self, key: str) -> tuple[int, str] | None:
        """(size, content type) of a stored object, or None when it does not exist."""

    async def read_head(self, key: str, size: int) -> bytes: ...
    async def put(self, key: str, data: bytes, mime: str) -> None: ...
    async def copy(self, source: str, target: str) -> None:
        """Server-side copy (type kept, tagged pending, encrypted); NotFound when source is gone."""

    async def delete(self, key: str) -> None: ...
    async def erase(self, key: str) -> None:
        """Remove the object and every version of it (the purge); a missing key is no error."""

    async def set_state(self, key: str, state: str) -> None: ...
    async def download_url(self, key: str, mime: str) -> str:
        """A short-lived GET under a neutral name (`attachment.<ext>`): never the file's name."""


class UploadRepository(Protocol):
    """Keys handed out for presigned uploads: who may use each one, and that it is used once."""

    async def record_upload(self, upload: Upload) -> None: ...
    async def get_upload(self, key: str) -> Upload | None: ...
    async def claim_upload(self, key: str) -> bool:
        """Mark a key used; False when it already was (atomic, also across processes)."""

    async def is_claimed(self, key: str) -> bool:
        """Whether the key was used (its object is removed once confirmed: 409, not 404)."""


# --- Scheduled messages (issue #16 B) ---------------------------------------------------------
class ScheduledRepository(Protocol):
    """Messages waiting for their time; each is claimed by one worker at a time (a lease)."""

    async def insert_scheduled(self, item: ScheduledMessage) -> None:
        """Store it; raise DuplicateKey when its client key (sender + tempId) already exists."""

    async def scheduled_by_client_key(
        self, sender_id: str, temp_id: str
    ) -> ScheduledMessage | None: ...
    async def get_scheduled(self, scheduled_id: str) -> ScheduledMessage | None: ...
    async def pending_of(
        self, sender_id: str, skip: int, limit: int
    ) -> tuple[list[ScheduledMessage], int]:
        """The sender's pending ones, soonest first, and their total."""

    async def cancel_scheduled(self, scheduled_id: str, sender_id: str) -> bool:
        """pending -> cancelled, atomically; False when it is not (or no longer) pending."""

    async def claim_due(self, now: datetime, lease_until: datetime) -> ScheduledMessage | None:
        """Take one due message (pending, or `sending` with its lease expired): -> sending."""

    async def finish_scheduled(
        self, scheduled_id: str, status: ScheduledStatus, at: datetime
    ) -> None:
        """sending -> sent (or failed): the end of its life."""
