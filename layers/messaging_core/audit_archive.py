"""The access trail's copy in the archive bucket (AWS: S3 Object Lock, compliance mode).

The relay (functions/relay.py) copies the `audit` collection into the bucket in order of
(`at`, id), one JSON-lines object per batch, then moves its cursor. Records younger than
ARCHIVE_LAG are left for the next run: a record may be stored a little after its `at` (the
relay re-stores one a crashed request left in the outbox), and the lag keeps the cursor from
passing it. An object's key is a function of its records, so a run that dies between the
upload and the cursor write uploads the same object again (a new version under Object Lock,
same records: at least once, deduplicated by id).
"""

import json
from datetime import datetime, timedelta
from typing import Protocol

from .audit import audit_event
from .clock import utcnow
from .core import Core

ARCHIVE_LAG = timedelta(minutes=10)
MAX_BATCHES = 100  # one run's bound; the next run continues from the cursor


class ArchiveSink(Protocol):
    async def put(self, key: str, body: bytes) -> None:
        """Store one object (never overwritten in place: the bucket is versioned and locked)."""


async def archive_once(
    core: Core, sink: ArchiveSink, *, now: datetime | None = None, batch: int = 500
) -> int:
    """Copy what the cursor has not passed yet, batch by batch; return how many records."""
    until = (now or utcnow()) - ARCHIVE_LAG
    total = 0
    for _ in range(MAX_BATCHES):
        cursor = await core.store.audit_archive_cursor()
        records = await core.store.audit_after(cursor, until, batch)
        if not records:
            break
        lines = [json.dumps(audit_event(r).payload, separators=(",", ":")) for r in records]
        first, last = records[0], records[-1]
        key = f"audit/{first.at:%Y/%m/%d}/{first.id}-{last.id}-{len(records)}.jsonl"
        await sink.put(key, ("\n".join(lines) + "\n").encode())
        await core.store.set_audit_archive_cursor(last.at, last.id)
        total += len(records)
        if len(records) < batch:
            break
    return total
