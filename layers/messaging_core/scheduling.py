"""Scheduled messages (issue #16 B): a text message sent at a later time, through the one send path.

Scheduling checks everything a send checks (content, participant, receiver, budget) and stores
the message in its own collection, `pending`. At its time a worker (a background task of the
long-lived process under `make run`, a one-minute scheduled Lambda in AWS) claims it atomically
(pending -> sending, with a lease) and sends it with `messages.store_message` under the
scheduled id: receipts, events and push as for any send. A worker that dies after the send but
before marking it `sent` leaves the lease to expire; the next worker finds the message already
stored under that id and only marks it, so it is never sent twice and never lost.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import audit
from .access import conversation_for, receiver_of
from .budgets import spend
from .clock import iso, utcnow
from .core import Core
from .errors import Conflict, DuplicateKey, Forbidden, Invalid, NotFound, RateLimited, Unavailable
from .ids import new_id, parse_id
from .inputs import SendMessageIn, check_metadata, check_offset
from .messages import Sent, checked_text, send_text, store_message, template_text
from .models import Page, Principal, ScheduledMessage
from .views import JSON, pagination

if TYPE_CHECKING:  # types only: the ports are not imported at run time (cold start, #19)
    from .ports import ScheduledRepository

logger = logging.getLogger(__name__)

SCHEDULED_READ = "scheduled.read"  # the audit action of a list of pending scheduled messages
SCHEDULED_SENT_EVENT = "scheduled_message_sent"  # socket event to the sender's devices
# A message whose send failed this many times (a broken database, not a rule) is given up,
# `failed`, rather than retried forever.
MAX_ATTEMPTS = 5
DEFAULT_BATCH = 100


@dataclass(frozen=True, slots=True)
class Scheduled:
    """What the sender gets back: the id (its message will carry it too) and the time."""

    scheduled_id: str
    scheduled_at: datetime

    def view(self) -> JSON:
        return {"scheduledMessageId": self.scheduled_id, "scheduledAt": iso(self.scheduled_at)}


async def send_or_schedule(
    core: Core, user: Principal, conversation_id: object, data: SendMessageIn
) -> Sent | Scheduled:
    """The REST send and the socket `send_message`: now, or at `scheduledAt` when given."""
    if data.scheduledAt is None:
        return await send_text(core, user, conversation_id, data)
    return await schedule_message(core, user, conversation_id, data)


def _repo(core: Core) -> "ScheduledRepository":
    if core.scheduled is None:
        raise Unavailable("Scheduled messages are not available")
    return core.scheduled


def checked_time(core: Core, value: object, now: datetime) -> datetime:
    """ISO 8601 with a time zone, at least the minimum lead time and at most N days ahead."""
    if not isinstance(value, str):
        raise Invalid("scheduledAt must be an ISO 8601 date-time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("scheduledAt must be an ISO 8601 date-time") from None
    if when.tzinfo is None:  # an hour off is not a guess we make about a patient's message
        raise Invalid("scheduledAt must carry a time zone (for example 2026-01-31T09:00:00Z)")
    s = core.settings
    if when < now + timedelta(seconds=s.scheduled_min_lead_seconds):
        lead = int(s.scheduled_min_lead_seconds)
        raise Invalid(f"scheduledAt must be at least {lead} seconds ahead")
    if when > now + timedelta(days=s.scheduled_max_days):
        raise Invalid(f"scheduledAt must be at most {s.scheduled_max_days} days ahead")
    return when.astimezone(now.tzinfo)


async def schedule_message(
    core: Core, user: Principal, conversation_id: object, data: SendMessageIn
) -> Scheduled:
    """Store a text message to send later; every rule of a send is checked now (a template,
    #17, is filled now: the names it holds are the ones at scheduling time)."""
    content = checked_text(core, data) if data.templateId is None else ""
    now = utcnow()
    when = checked_time(core, data.scheduledAt, now)
    metadata = check_metadata(data.metadata)
    conv = await conversation_for(core, user, conversation_id)
    if data.templateId is not None:
        content = await template_text(core, user, conv, data)
    # A care team (#18) has no single receiver: the send fans out to its members at that time.
    other = "" if conv.is_care_team else receiver_of(user, conv, data.receiverId)
    repo = _repo(core)
    if data.tempId:  # a retry of a schedule that was stored: the same answer, nothing new
        earlier = await repo.scheduled_by_client_key(user.id, data.tempId)
        if earlier is not None:
            return Scheduled(earlier.id, earlier.scheduled_at)
    await spend(core, user, "send")  # spent now: the send itself spends nothing more
    _, waiting = await repo.pending_of(user.id, 0, 1)
    if waiting >= core.settings.scheduled_max_pending:
        limit = core.settings.scheduled_max_pending
        raise RateLimited(f"At most {limit} scheduled messages may wait at once")
    item = ScheduledMessage(
        id=new_id(),
        conversation_id=conv.id,
        sender_id=user.id,
        sender_type=user.role,
        receiver_id=other,
        content=content,
        scheduled_at=when,
        created_at=now,
        metadata=metadata,
        temp_id=data.tempId,
    )
    try:
        await repo.insert_scheduled(item)
    except DuplicateKey:  # the same tempId raced in from another request: that one won
        earlier = await repo.scheduled_by_client_key(user.id, data.tempId or "")
        if earlier is None:
            raise Unavailable("Could not schedule the message, please retry") from None
        return Scheduled(earlier.id, earlier.scheduled_at)
    return Scheduled(item.id, when)


def scheduled_view(item: ScheduledMessage) -> JSON:
    view: JSON = {
        "scheduledMessageId": item.id,
        "conversationId": item.conversation_id,
        "receiverId": item.receiver_id,
        "messageType": "text",
        "content": item.content,
        "scheduledAt": iso(item.scheduled_at),
        "status": item.status,
        "createdAt": iso(item.created_at),
    }
    if item.metadata:
        view["metadata"] = item.metadata
    return view


async def list_scheduled(core: Core, user: Principal, page: Page) -> tuple[list[JSON], JSON]:
    """The caller's pending scheduled messages, soonest first (their content: audited)."""
    await spend(core, user, "list")
    check_offset(core.settings, page)
    items, total = await _repo(core).pending_of(user.id, page.skip, page.limit)
    by_conv: dict[str, list[str]] = {}
    for item in items:
        by_conv.setdefault(item.conversation_id, []).append(item.id)
    for conv_id, ids in by_conv.items():
        await audit.record(core, user.id, user.role, SCHEDULED_READ, conv_id, ids)
    return [scheduled_view(i) for i in items], pagination(page.page, page.limit, total)


async def cancel_scheduled(core: Core, user: Principal, scheduled_id: object) -> str:
    """Cancel one of the caller's pending scheduled messages; a retry of a cancel is a success."""
    await spend(core, user, "delete")
    sid = parse_id(scheduled_id, "scheduledMessageId")
    repo = _repo(core)
    item = await repo.get_scheduled(sid)
    if item is None:
        raise NotFound("Scheduled message not found")
    if item.sender_id != user.id:
        raise Forbidden("You can only cancel your own scheduled messages")
    if item.status == "cancelled":
        return sid
    if not await repo.cancel_scheduled(sid, user.id):
        raise Conflict("This scheduled message is being sent or was sent already")
    return sid


async def send_due(
    core: Core, *, batch: int = DEFAULT_BATCH, clock: Callable[[], datetime] = utcnow
) -> int:
    """Send up to `batch` due messages, one claim at a time; return how many were handled."""
    repo = _repo(core)
    lease = timedelta(seconds=core.settings.scheduled_lease_seconds)
    handled = 0
    for _ in range(batch):
        now = clock()
        item = await repo.claim_due(now, now + lease)
        if item is None:
            break
        await _send_one(core, repo, item)
        handled += 1
    return handled


async def _send_one(core: Core, repo: "ScheduledRepository", item: ScheduledMessage) -> None:
    if item.attempts > MAX_ATTEMPTS:
        logger.warning("scheduled message given up", extra={"scheduled_id": item.id})
        await repo.finish_scheduled(item.id, "failed", utcnow())
        return
    user = Principal(id=item.sender_id, role=item.sender_type)
    try:
        # The rules again, at send time: a sender who left the conversation sends nothing.
        conv = await conversation_for(core, user, item.conversation_id)
        sent = await store_message(
            core,
            user,
            conv,
            receiver_id=item.receiver_id,
            message_type="text",
            content=item.content,
            metadata=item.metadata,
            message_id=item.id,
            budget=False,
        )
    except (Forbidden, NotFound, Invalid) as exc:  # a rule refuses it: it never will be sent
        logger.warning(
            "scheduled message refused at its time",
            extra={"scheduled_id": item.id, "error": type(exc).__name__},
        )
        await repo.finish_scheduled(item.id, "failed", utcnow())
        return
    except Exception as exc:  # transient: the lease expires, a later run retries
        logger.warning(
            "scheduled send failed; retried after its lease",
            extra={"scheduled_id": item.id, "error": type(exc).__name__},
        )
        return
    await repo.finish_scheduled(item.id, "sent", utcnow())
    if sent.created:  # a takeover of a message already sent tells no one twice
        payload = {
            "scheduledMessageId": item.id,
            "conversationId": item.conversation_id,
            "message": sent.message,
        }
        await core.notify(item.sender_id, SCHEDULED_SENT_EVENT, payload)


async def run_scheduler(core: Core, interval: float, stop_event: asyncio.Event) -> None:
    """A long-lived process's loop: send what is due every `interval` seconds until stopped."""
    while not stop_event.is_set():
        try:
            await send_due(core)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next tick retries; leases keep claims safe meanwhile
            logger.warning("scheduled send run failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)


def start_background_scheduler(core: Core) -> "asyncio.Task[None]":
    """`make run`: scheduled messages sent by this process, every SCHEDULED_INTERVAL_SECONDS."""
    interval = core.settings.scheduled_interval_seconds
    return asyncio.get_running_loop().create_task(
        run_scheduler(core, interval, asyncio.Event()), name="scheduled-messages"
    )
