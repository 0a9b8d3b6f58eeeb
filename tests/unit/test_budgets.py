"""Per-user budgets on every REST route, and the offset-paging bound (in-memory limiter)."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from messaging_core.budgets import budget_table, spend
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.errors import RateLimited
from messaging_core.ids import new_id
from messaging_core.store.memory import MemoryStore
from pydantic import ValidationError

from functions.local_app import create_local_app
from tests.conftest import Cast, make_settings, sign_in

API = "/api/v1/messages"
N = 3  # every budget of these tests: N actions a minute


def refused(r: httpx.Response) -> bool:
    """A budget refusal: 429 and exactly `{"message"}` saying what to do."""
    if r.status_code != 429:
        return False
    assert list(r.json()) == ["message"]
    assert "slow down" in r.json()["message"]
    return True


@pytest.fixture
def settings() -> Settings:
    small = f"{N}/60"
    return make_settings(
        rate_limit_history=small,
        rate_limit_search=small,
        rate_limit_list=small,
        rate_limit_mark_read=small,
        rate_limit_upload=small,
        rate_limit_send_file=small,
        rate_limit_unread=small,
        rate_limit_online_status=small,
        rate_limit_delete=small,
    )


@pytest.fixture
async def client(settings: Settings, cast: Cast) -> AsyncIterator[httpx.AsyncClient]:
    core = await build_core(settings, store=MemoryStore())
    await sign_in(core, cast)  # recipients must be known to the directory (#10)
    set_core(core)
    # Some routes fail for their own reasons here (no S3 credentials): only the 429s matter.
    transport = httpx.ASGITransport(app=create_local_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    set_core(None)


ROUTES: dict[str, Callable[[str], tuple[str, str, dict[str, Any]]]] = {
    "history": lambda c: ("GET", f"{API}/conversations/{c}/messages", {}),
    "search": lambda _c: ("GET", f"{API}/search", {"params": {"query": "hello"}}),
    "list": lambda _c: ("GET", f"{API}/conversations", {}),
    "mark_read": lambda c: ("PUT", f"{API}/conversations/{c}/mark-read", {}),
    "upload": lambda c: (
        "POST",
        f"{API}/conversations/{c}/attachments",
        {"json": {"fileName": "a.png", "mimeType": "image/png", "fileSize": 10}},
    ),
    "unread": lambda _c: ("GET", f"{API}/unread-count", {}),
    "online_status": lambda _c: ("GET", f"{API}/users/{'6' * 24}/online-status", {}),
    "delete": lambda _c: ("DELETE", f"{API}/{'6' * 24}", {}),
    "send_file": lambda c: (
        "POST",
        f"{API}/conversations/{c}/send-file",
        {"json": {"key": "k", "messageType": "image"}},
    ),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_each_route_refuses_a_flood_with_429_and_spares_other_users(
    route: str, client: httpx.AsyncClient, cast: Cast
) -> None:
    # Given a conversation between the patient and a doctor, and one with another doctor
    async def open_(a: Any, b: Any) -> str:
        r = await client.post(
            f"{API}/conversations",
            json={"recipientId": b.id, "recipientType": b.principal.role},
            headers=a.headers,
        )
        return str(r.json()["data"]["conversationId"])

    conv = await open_(cast.patient, cast.doctor)
    other_conv = await open_(cast.doctor2, cast.patient2)
    method, url, kw = ROUTES[route](conv)
    # When the patient calls the route N+2 times
    headers = cast.patient.headers
    replies = [await client.request(method, url, headers=headers, **kw) for _ in range(N + 2)]
    # Then the first N are served (or refused for their own reasons), the rest are 429
    assert [refused(r) for r in replies] == [False] * N + [True, True]
    # And another user of the same process still has a whole budget
    method, url, kw = ROUTES[route](other_conv)
    r = await client.request(method, url, headers=cast.doctor2.headers, **kw)
    assert not refused(r)


async def test_a_doctor_opening_25_conversations_is_refused_after_the_budget(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    # Given the default budget (20 new conversations an hour)
    assert budget_table(make_settings())["open_conversation"].count == 20
    # When a doctor opens conversations with 25 random ids
    replies = [
        await client.post(
            f"{API}/conversations",
            json={"recipientId": new_id(), "recipientType": "doctor"},
            headers=cast.doctor.headers,
        )
        for _ in range(25)
    ]
    # Then the 21st and later are 429 with a clear message; the first 20 are not
    assert [refused(r) for r in replies] == [False] * 20 + [True] * 5
    assert "new conversations" in replies[-1].json()["message"]


async def test_reopening_an_existing_conversation_spends_no_budget(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    body = {"recipientId": cast.doctor.id, "recipientType": "doctor"}
    replies = [
        await client.post(f"{API}/conversations", json=body, headers=cast.patient.headers)
        for _ in range(30)
    ]
    assert [r.status_code for r in replies] == [201] + [200] * 29


async def test_page_beyond_the_max_offset_is_400_pointing_to_cursors(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    conv = r.json()["data"]["conversationId"]
    r = await client.get(
        f"{API}/conversations/{conv}/messages",
        params={"page": 100_000},
        headers=cast.patient.headers,
    )
    assert r.status_code == 400
    assert list(r.json()) == ["message"]
    assert "before/after" in r.json()["message"]
    assert "10000" in r.json()["message"]
    # The last page within the bound is served; cursors stay unbounded
    ok = await client.get(
        f"{API}/conversations/{conv}/messages",
        params={"page": 200, "limit": 50},
        headers=cast.patient.headers,
    )
    assert ok.status_code == 200, ok.text
    r = await client.get(
        f"{API}/conversations", params={"page": 100_000}, headers=cast.patient.headers
    )
    assert r.status_code == 400


async def test_every_budget_is_refused_after_its_count(cast: Cast) -> None:
    settings = make_settings(
        **{f"rate_limit_{name}": "2/60" for name in budget_table(make_settings()) if name != "send"}
    )
    core = await build_core(settings, store=MemoryStore())
    for name in budget_table(settings):
        if name == "send":
            continue
        await spend(core, cast.patient.principal, name)
        await spend(core, cast.patient.principal, name)
        with pytest.raises(RateLimited):
            await spend(core, cast.patient.principal, name)
        await spend(core, cast.doctor.principal, name)  # someone else's budget is untouched


@pytest.mark.parametrize("bad", ["0/10", "10/0", "ten/10", "10", "-1/10", "10/10/10"])
def test_a_malformed_budget_fails_at_start(bad: str) -> None:
    with pytest.raises(ValidationError):
        make_settings(rate_limit_typing=bad)
