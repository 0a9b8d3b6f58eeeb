"""The access trail's copy in the archive bucket: in order, once, resumable (issue #15)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from messaging_core import audit
from messaging_core.audit_archive import ARCHIVE_LAG, archive_once
from messaging_core.clock import utcnow
from messaging_core.core import Core


class Sink:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    async def put(self, key: str, body: bytes) -> None:
        self.puts += 1
        self.objects[key] = body


def archived_ids(sink: Sink) -> list[str]:
    return [
        json.loads(line)["eventId"]
        for body in sink.objects.values()
        for line in body.decode().splitlines()
    ]


async def some_records(core: Core, n: int, cast: Any) -> list[str]:
    ids = []
    for i in range(n):
        rec = await audit.record(
            core, cast.doctor.id, "doctor", "history.read", "a" * 24, [f"{i:024x}"]
        )
        ids.append(rec.id)
    return ids


async def test_records_are_copied_in_order_once_after_the_lag(core: Core, cast: Any) -> None:
    ids = await some_records(core, 5, cast)
    sink = Sink()
    # Too young: left for a later run
    assert await archive_once(core, sink, now=utcnow()) == 0
    assert sink.objects == {}
    later = utcnow() + ARCHIVE_LAG + timedelta(seconds=1)
    assert await archive_once(core, sink, now=later, batch=2) == 5
    assert archived_ids(sink) == ids
    assert len(sink.objects) == 3
    # Each line is the audit.access record: ids, never content
    line = json.loads(next(iter(sink.objects.values())).decode().splitlines()[0])
    assert line["action"] == "history.read"
    assert line["actorId"] == cast.doctor.id
    # Idempotent: nothing new, nothing re-sent
    assert await archive_once(core, sink, now=later) == 0
    assert sink.puts == 3
    # New records go out next time, after the others
    more = await some_records(core, 1, cast)
    assert await archive_once(core, sink, now=utcnow() + ARCHIVE_LAG * 2) == 1
    assert archived_ids(sink)[-1] == more[0]


async def test_a_run_that_dies_before_moving_its_cursor_sends_the_same_object_again(
    core: Core, cast: Any
) -> None:
    ids = await some_records(core, 3, cast)
    later = utcnow() + ARCHIVE_LAG * 2
    real = core.store.set_audit_archive_cursor

    async def crash(*_: Any) -> None:
        raise ConnectionError("died after the upload")

    core.store.set_audit_archive_cursor = crash  # type: ignore[method-assign]
    sink = Sink()
    with pytest.raises(ConnectionError):
        await archive_once(core, sink, now=later)
    core.store.set_audit_archive_cursor = real  # type: ignore[method-assign]
    assert await archive_once(core, sink, now=later) == 3
    # Same key both times: one object, every record once
    assert sink.puts == 2
    assert len(sink.objects) == 1
    assert archived_ids(sink) == ids
