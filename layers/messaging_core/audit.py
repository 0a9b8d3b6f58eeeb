"""Access audit trail: who read or changed which messages of a conversation, when, and how.

Every access to health data (a page of history, a search, a `sync`, an attachment link issued,
a `new_message` delivered to a device, a mark-read, a delete, an export, the access log itself)
is recorded by the core function that serves it, so REST and sockets are both covered.

A record holds ids and counts only: no content, no file name, no token, no address. It goes
through the outbox like the Kafka events (store.append_audit writes it to the outbox and to the
append-only `audit` collection, then `core.dispatch` publishes it on the `audit.access` topic;
the relay re-sends whatever a request could not confirm). The store has no update or delete
path for the `audit` collection, and in AWS the application's database user may only insert
into and read it (store/app_user.py).

Recording fails closed: when the record cannot be written, the read is refused (503).

A read the participant rule refuses (403 not a participant, 404 unknown conversation) is recorded
too, once, with `outcome: "denied"` (`conversation_to_read`).
"""

import os
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from .access import conversation_for
from .budgets import spend
from .clock import epoch_ms, iso, utcnow
from .core import Core
from .errors import Forbidden, NotFound
from .ids import new_id, parse_id
from .inputs import check_offset
from .models import AuditRecord, Conversation, Message, Page, PendingEvent, Principal
from .views import JSON, pagination

AUDIT_ACCESS = "audit.access"  # the Kafka topic (with KAFKA_TOPIC_PREFIX) and event type

HISTORY_READ = "history.read"
SEARCH_READ = "search.read"
SYNC_READ = "sync.read"
ATTACHMENT_LINK = "attachment.link"
MESSAGE_DELIVERED = "message.delivered"
CONVERSATION_EXPORT = "conversation.export"
READ_RECEIPT = "message.read_receipt"
MESSAGE_DELETE = "message.delete"
ACCESS_LOG_READ = "access_log.read"
LEGAL_HOLD_SET = "legal_hold.set"
LEGAL_HOLD_LIFT = "legal_hold.lift"
MESSAGE_PURGE = "message.purge"

# A page of at most this many messages is recorded id by id; a larger one by its count only.
MAX_IDS = 100
OUTCOME_SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class AccessContext:
    """Where the current call came from: set once per request or socket event by its edge."""

    channel: str
    request_id: str | None


# "internal" until an edge says otherwise: a record never claims a channel it did not come from.
_INTERNAL = AccessContext("internal", None)
_context: ContextVar[AccessContext | None] = ContextVar("audit_access_context", default=None)


def bind(channel: str, request_id: str | None = None) -> None:
    """Called by each edge (REST middleware, socket event wrapper, operator script, job)."""
    # 32 hex characters as uuid4().hex gave, without building a UUID object on every socket
    # event (issue #19: that was a visible share of a send's CPU).
    _context.set(AccessContext(channel, request_id or os.urandom(16).hex()))


def current() -> AccessContext:
    return _context.get() or _INTERNAL


def audit_event(record: AuditRecord) -> PendingEvent:
    """The `audit.access` record of the topic: the stored record, times in epoch ms."""
    payload = {
        "eventType": AUDIT_ACCESS,
        "eventId": record.id,
        "at": epoch_ms(record.at),
        "actorId": record.actor_id,
        "actorRole": record.actor_role,
        "action": record.action,
        "conversationId": record.conversation_id,
        "messageIds": list(record.message_ids),
        "messageCount": record.message_count,
        "channel": record.channel,
        "requestId": record.request_id,
        "outcome": record.outcome,
    }
    if record.reason is not None:
        payload["reason"] = record.reason
    return PendingEvent(
        event_id=record.id,
        event_type=AUDIT_ACCESS,
        # Keyed like the message events: one conversation's trail stays in order.
        key=record.conversation_id or record.actor_id,
        payload=payload,
        created_at=record.at,
    )


async def record(
    core: Core,
    actor_id: str,
    actor_role: str,
    action: str,
    conversation_id: str | None,
    message_ids: Sequence[str] = (),
    *,
    count: int | None = None,
    channel: str | None = None,
    reason: str | None = None,
    outcome: str = OUTCOME_SUCCESS,
) -> AuditRecord:
    """Write one record (outbox + audit collection), then publish it like any event."""
    entry = _entry(
        actor_id,
        actor_role,
        action,
        conversation_id,
        message_ids,
        count=count,
        channel=channel,
        reason=reason,
        outcome=outcome,
    )
    event = audit_event(entry)
    await core.store.append_audit(entry, event)
    await core.dispatch([event])
    return entry


