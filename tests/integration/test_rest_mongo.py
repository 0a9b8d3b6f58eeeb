"""The REST app on the real MongoDB-protocol server: a whole conversation, and concurrency."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from messaging_core.container import build_core, set_core
from messaging_core.core import Core

from functions.local_app import create_local_app
from tests.conftest import Cast, make_settings, sign_in
from tests.integration.conftest import drop, open_mongo_store

pytestmark = pytest.mark.integration
API = "/api/v1/messages"


@pytest.fixture
async def mongo_client(cast: Cast) -> AsyncIterator[tuple[httpx.AsyncClient, Core]]:
    store, db_name = await open_mongo_store()
    core = await build_core(make_settings(rate_limit_messages=10_000), store=store)
    await sign_in(core, cast)
    set_core(core)
    transport = httpx.ASGITransport(app=create_local_app())
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, core
    finally:
        set_core(None)
        await drop(store, db_name)


async def test_a_whole_conversation_on_the_database(
    mongo_client: tuple[httpx.AsyncClient, Core], cast: Any
) -> None:
    client, _ = mongo_client
    p, d = cast.patient, cast.doctor
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": d.id, "recipientType": "doctor"},
        headers=p.headers,
    )
    assert r.status_code == 201
    conv = r.json()["data"]["conversationId"]
    url = f"{API}/conversations/{conv}/messages"
    first = await client.post(url, json={"content": "J'ai mal à la tête"}, headers=p.headers)
    answer = await client.post(
        url, json={"content": "Prenez ce médicament", "tempId": "t-1"}, headers=d.headers
    )
    retry = await client.post(
        url, json={"content": "Prenez ce médicament", "tempId": "t-1"}, headers=d.headers
    )
    assert first.status_code == answer.status_code == retry.status_code == 201
    assert retry.json()["data"]["id"] == answer.json()["data"]["id"]

    r = await client.get(url, headers=p.headers)
    page = r.json()["data"]
    assert [m["content"] for m in page["messages"]] == [
        "Prenez ce médicament",
        "J'ai mal à la tête",
    ]
    assert page["pagination"]["totalItems"] == 2
    r = await client.get(f"{API}/search?query=MEDICAMENT", headers=p.headers)
    assert [m["content"] for m in r.json()["data"]["messages"]] == ["Prenez ce médicament"]
    r = await client.get(f"{API}/unread-count", headers=p.headers)
    assert r.json()["data"]["totalUnread"] == 1
    assert r.json()["data"]["byConversation"][0]["recipientName"] == "Dr. Sarah Smith"
    r = await client.put(f"{API}/conversations/{conv}/mark-read", json={}, headers=p.headers)
    assert r.json()["message"] == "1 messages marked as read"
    r = await client.delete(f"{API}/{answer.json()['data']['id']}", headers=d.headers)
    assert r.status_code == 200
    r = await client.get(f"{API}/conversations", headers=p.headers)
    listed = r.json()["data"][0]
    assert listed["lastMessage"]["content"] == "J'ai mal à la tête"
    assert listed["unreadCount"] == 0
    r = await client.get(f"{API}/search?query=medicament", headers=p.headers)
    assert r.json()["data"]["messages"] == []


SENDS = 60


async def test_parallel_creates_and_sends_on_the_database(
    mongo_client: tuple[httpx.AsyncClient, Core], cast: Any
) -> None:
    client, core = mongo_client
    p, d = cast.patient, cast.doctor

    async def create(i: int) -> httpx.Response:
        a, b = (p, d) if i % 2 else (d, p)
        return await client.post(
            f"{API}/conversations",
            json={"recipientId": b.id, "recipientType": b.principal.role},
            headers=a.headers,
        )

    replies = await asyncio.gather(*(create(i) for i in range(20)))
    assert all(r.status_code in (200, 201) for r in replies)
    ids = {r.json()["data"]["conversationId"] for r in replies}
    assert len(ids) == 1
    conv = ids.pop()

    async def send(i: int) -> httpx.Response:
        # As a client does: a 503 ("please retry") is retried with the same tempId. The SQLite
        # behind the test server answers SQLITE_BUSY now and then under many concurrent writers.
        for attempt in range(6):
            r = await client.post(
                f"{API}/conversations/{conv}/messages",
                json={"content": f"m{i}", "tempId": f"t{i}"},
                headers=p.headers,
            )
            if r.status_code != 503:
                return r
            await asyncio.sleep(0.05 * (attempt + 1))
        return r

    # 60 at once: enough to collide on every sequence number on a store whose $inc is not
    # atomic (FerretDB v1), where each collision costs a retry (quadratic in the burst).
    sent = await asyncio.gather(*(send(i) for i in range(SENDS)))
    assert {r.status_code for r in sent} <= {200, 201}, [
        r.text for r in sent if r.status_code > 201
    ]
    assert sorted(r.json()["data"]["seq"] for r in sent) == list(range(1, SENDS + 1))
    assert sorted(r.json()["data"]["content"] for r in sent) == sorted(
        f"m{i}" for i in range(SENDS)
    )
    r = await client.get(f"{API}/unread-count", headers=d.headers)
    assert r.json()["data"]["totalUnread"] == SENDS
    _, total = await core.store.list_messages(conv, skip=0, limit=1)
    assert total == SENDS
