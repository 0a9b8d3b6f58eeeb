"""Retention, legal hold and the purge job.

- RETENTION_DAYS (unset = keep forever): older messages are erased with their files.
- DELETED_CONTENT_PURGE_DAYS (default 30): a soft-deleted message's content and file are erased;
  its row and its audit records stay.
- A conversation under legal hold is never purged. Holds are set and lifted by operators only
  (`make legal-hold`, never through a patient's or doctor's token), each change audited with its
  reason.

The purge works in batches chosen by state, not by a cursor: a run that dies mid-batch leaves the
rest for the next run, and a repeated run finds nothing left to do (idempotent). Files go first,
then the rows, so no row outlives its file unnoticed; the access record and the Kafka
`message.purged` event (ids only) are written before the erasure they announce, so a crash never
erases anything unrecorded (a retried batch may record it twice: same ids).
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import audit
from .clock import epoch_ms, utcnow
from .core import Core
from .errors import Invalid
from .ids import parse_id
from .messages import _last_of
from .models import Message, PendingEvent

logger = logging.getLogger(__name__)

MESSAGE_PURGED = "message.purged"
SYSTEM_ACTOR = "purge-job"
MAX_REASON = 500
MAX_BATCHES = 10_000  # one run's bound: a run that hits it leaves the rest for the next


@dataclass(frozen=True, slots=True)
class PurgeReport:
    expired: int  # rows erased past RETENTION_DAYS
    content_erased: int  # soft-deleted messages whose content and file were erased
    files: int


async def set_legal_hold(core: Core, operator: str, conversation_id: object, reason: str) -> str:
    """Hold a conversation (nothing in it is purged); audited with the operator and the reason."""
    conv_id, why = _checked(conversation_id, reason)
    await audit.record(
        core, operator, "operator", audit.LEGAL_HOLD_SET, conv_id, channel="operator", reason=why
    )
    await core.store.set_legal_hold(conv_id, why, utcnow())
    return conv_id


async def lift_legal_hold(core: Core, operator: str, conversation_id: object, reason: str) -> bool:
    """Lift a hold; audited likewise. False when the conversation was not held."""
    conv_id, why = _checked(conversation_id, reason)
    await audit.record(
        core, operator, "operator", audit.LEGAL_HOLD_LIFT, conv_id, channel="operator", reason=why
    )
    return await core.store.lift_legal_hold(conv_id)


async def is_held(core: Core, conversation_id: object) -> bool:
    """Whether a conversation is under legal hold (the operator's `status`)."""
    # Holds are few (one per dispute), so the purge's own list answers it.
    return parse_id(conversation_id, "conversationId") in await core.store.held_conversations()


def _checked(conversation_id: object, reason: str) -> tuple[str, str]:
    conv_id = parse_id(conversation_id, "conversationId")
    why = reason.strip()
    if not why:
        raise Invalid("a legal hold change needs a reason")
    return conv_id, why[:MAX_REASON]


def message_purged(conversation_id: str, message_ids: Sequence[str], kind: str) -> PendingEvent:
    """The Kafka event of a purge: ids only."""
    at = utcnow()
    event_id = str(uuid.uuid4())
    return PendingEvent(
        event_id=event_id,
        event_type=MESSAGE_PURGED,
        key=conversation_id,
        payload={
            "eventType": MESSAGE_PURGED,
            "conversationId": conversation_id,
            "messageIds": list(message_ids),
            "purge": kind,  # "retention" (rows erased) or "deleted_content"
            "purgedAt": epoch_ms(at),
            "eventId": event_id,
        },
        created_at=at,
    )


async def purge_once(core: Core, now: datetime | None = None) -> PurgeReport:
    """One run: every batch past the limits, skipping held conversations (bounded)."""
    now = now or utcnow()
    s = core.settings
    store = core.store
    expired = content = files = 0
    if s.retention_days is not None:
        before = now - timedelta(days=s.retention_days)
        for _ in range(MAX_BATCHES):
            # Holds are read again for every batch: one set mid-run protects the rest of it.
            batch = await store.expired_messages(
                before, await store.held_conversations(), s.purge_batch
            )
            if not batch:
                break
            files += await _announce_and_erase_files(core, batch, "retention")
            expired += await store.erase_messages([m.id for m in batch])
            await _refresh_last_messages(core, batch)
    before = now - timedelta(days=s.deleted_content_purge_days)
    for _ in range(MAX_BATCHES):
        batch = await store.deleted_with_content(
            before, await store.held_conversations(), s.purge_batch
        )
        if not batch:
            break
        files += await _announce_and_erase_files(core, batch, "deleted_content")
        content += await store.erase_content([m.id for m in batch], now)
    if expired or content:
        logger.info(
            "purge erased messages",
            extra={"expired": expired, "content_erased": content, "files": files},
        )
    return PurgeReport(expired, content, files)


async def _announce_and_erase_files(core: Core, batch: list[Message], kind: str) -> int:
    by_conv: dict[str, list[str]] = {}
    for m in batch:
        by_conv.setdefault(m.conversation_id, []).append(m.id)
    events = [message_purged(c, ids, kind) for c, ids in by_conv.items()]
    await core.store.stash_events(events)
    for conv_id, ids in by_conv.items():
        await audit.record(
            core, SYSTEM_ACTOR, "system", audit.MESSAGE_PURGE, conv_id, ids, channel="job",
            reason=kind,
        )  # fmt: skip
    await core.dispatch(events)
    erased = 0
    for m in batch:
        if m.attachment is not None:
            if core.files is None:
                # Fail closed: never drop the row that names a file we could not erase.
                raise RuntimeError("no file store: cannot erase attachments")
            await core.files.erase(m.attachment.s3_key)
            erased += 1
    return erased


async def _refresh_last_messages(core: Core, batch: list[Message]) -> None:
    """A conversation's preview must not keep the text of an erased message."""
    for conv_id in {m.conversation_id for m in batch}:
        latest = await core.store.latest_visible_message(conv_id)
        conv = await core.store.get_conversation(conv_id)
        if conv is None or conv.last_message is None:
            continue
        if latest is None or conv.last_message.message_id != latest.id:
            await core.store.set_last_message(conv_id, _last_of(latest) if latest else None)


async def run_purge(core: Core, interval: float, stop_event: asyncio.Event) -> None:
    """Purge every `interval` seconds until `stop_event` is set; failures are logged, retried."""
    while not stop_event.is_set():
        try:
            await purge_once(core)
        except Exception as exc:
            logger.warning("purge failed; retrying", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)


def start_background_purge(core: Core) -> "asyncio.Task[None]":
    """`make run`: the purge in this process, every PURGE_INTERVAL_SECONDS."""
    return asyncio.get_running_loop().create_task(
        run_purge(core, core.settings.purge_interval_seconds, asyncio.Event()), name="purge"
    )
