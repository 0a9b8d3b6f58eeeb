"""The access audit trail: one record per access, with ids and never content (issue #15)."""

import inspect
import re
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from messaging_core import audit, messages
from messaging_core.access import conversation_for
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.core import Core
from messaging_core.models import Attachment, AuditRecord, Page
from messaging_core.relay import relay_pending
from messaging_core.store import memory, mongo

API = "/api/v1/messages"
SECRET_TEXT = "Ma tension est a 18, j'ai peur"
FILE_NAME = "irm-cerveau-jean-dupont.png"


async def trail(core: Core, conversation_id: str) -> list[AuditRecord]:
    """Every stored record of the conversation, oldest first."""
    records, _ = await core.store.audit_trail(conversation_id, 0, 1000)
    return list(reversed(records))


def actions(records: list[AuditRecord]) -> list[str]:
    return [r.action for r in records]


def assert_no_content(record: AuditRecord) -> None:
    flat = repr(asdict(record))
    assert "tension" not in flat
    assert FILE_NAME not in flat
    assert "Bearer" not in flat
    assert "http" not in flat  # no presigned URL either


async def opened(cast: Any, open_conversation: Any, send: Any) -> tuple[str, str]:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, SECRET_TEXT)
    return conv, str(msg["id"])


async def test_a_history_page_is_recorded_once_with_ids_and_no_content(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv, mid = await opened(cast, open_conversation, send)
    before = len(await trail(core, conv))
    # When the doctor reads a page of history over REST, with a request id
    r = await client.get(
        f"{API}/conversations/{conv}/messages",
        headers={**cast.doctor.headers, "X-Request-Id": "req-123"},
    )
    assert r.status_code == 200
    # Then exactly one record, with who, what, where, how, and the ids read
    new = (await trail(core, conv))[before:]
    assert actions(new) == ["history.read"]
    rec = new[0]
    assert (rec.actor_id, rec.actor_role, rec.conversation_id) == (cast.doctor.id, "doctor", conv)
    assert rec.message_ids == [mid]
    assert rec.message_count == 1
    assert (rec.channel, rec.request_id, rec.outcome) == ("rest", "req-123", "success")
    assert_no_content(rec)


async def test_search_sync_read_receipt_and_delete_each_leave_one_record(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv, mid = await opened(cast, open_conversation, send)
    doc = cast.doctor

    async def new_after(before: int) -> list[AuditRecord]:
        return (await trail(core, conv))[before:]

    n = len(await trail(core, conv))
    r = await client.get(f"{API}/search", params={"query": "tension"}, headers=doc.headers)
    assert r.status_code == 200
    assert r.json()["data"]["messages"]
    got = await new_after(n)
    assert actions(got) == ["search.read"]
    assert got[0].message_ids == [mid]
    assert_no_content(got[0])

    # The socket `sync` calls the same core function with its own budget and channel
    n = len(await trail(core, conv))
    audit.bind("socket", "sock-1")
    await messages.catch_up(core, doc.principal, conv, after_seq=0, limit=50)
    got = await new_after(n)
    assert actions(got) == ["sync.read"]
    assert got[0].channel == "socket"
    assert got[0].message_ids == [mid]
    assert got[0].request_id == "sock-1"

    n = len(await trail(core, conv))
    r = await client.put(f"{API}/conversations/{conv}/mark-read", json={}, headers=doc.headers)
    assert r.status_code == 200
    got = await new_after(n)
    assert actions(got) == ["message.read_receipt"]
    assert got[0].message_ids == [mid]
    assert got[0].actor_id == doc.id
    assert got[0].channel == "rest"

    # Marking again changes nothing: no access to record
    n = len(await trail(core, conv))
    await client.put(f"{API}/conversations/{conv}/mark-read", json={}, headers=doc.headers)
    assert await new_after(n) == []

    n = len(await trail(core, conv))
    r = await client.delete(f"{API}/{mid}", headers=cast.patient.headers)
    assert r.status_code == 200
    got = await new_after(n)
    assert actions(got) == ["message.delete"]
    assert got[0].message_ids == [mid]
    assert got[0].actor_id == cast.patient.id
    for rec in await trail(core, conv):
        assert_no_content(rec)


async def test_a_new_message_pushed_to_an_online_device_is_recorded_for_its_receiver(
    core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    await core.presence.connect(cast.doctor.id, "sid-1")  # type: ignore[attr-defined]
    msg = await send(cast.patient, conv, SECRET_TEXT)
    got = [r for r in await trail(core, conv) if r.action == "message.delivered"]
    assert len(got) == 1
    rec = got[0]
    assert (rec.actor_id, rec.actor_role, rec.channel) == (cast.doctor.id, "doctor", "socket")
    assert rec.message_ids == [msg["id"]]
    assert_no_content(rec)


async def test_an_offline_receiver_gets_no_delivery_record(
    core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv, _ = await opened(cast, open_conversation, send)
    assert "message.delivered" not in actions(await trail(core, conv))


async def test_a_page_with_a_file_records_the_links_issued_without_the_file_name(
    core: Core, cast: Any, open_conversation: Any
) -> None:
    conv_id = await open_conversation(cast.patient, cast.doctor)
    core.files = MemoryFileStore()
    conv = await conversation_for(core, cast.patient.principal, conv_id)
    att = Attachment(file_name=FILE_NAME, file_size=10, mime_type="image/png", s3_key="files/x")
    sent = await messages.store_message(
        core, cast.patient.principal, conv, receiver_id=None, message_type="image", content="",
        attachment=att,
    )  # fmt: skip
    n = len(await trail(core, conv_id))
    await messages.history(core, cast.doctor.principal, conv_id, Page(1, 50))
    got = (await trail(core, conv_id))[n:]
    assert actions(got) == ["history.read", "attachment.link"]
    assert got[1].message_ids == [sent.message["id"]]
    assert got[1].actor_id == cast.doctor.id
    for rec in got:
        assert_no_content(rec)


async def test_a_large_page_is_recorded_by_its_count(core: Core, cast: Any) -> None:
    ids = [f"{i:024x}" for i in range(audit.MAX_IDS + 1)]
    rec = await audit.record(core, cast.doctor.id, "doctor", "history.read", "c" * 24, ids)
    assert rec.message_ids == []
    assert rec.message_count == audit.MAX_IDS + 1


async def test_records_go_out_on_the_audit_topic_and_survive_a_failed_publish(
    core: Core, cast: Any
) -> None:
    conv = "a" * 24
    # Given a broker that refuses the publish
    real = core.publisher

    class Down:
        async def publish(self, events: Any) -> None:
            raise ConnectionError("broker down")

        async def close(self) -> None:
            return None

    core.publisher = Down()
    rec = await audit.record(core, cast.doctor.id, "doctor", "history.read", conv, ["b" * 24])
    # Then the record is stored and stays pending for the relay
    assert await core.store.count_pending_events() == 1
    assert [r.id for r in await trail(core, conv)] == [rec.id]
    # And once the broker is back the relay publishes it on `audit.access`, keyed by eventId
    core.publisher = real
    assert await relay_pending(core, older_than_seconds=0) == 1
    out = [e for e in real.events if e.event_type == "audit.access"]  # type: ignore[attr-defined]
    assert len(out) == 1
    assert out[0].event_id == rec.id
    assert out[0].key == conv
    payload = out[0].payload
    assert payload["eventId"] == rec.id
    assert payload["action"] == "history.read"
    assert payload["actorId"] == cast.doctor.id
    assert payload["messageIds"] == ["b" * 24]
    assert isinstance(payload["at"], int)
    assert await core.store.count_pending_events() == 0


async def test_the_access_log_shows_participants_who_read_newest_first(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv, _ = await opened(cast, open_conversation, send)
    await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    r = await client.get(f"{API}/conversations/{conv}/access-log", headers=cast.patient.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"]
    assert set(body["data"]) == {"entries", "pagination"}
    first = body["data"]["entries"][0]
    assert set(first) == {
        "at", "actorId", "actorRole", "action", "channel", "messageCount", "outcome"
    }  # fmt: skip
    assert (first["actorId"], first["action"], first["messageCount"]) == (
        cast.doctor.id,
        "history.read",
        1,
    )
    assert first["at"].endswith("Z")
    # Reading the log is itself recorded, and shows first next time
    r = await client.get(f"{API}/conversations/{conv}/access-log", headers=cast.doctor.headers)
    newest = r.json()["data"]["entries"][0]
    assert (newest["actorId"], newest["action"]) == (cast.patient.id, "access_log.read")
    # Pages
    r = await client.get(
        f"{API}/conversations/{conv}/access-log",
        params={"page": 1, "limit": 1},
        headers=cast.doctor.headers,
    )
    page = r.json()["data"]
    assert len(page["entries"]) == 1
    assert page["pagination"]["hasMore"] is True


@pytest.mark.parametrize("who", ["doctor2", "patient2"])
async def test_the_access_log_is_for_participants_only(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any, who: str
) -> None:
    conv, _ = await opened(cast, open_conversation, send)
    before = len(await trail(core, conv))
    stranger = getattr(cast, who)
    r = await client.get(f"{API}/conversations/{conv}/access-log", headers=stranger.headers)
    assert r.status_code == 403
    assert set(r.json()) == {"message"}
    # The refused read is on the trail as denied (test_refused_access_audit.py), nothing else
    assert [(x.actor_id, x.outcome) for x in (await trail(core, conv))[before:]] == [
        (stranger.id, "denied")
    ]
    r = await client.get(f"{API}/conversations/{conv}/access-log")
    assert r.status_code == 401


def test_no_store_has_an_update_or_delete_path_for_the_audit_trail() -> None:
    # The application's code may insert and read audit records, nothing else.
    allowed = {
        mongo: {"insert_one", "find", "count_documents", "create_index"},
        memory: {"append"},
    }
    for module, ok in allowed.items():
        source = inspect.getsource(module)
        calls = set(re.findall(r"self\._audit\.(\w+)\(", source))
        assert calls, (module.__name__, calls)
        assert calls <= ok, (module.__name__, calls)
        # Nor any other write through the attribute (item assignment, del, rebinding)
        assert not re.search(
            r"self\._audit\[|del self\._audit|self\._audit = (?!db\[|\[\])", source
        )


async def test_a_socket_sync_is_recorded_on_the_socket_channel(
    core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    # The socket edge binds its channel once per event (socket_tier/namespace.py); the record
    # itself is written by the core's history function.
    from socket_tier.namespace import MessagingNamespace

    conv, mid = await opened(cast, open_conversation, send)
    audit.bind("rest", "left-over-from-another-call")

    class Rt:
        def __init__(self) -> None:
            self.core = core

        def user_of(self, sid: str) -> Any:
            return cast.doctor.principal

    ns = MessagingNamespace(Rt())  # type: ignore[arg-type]
    before = len(await trail(core, conv))
    reply = await ns.on_sync("sid-1", {"conversationId": conv, "afterSeq": 0})
    assert reply["ok"] is True
    assert [m["id"] for m in reply["messages"]] == [mid]
    got = (await trail(core, conv))[before:]
    assert actions(got) == ["sync.read"]
    assert got[0].channel == "socket"
    assert got[0].request_id != "left-over-from-another-call"
