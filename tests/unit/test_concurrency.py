"""Concurrency through the REST app: one conversation per pair, exact unread counts."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from tests.conftest import make_settings

API = "/api/v1/messages"


@pytest.fixture
async def roomy_client(cast: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Core]]:
    core = await build_core(make_settings(rate_limit_messages=10_000), store=MemoryStore())
    for user in (cast.patient, cast.doctor, cast.doctor2, cast.patient2):
        await core.identify(user.principal)  # signed in before: the directory knows them
    set_core(core)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, core
    set_core(None)


async def test_parallel_creates_and_sends_stay_exact(
    roomy_client: tuple[httpx.AsyncClient, Core], cast: Any
) -> None:
    client, _ = roomy_client
    p, d = cast.patient, cast.doctor

    # Given 20 parallel create-or-get calls for one pair, from both sides
    async def create(i: int) -> httpx.Response:
        a, b = (p, d) if i % 2 else (d, p)
        return await client.post(
            f"{API}/conversations",
            json={"recipientId": b.id, "recipientType": b.principal.role},
            headers=a.headers,
        )

    replies = await asyncio.gather(*(create(i) for i in range(20)))
    ids = {r.json()["data"]["conversationId"] for r in replies}
    assert len(ids) == 1
    assert sorted(r.status_code for r in replies).count(201) == 1
    conv = ids.pop()

    # When the patient sends 200 messages at once
    async def send(i: int) -> httpx.Response:
        return await client.post(
            f"{API}/conversations/{conv}/messages", json={"content": f"m{i}"}, headers=p.headers
        )

    sent = await asyncio.gather(*(send(i) for i in range(200)))
    assert all(r.status_code == 201 for r in sent)
    # Then the doctor has exactly 200 unread, and the sequence numbers are 1..200
    r = await client.get(f"{API}/unread-count", headers=d.headers)
    assert r.json()["data"]["totalUnread"] == 200
    assert sorted(r.json()["data"]["seq"] for r in sent) == list(range(1, 201))
    listed = await client.get(f"{API}/conversations", headers=d.headers)
    assert listed.json()["data"][0]["unreadCount"] == 200
    # And 50 parallel mark-reads of overlapping halves mark each message once
    ids_sent = [r.json()["data"]["id"] for r in sent]

    async def mark(i: int) -> int:
        chunk = ids_sent[(i * 7) % 200 :][:100]
        r = await client.put(
            f"{API}/conversations/{conv}/mark-read", json={"messageIds": chunk}, headers=d.headers
        )
        return int(r.json()["message"].split()[0])

    marked = await asyncio.gather(*(mark(i) for i in range(50)))
    r = await client.get(f"{API}/unread-count", headers=d.headers)
    assert sum(marked) + r.json()["data"]["totalUnread"] == 200
