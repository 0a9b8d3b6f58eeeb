"""Retention, legal hold and the purge (issue #15): erased past the limits, held untouched,
idempotent, resumable after a crash mid-batch. The clock is the `now` each run is given."""

from datetime import timedelta
from typing import Any

import pytest
from messaging_core import messages, retention
from messaging_core.access import conversation_for
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.clock import utcnow
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Invalid
from messaging_core.models import Attachment, Principal
from messaging_core.store.memory import MemoryStore

from tests.conftest import make_settings

SECRET = "resultat de biopsie"
OPERATOR = "dpo@hopital.example"


async def a_core(**settings: Any) -> Core:
    core = await build_core(make_settings(**settings), store=MemoryStore())
    core.files = MemoryFileStore()
    return core


async def a_thread(core: Core, n_text: int = 1) -> tuple[str, list[str], str, Principal]:
    """A conversation with `n_text` texts and one file; returns (conv, ids, file key, patient)."""
    patient = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient", "P")
    doctor = Principal("673a1b2c3d4e5f6a7b8c9d0e", "doctor", "D")
    for who in (patient, doctor):
        await core.identify(who)
    from messaging_core import conversations

    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    conv_id = opened.conversation["conversationId"]
    conv = await conversation_for(core, patient, conv_id)
    ids = []
    for i in range(n_text):
        sent = await messages.store_message(
            core, patient, conv, receiver_id=None, message_type="text", content=f"{SECRET} {i}"
        )
        ids.append(sent.message["id"])
    key = f"files/{conv_id}/scan.png"
    assert isinstance(core.files, MemoryFileStore)
    await core.files.put(key, b"\x89PNG....", "image/png")
    att = Attachment(file_name="biopsie.png", file_size=8, mime_type="image/png", s3_key=key)
    sent = await messages.store_message(
        core, patient, conv, receiver_id=None, message_type="image", content="", attachment=att
    )
    ids.append(sent.message["id"])
    return conv_id, ids, key, patient


def files(core: Core) -> MemoryFileStore:
    assert isinstance(core.files, MemoryFileStore)
    return core.files


def purged_events(core: Core) -> list[dict[str, Any]]:
    return [e.payload for e in core.publisher.events if e.event_type == "message.purged"]  # type: ignore[attr-defined]


async def test_messages_past_retention_are_erased_with_their_files_and_recorded() -> None:
    core = await a_core(retention_days=30)
    conv, ids, key, _ = await a_thread(core)
    # Not yet: 29 days later nothing goes
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=29))
    assert report.expired == 0
    assert await core.store.get_message(ids[0]) is not None
    # Past retention: rows and the file (every version) are gone
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=31))
    assert (report.expired, report.files) == (2, 1)
    for mid in ids:
        assert await core.store.get_message(mid) is None
    assert files(core).erased == [key]
    assert key not in files(core).objects
    # The conversation's preview no longer holds the erased text
    assert (await core.store.get_conversation(conv)).last_message is None  # type: ignore[union-attr]
    # Recorded: the access trail (ids, no content) and a Kafka event with ids only
    trail, _ = await core.store.audit_trail(conv, 0, 100)
    purge = [r for r in trail if r.action == "message.purge"]
    assert len(purge) == 1
    assert purge[0].message_ids == ids
    assert purge[0].reason == "retention"
    [event] = purged_events(core)
    assert event["messageIds"] == ids
    assert event["conversationId"] == conv
    assert SECRET not in repr(event)
    assert "biopsie" not in repr(purge)


async def test_unset_retention_keeps_everything() -> None:
    core = await a_core()
    _, ids, _, _ = await a_thread(core)
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=365 * 30))
    assert report.expired == 0
    assert all([await core.store.get_message(m) for m in ids])


async def test_a_held_conversation_is_untouched_until_the_hold_is_lifted() -> None:
    core = await a_core(retention_days=1, deleted_content_purge_days=0)
    conv, ids, key, patient = await a_thread(core, n_text=2)
    await messages.delete_message(core, patient, ids[0])
    # When an operator holds it, with a reason
    await retention.set_legal_hold(core, OPERATOR, conv, "litige 2026-114")
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=400))
    # Then nothing in it is purged: rows, deleted content, file
    assert report == retention.PurgeReport(0, 0, 0)
    for mid in ids:
        assert await core.store.get_message(mid) is not None
    assert key in files(core).objects
    kept = await core.store.get_message(ids[0])
    assert kept is not None
    assert kept.content.startswith(SECRET)
    # Each change is audited with the operator and the reason
    await retention.lift_legal_hold(core, OPERATOR, conv, "litige clos")
    trail, _ = await core.store.audit_trail(conv, 0, 100)
    changes = [(r.action, r.actor_id, r.reason, r.channel) for r in reversed(trail)][-2:]
    assert changes == [
        ("legal_hold.set", OPERATOR, "litige 2026-114", "operator"),
        ("legal_hold.lift", OPERATOR, "litige clos", "operator"),
    ]
    # Lifted: the next run purges it
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=400))
    assert report.expired == 3
    assert key not in files(core).objects


