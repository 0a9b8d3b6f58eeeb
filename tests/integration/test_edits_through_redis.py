"""Issue #16 part A with the tiers apart: edits and reactions made over REST (in this process,
as in a Lambda: a Redis write-only notifier, no sockets) reach every device of both
participants on a socket task through Redis; an outsider on the same task hears nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis as redis_sync
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core

from functions.local_app import create_local_app
from tests.e2e.socket_harness import ServerProc, clients, new_user, servers, with_db
from tests.integration.test_socket_edits_input import EditClient
from tests.servers import redis_url

pytestmark = pytest.mark.integration
API = "/api/v1/messages"


@pytest.fixture(scope="module")
def redis_db() -> str:
    url = with_db(redis_url(), 2)
    redis_sync.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="module")
def task(redis_db: str) -> Iterator[ServerProc]:
    with servers(ServerProc("local", {"REDIS_URL": redis_db})) as (proc,):
        yield proc


def auth(u: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {u['token']}"}


async def test_rest_edit_and_reactions_push_through_redis(task: ServerProc, redis_db: str) -> None:
    core = await build_core(Settings(_env_file=None, redis_url=redis_db))
    set_core(core)
    try:
        alice, bob, eve = new_user("patient", "Alice"), new_user("doctor"), new_user("doctor")
        transport = httpx.ASGITransport(app=create_local_app())
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://lambda") as http,
            clients(EditClient(alice), EditClient(alice), EditClient(bob), EditClient(eve)) as (
                laptop,
                phone,
                cb,
                ce,
            ),
        ):
            for c in (laptop, phone, cb, ce):
                await c.connect(task.url)
            assert (await http.get(f"{API}/unread-count", headers=auth(bob))).is_success
            r = await http.post(
                f"{API}/conversations",
                json={"recipientId": bob["id"], "recipientType": "doctor"},
                headers=auth(alice),
            )
            conv = r.json()["data"]["conversationId"]
            r = await http.post(
                f"{API}/conversations/{conv}/messages",
                json={"content": "avant"},
                headers=auth(alice),
            )
            mid = r.json()["data"]["id"]

            r = await http.put(f"{API}/{mid}", json={"content": "après"}, headers=auth(alice))
            assert r.status_code == 200, r.text
            for c in (laptop, phone, cb):
                edited = await c.wait_for("message_edited")
                assert (edited["messageId"], edited["conversationId"]) == (mid, conv)
                assert edited["content"] == "après"
            r = await http.post(f"{API}/{mid}/reactions", json={"emoji": "🙏"}, headers=auth(bob))
            assert r.status_code == 200, r.text
            for c in (laptop, phone, cb):
                updated = await c.wait_for("reaction_updated")
                assert updated["reactions"] == [{"emoji": "🙏", "userIds": [bob["id"]]}]
            # Eve shares the task and its Redis, not the conversation: she heard nothing.
            await ce.settle()
            assert not ce.events["message_edited"]
            assert not ce.events["reaction_updated"]
    finally:
        set_core(None)
        await core.drain()