def _entry(
    actor_id: str,
    actor_role: str,
    action: str,
    conversation_id: str | None,
    message_ids: Sequence[str] = (),
    *,
    count: int | None = None,
    channel: str | None = None,
    reason: str | None = None,
    outcome: str = OUTCOME_SUCCESS,
) -> AuditRecord:
    ctx = current()
    ids = list(dict.fromkeys(message_ids))
    total = len(ids) if count is None else count
    return AuditRecord(
        # ObjectId-shaped: within a process, ties on `at` still sort in the order recorded.
        id=new_id(),
        at=utcnow(),
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        conversation_id=conversation_id,
        message_ids=ids if len(ids) <= MAX_IDS else [],
        message_count=total,
        channel=channel or ctx.channel,
        request_id=ctx.request_id,
        outcome=outcome,
        reason=reason,
    )


async def record_read(
    core: Core, user: Principal, action: str, messages: Iterable[Message], scope: str | None
) -> None:
    """A read of messages: one record per conversation they belong to (a search may span
    several), or one for `scope` when nothing was found; plus one `attachment.link` per
    conversation whose page issued download links."""
    by_conv: dict[str, list[str]] = {}
    links: dict[str, list[str]] = {}
    for m in messages:
        by_conv.setdefault(m.conversation_id, []).append(m.id)
        if m.attachment is not None and not m.is_deleted and core.files is not None:
            links.setdefault(m.conversation_id, []).append(m.id)
    if not by_conv:
        await record(core, user.id, user.role, action, scope)
        return
    for conversation_id, ids in by_conv.items():
        await record(core, user.id, user.role, action, conversation_id, ids)
    for conversation_id, ids in links.items():
        await record(core, user.id, user.role, ATTACHMENT_LINK, conversation_id, ids)


async def record_delivered(core: Core, message: Message) -> None:
    """A `new_message` pushed to the receiver's device(s): the receiver is the actor."""
    event = await write_delivered(core, message, message.receiver_id, message.receiver_type)
    await core.dispatch([event])


async def write_delivered(
    core: Core, message: Message, receiver_id: str, receiver_role: str
) -> PendingEvent:
    """`record_delivered` without its publish: the record is stored (outbox and trail), and the
    caller publishes its event with the message's own (issue #19: one batch per send)."""
    entry = _entry(
        receiver_id,
        receiver_role,
        MESSAGE_DELIVERED,
        message.conversation_id,
        [message.id],
        channel="socket",
    )
    event = audit_event(entry)
    await core.store.append_audit(entry, event)
    return event


async def access_log(core: Core, user: Principal, conversation_id: object, page: Page) -> JSON:
    """Who accessed a conversation, newest first: its participants only; reading it is recorded."""
    await spend(core, user, "history")
    check_offset(core.settings, page)
    conv = await conversation_to_read(core, user, conversation_id, ACCESS_LOG_READ)
    entries, total = await core.store.audit_trail(conv.id, page.skip, page.limit)
    await record(core, user.id, user.role, ACCESS_LOG_READ, conv.id)
    return {
        "entries": [
            {
                "at": iso(e.at),
                "actorId": e.actor_id,
                "actorRole": e.actor_role,
                "action": e.action,
                "channel": e.channel,
                "messageCount": e.message_count,
                "outcome": e.outcome,
            }
            for e in entries
        ],
        "pagination": pagination(page.page, page.limit, total),
    }


# --- Refused reads (issue #15): an attempt the participant rule refuses is on the trail too ---
OUTCOME_DENIED = "denied"


async def conversation_to_read(
    core: Core, user: Principal, conversation_id: object, action: str
) -> Conversation:
    """`conversation_for` for a read of health data: a 403 or 404 leaves one `denied` record.

    Every caller spends the read's own budget before this check, so refused attempts write at
    most that budget's count of records per user and window (no amplification). A malformed id
    is 400 before any look-up and is not recorded: no data was reached, and free text from the
    caller never lands in the trail. When the denied record cannot be written, the refusal is a
    503, as for a granted read.
    """
    conv_id = parse_id(conversation_id, "conversationId")
    try:
        return await conversation_for(core, user, conv_id)
    except (Forbidden, NotFound):
        await record_denied(core, user, action, conv_id)
        raise


async def record_denied(core: Core, user: Principal, action: str, conv_id: str) -> None:
    """The one `denied` record of a refused read (see `conversation_to_read`)."""
    await record(core, user.id, user.role, action, conv_id, outcome=OUTCOME_DENIED)