async def test_a_hold_needs_a_reason_and_a_real_conversation_id() -> None:
    core = await a_core()
    with pytest.raises(Invalid):
        await retention.set_legal_hold(core, OPERATOR, "673a1b2c3d4e5f6a7b8c9d99", "  ")
    with pytest.raises(Invalid):
        await retention.set_legal_hold(core, OPERATOR, "not-an-id", "why")
    assert await core.store.held_conversations() == []


async def test_soft_deleted_content_and_file_are_erased_after_the_delay_row_and_audit_stay() -> (
    None
):
    core = await a_core(deleted_content_purge_days=30)
    conv, ids, key, patient = await a_thread(core)
    text_id, file_id = ids
    await messages.delete_message(core, patient, text_id)
    await messages.delete_message(core, patient, file_id)
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=29))
    assert report.content_erased == 0
    assert key in files(core).objects
    report = await retention.purge_once(core, now=utcnow() + timedelta(days=31))
    assert (report.content_erased, report.files, report.expired) == (2, 1, 0)
    for mid in ids:
        row = await core.store.get_message(mid)
        assert row is not None
        assert row.is_deleted
        assert row.content == ""
        assert row.attachment is None
        assert row.search_tokens == []
    assert key not in files(core).objects
    assert files(core).erased == [key]
    trail, _ = await core.store.audit_trail(conv, 0, 100)
    assert [r.action for r in trail].count("message.delete") == 2  # the audit stays
    # Idempotent: a second run finds nothing and records nothing
    before = len(trail)
    again = await retention.purge_once(core, now=utcnow() + timedelta(days=31))
    assert again == retention.PurgeReport(0, 0, 0)
    assert (await core.store.audit_trail(conv, 0, 100))[1] == before
    assert len(purged_events(core)) == 1


async def test_a_purge_that_dies_mid_batch_resumes_and_finishes() -> None:
    core = await a_core(retention_days=1, purge_batch=2)
    keys = []
    conv, ids, key, _ = await a_thread(core, n_text=0)
    keys.append(key)
    # Five messages with files in all, purged two at a time
    c = await conversation_for(core, Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient"), conv)
    patient = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient")
    for i in range(4):
        k = f"files/{conv}/{i}.png"
        await files(core).put(k, b"\x89PNG....", "image/png")
        att = Attachment(file_name=f"{i}.png", file_size=8, mime_type="image/png", s3_key=k)
        sent = await messages.store_message(
            core, patient, c, receiver_id=None, message_type="image", content="", attachment=att
        )
        ids.append(sent.message["id"])
        keys.append(k)
    # Given storage that fails on the third file (a crash in the second batch)
    real_erase = files(core).erase
    calls = {"n": 0}

    async def flaky(k: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("storage went away")
        await real_erase(k)

    files(core).erase = flaky  # type: ignore[method-assign]
    later = utcnow() + timedelta(days=2)
    with pytest.raises(ConnectionError):
        await retention.purge_once(core, now=later)
    # Then the first batch is gone, and no row outlived a file it names
    remaining = [m for m in ids if await core.store.get_message(m) is not None]
    assert len(remaining) == 3
    for mid in remaining:
        row = await core.store.get_message(mid)
        assert row is not None
        assert row.attachment is not None
    # When the next run comes, it finishes the job
    files(core).erase = real_erase  # type: ignore[method-assign]
    report = await retention.purge_once(core, now=later)
    assert report.expired == 3
    assert all([await core.store.get_message(m) is None for m in ids])
    assert not any(k in files(core).objects for k in keys)


def test_no_route_can_set_a_hold() -> None:
    # Holds are an operator path: no REST route (patient or doctor token) mentions them.
    from functions.local_app import create_local_app

    paths = [getattr(r, "path", "") for r in create_local_app().routes]
    assert paths
    assert not [p for p in paths if "hold" in p or "purge" in p]


def test_the_scheduled_purge_lambda_reports_counts_only() -> None:
    # The handler runs on its own loop (as in Lambda), on a Core with one deleted message due.
    import asyncio

    from messaging_core.container import set_core

    from functions import purge as purge_fn
    from tests.lambda_events import FakeContext

    async def prepare() -> Core:
        core = await a_core(deleted_content_purge_days=1)
        _, ids, _, patient = await a_thread(core)
        await messages.delete_message(core, patient, ids[0])
        # The handler reads the real clock: the deletion is moved two days back instead.
        row = core.store._messages[ids[0]]  # type: ignore[attr-defined]
        row.deleted_at -= timedelta(days=2)
        return core

    core = purge_fn._loop.run_until_complete(prepare())
    set_core(core)
    try:
        result = purge_fn.handler({}, FakeContext(function_name="purge"))
    finally:
        set_core(None)
    assert result == {"expired": 0, "contentErased": 1, "files": 0}
    assert asyncio.iscoroutinefunction(purge_fn._purge)
