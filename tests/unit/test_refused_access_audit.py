"""Refused reads are audited too (issue #15): an outsider's attempt leaves one `denied` record.

A read of a conversation refused by the participant rule (403) or naming an unknown one (404) is
recorded once, with the actor, the action, the conversation id as given and the channel, on
REST and sockets alike. Each attempt first spends the read's own budget, so a flood of refused
reads writes at most that budget's count of records.
"""

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.errors import Unavailable
from messaging_core.models import AuditRecord
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from socket_tier.namespace import MessagingNamespace
from tests.conftest import Cast, User, make_settings, sign_in

API = "/api/v1/messages"
SECRET_TEXT = "Resultats de biopsie: a discuter"
HISTORY_BUDGET = 4  # history, export and access log share it (budgets.py)


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limit_history=f"{HISTORY_BUDGET}/60", rate_limit_sync="4/60")


@pytest.fixture
async def core(settings: Settings, cast: Cast) -> AsyncIterator[Core]:
    built = await build_core(settings, store=MemoryStore())
    await sign_in(built, cast)
    set_core(built)
    yield built
    set_core(None)


@pytest.fixture
async def client(core: Core) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ARG001 (set_core)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def everything(core: Core, conversation_id: str) -> list[AuditRecord]:
    records, _ = await core.store.audit_trail(conversation_id, 0, 1000)
    return list(reversed(records))


def denied(records: list[AuditRecord]) -> list[AuditRecord]:
    return [r for r in records if r.outcome == "denied"]


async def opened(client: httpx.AsyncClient, cast: Cast) -> str:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    conv = str(r.json()["data"]["conversationId"])
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": SECRET_TEXT},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201, r.text
    return conv


READS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # action recorded: (method, path under the API with {conv}, query)
    "history.read": ("GET", "/conversations/{conv}/messages", {}),
    "search.read": ("GET", "/search", {"query": "biopsie", "conversationId": "{conv}"}),
    "conversation.export": ("GET", "/conversations/{conv}/export", {"format": "fhir"}),
    "access_log.read": ("GET", "/conversations/{conv}/access-log", {}),
}


async def read_as(
    client: httpx.AsyncClient,
    user: User,
    action: str,
    conv: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    method, path, query = READS[action]
    params = {k: v.format(conv=conv) for k, v in query.items()}
    return await client.request(
        method,
        API + path.format(conv=conv),
        params=params,
        headers={**user.headers, **(headers or {})},
    )


@pytest.mark.parametrize("action", list(READS))
async def test_an_outsider_reading_someone_elses_conversation_leaves_one_denied_record(
    client: httpx.AsyncClient, core: Core, cast: Cast, action: str
) -> None:
    conv = await opened(client, cast)
    before = len(await everything(core, conv))
    # When a doctor who is not in the conversation tries to read it over REST
    r = await read_as(client, cast.doctor2, action, conv, {"X-Request-Id": "req-intruder"})
    assert r.status_code == 403
    # Then exactly one record, denied, says who tried what, where and how
    new = (await everything(core, conv))[before:]
    assert len(new) == 1, [asdict(x) for x in new]
    rec = new[0]
    assert rec.outcome == "denied"
    assert (rec.actor_id, rec.actor_role, rec.action) == (cast.doctor2.id, "doctor", action)
    assert (rec.conversation_id, rec.channel, rec.request_id) == (conv, "rest", "req-intruder")
    assert (rec.message_ids, rec.message_count) == ([], 0)
    assert SECRET_TEXT not in repr(asdict(rec))


async def test_the_owner_sees_the_refused_attempt_in_the_access_log(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    conv = await opened(client, cast)
    assert (await read_as(client, cast.doctor, "history.read", conv)).status_code == 200
    await read_as(client, cast.patient2, "history.read", conv)
    r = await client.get(f"{API}/conversations/{conv}/access-log", headers=cast.patient.headers)
    assert r.status_code == 200, r.text
    entries = r.json()["data"]["entries"]
    attempt = [e for e in entries if e["actorId"] == cast.patient2.id]
    assert attempt == [
        {
            "at": attempt[0]["at"],
            "actorId": cast.patient2.id,
            "actorRole": "patient",
            "action": "history.read",
            "channel": "rest",
            "messageCount": 0,
            "outcome": "denied",
        }
    ]
    # The participants' own reads say so too
    assert {e["outcome"] for e in entries if e["actorId"] != cast.patient2.id} == {"success"}


async def test_a_read_of_an_unknown_conversation_is_recorded_with_the_id_as_given(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    ghost = "ABCDEF0123456789ABCDEF01"  # well formed, never created (ids are lower-cased)
    r = await read_as(client, cast.doctor2, "conversation.export", ghost)
    assert r.status_code == 404
    got = denied(await everything(core, ghost.lower()))
    assert [(x.actor_id, x.action, x.channel) for x in got] == [
        (cast.doctor2.id, "conversation.export", "rest")
    ]


async def test_a_malformed_id_is_a_bad_request_and_no_audit_record(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    # 400 before any conversation is looked up: nothing of anyone's health data was reached,
    # and an attacker's free text never lands in the trail.
    r = await read_as(client, cast.doctor2, "history.read", "not-an-id")
    assert r.status_code == 400
    assert await core.store.count_pending_events() == 0


async def test_a_refused_socket_sync_is_recorded_on_the_socket_channel(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    conv = await opened(client, cast)

    class Ctx:
        def __init__(self) -> None:
            self.core = core

        def user_of(self, sid: str) -> Any:
            return cast.doctor2.principal

    sent: list[tuple[str, Any]] = []

    async def emit(event: str, data: Any, to: str | None = None) -> None:
        sent.append((event, {"to": to, **data}))

    ns = MessagingNamespace(Ctx())  # type: ignore[arg-type]
    ns.emit = emit  # type: ignore[method-assign]
    before = len(await everything(core, conv))
    reply = await ns.on_sync("sid-9", {"conversationId": conv, "afterSeq": 0})
    assert reply["ok"] is False
    assert [e for e, _ in sent] == ["error"]
    assert sent[0][1]["to"] == "sid-9"
    new = (await everything(core, conv))[before:]
    assert [(x.actor_id, x.action, x.channel, x.outcome) for x in new] == [
        (cast.doctor2.id, "sync.read", "socket", "denied")
    ]


async def test_a_flood_of_refused_reads_writes_no_more_records_than_the_budget(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    conv = await opened(client, cast)
    before = len(await everything(core, conv))
    # When an outsider hammers the history of the conversation well past its budget
    codes = [
        (await read_as(client, cast.doctor2, "history.read", conv)).status_code
        for _ in range(HISTORY_BUDGET * 5)
    ]
    # Then the first reads are refused (403) and recorded, the rest are 429 and cost no write
    assert codes == [403] * HISTORY_BUDGET + [429] * (HISTORY_BUDGET * 4)
    new = (await everything(core, conv))[before:]
    assert len(new) == HISTORY_BUDGET
    assert {x.outcome for x in new} == {"denied"}


async def test_a_refusal_whose_record_cannot_be_written_is_still_a_refusal(
    client: httpx.AsyncClient, core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = await opened(client, cast)

    async def broken(*_: Any) -> None:
        raise Unavailable("audit store down")

    monkeypatch.setattr(core.store, "append_audit", broken)
    r = await read_as(client, cast.doctor2, "history.read", conv)
    # Fails closed: never a 200, and the caller learns nothing more than a participant would
    assert r.status_code == 503
    assert list(r.json()) == ["message"]
