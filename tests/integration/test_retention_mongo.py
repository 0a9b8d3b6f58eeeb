"""The purge and the legal-hold operator path on the real MongoDB-protocol server (issue #15)."""

from datetime import timedelta

import pytest
from messaging_core import messages, retention
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.clock import utcnow
from messaging_core.compliance_admin import main as admin_main
from messaging_core.config import get_settings
from messaging_core.container import build_core
from messaging_core.store.mongo import MongoStore

from tests import servers
from tests.conftest import make_settings
from tests.integration.conftest import drop, open_mongo_store
from tests.unit.test_retention import a_thread

pytestmark = pytest.mark.integration


async def test_retention_hold_and_deleted_content_on_mongo() -> None:
    store, db_name = await open_mongo_store()
    try:
        core = await build_core(
            make_settings(retention_days=30, deleted_content_purge_days=7), store=store
        )
        core.files = MemoryFileStore()
        held, held_ids, held_key, _ = await a_thread(core)
        # A second pair of users: a second conversation, not held
        await retention.set_legal_hold(core, "dpo", held, "litige")
        assert await store.held_conversations() == [held]
        # Deleted 10 days ago (by the clock given to the purge): content and file erased
        from messaging_core.models import Principal

        doctor2 = Principal("673a1b2c3d4e5f6a7b8c9d1f", "doctor", "D2")
        patient = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient", "P")
        await core.identify(doctor2)
        from messaging_core import conversations

        other = await conversations.open_conversation(core, patient, doctor2.id, "doctor")
        other_id = other.conversation["conversationId"]
        from messaging_core.inputs import SendMessageIn

        sent = await messages.send_text(core, patient, other_id, SendMessageIn(content="effacez"))
        await messages.delete_message(core, patient, sent.message["id"])
        report = await retention.purge_once(core, now=utcnow() + timedelta(days=10))
        assert (report.content_erased, report.expired) == (1, 0)
        row = await store.get_message(sent.message["id"])
        assert row is not None
        assert row.is_deleted
        assert row.content == ""
        # Idempotent on the real server
        again = await retention.purge_once(core, now=utcnow() + timedelta(days=10))
        assert again == retention.PurgeReport(0, 0, 0)
        # Past retention: the unheld conversation's rows go, the held one's stay
        report = await retention.purge_once(core, now=utcnow() + timedelta(days=31))
        assert report.expired == 1
        assert await store.get_message(sent.message["id"]) is None
        for mid in held_ids:
            assert await store.get_message(mid) is not None
        assert held_key in core.files.objects  # type: ignore[union-attr]
        trail, _ = await store.audit_trail(other_id, 0, 50)
        assert [r.action for r in trail][:2] == ["message.purge", "message.purge"]
    finally:
        await drop(store, db_name)


async def test_the_operator_command_sets_and_lifts_a_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    store, db_name = await open_mongo_store()
    conv = "673a1b2c3d4e5f6a7b8c9d77"
    try:
        monkeypatch.setenv("MONGODB_URI", servers.mongodb_uri())
        monkeypatch.setenv("MONGODB_DB", db_name)
        monkeypatch.setenv("ENVIRONMENT", "development")
        get_settings.cache_clear()
        # The command runs its own event loop (as `make legal-hold` does): run it in a thread
        import asyncio

        args = ["hold", "--conversation-id", conv, "--reason", "litige", "--operator", "dpo"]
        assert await asyncio.to_thread(admin_main, args) == 0
        assert await store.held_conversations() == [conv]
        trail, _ = await store.audit_trail(conv, 0, 10)
        assert [(r.action, r.actor_id, r.reason) for r in trail] == [
            ("legal_hold.set", "dpo", "litige")
        ]
        args[0] = "lift"
        assert await asyncio.to_thread(admin_main, args) == 0
        assert await store.held_conversations() == []
        # No reason, no change
        bad = ["hold", "--conversation-id", conv, "--reason", " ", "--operator", "dpo"]
        assert await asyncio.to_thread(admin_main, bad) == 2
        assert await store.held_conversations() == []
        assert isinstance(store, MongoStore)
    finally:
        get_settings.cache_clear()
        await drop(store, db_name)
