"""The participant check reuses conversations seen lately; what reads moving fields reads fresh."""

from typing import Any

import httpx
import pytest
from messaging_core.core import Core
from messaging_core.lru import LRU

from tests.conftest import API, Cast


@pytest.fixture
def reads(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids passed to store.get_conversation, in order."""
    seen: list[str] = []
    original = core.store.get_conversation

    async def counting(conversation_id: str) -> Any:
        seen.append(conversation_id)
        return await original(conversation_id)

    monkeypatch.setattr(core.store, "get_conversation", counting)
    return seen


async def test_sends_after_the_first_do_not_read_the_conversation_again(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any, reads: list[str]
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    for i in range(5):
        await send(cast.doctor if i % 2 else cast.patient, conv, f"m{i}")
    assert reads == [conv]
    # An outsider is still refused, from the cached participants.
    r = await client.post(
        f"{API}/conversations/{conv}/messages", json={"content": "x"}, headers=cast.doctor2.headers
    )
    assert r.status_code == 403
    assert reads == [conv]


async def test_delete_reads_the_current_last_message(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any, reads: list[str]
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    await send(cast.doctor, conv, "first")  # caches the conversation with lastMessage "first"
    second = await send(cast.doctor, conv, "second")
    r = await client.delete(f"{API}/{second['id']}", headers=cast.doctor.headers)
    assert r.status_code == 200
    assert reads.count(conv) == 2
    r = await client.get(f"{API}/conversations", headers=cast.patient.headers)
    assert r.json()["data"][0]["lastMessage"]["content"] == "first"


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "b" is now the least recently used
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)
