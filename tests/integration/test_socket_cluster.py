"""Two socket-tier processes sharing a real Redis: fan-out, presence, Lambda pushes, shutdown.

The `local` processes serve REST too (in-memory store each), so a test creates the conversation
through REST on the task that does the domain work; delivery and presence cross tasks via Redis.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis as redis_sync
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.redis_fanout import RedisFanout
from messaging_core.adapters.redis_presence import ONLINE_KEY, conns_key
from messaging_core.config import Settings
from messaging_core.container import build_core, set_core
from messaging_core.ids import new_id

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    barrier,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.integration

TTL = "2"
HEARTBEAT = "0.4"


@pytest.fixture(scope="module")
def redis_db() -> str:
    url = with_db(redis_url(), 7)
    redis_sync.Redis.from_url(url).flushdb()
    return url


def task_env(url: str, name: str, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": url,
        "TASK_ID": f"{name}-{uuid.uuid4().hex[:8]}",
        "PRESENCE_TTL_SECONDS": TTL,
        "PRESENCE_HEARTBEAT_SECONDS": HEARTBEAT,
        "RATE_LIMIT_MESSAGES": "6",
        "RATE_LIMIT_WINDOW_SECONDS": "30",
        **extra,
    }


@pytest.fixture(scope="module")
def pair(redis_db: str) -> Iterator[tuple[ServerProc, ServerProc]]:
    a = ServerProc("local", task_env(redis_db, "a"))
    b = ServerProc("local", task_env(redis_db, "b"))
    with servers(a, b):
        yield a, b


async def online_users(server: ServerProc) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(f"{server.url}/health")).json()["onlineUsers"])


async def is_online(server: ServerProc, viewer: dict[str, str], user_id: str) -> bool:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(
            f"/api/v1/messages/users/{user_id}/online-status",
            headers={"Authorization": f"Bearer {viewer['token']}"},
        )
        assert r.status_code == 200, r.text
        return bool(r.json()["data"]["isOnline"])


async def test_sender_on_one_task_reaches_receiver_on_another(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    task_a, task_b = pair
    alice, bob = new_user("patient", "Alice"), new_user("doctor", "Dr Bob")
    conv = await open_conversation(task_a.url, alice, bob)
    async with clients(Client(alice), Client(bob)) as (ca, cb):
        await cb.connect(task_b.url)
        await ca.connect(task_a.url)
        # When Alice (task A) sends, Bob (task B) receives through Redis.
        ack = await ca.call(
            "send_message",
            {
                "conversationId": conv,
                "receiverId": bob["id"],
                "content": "Bonjour",
                "tempId": "t-1",
            },
        )
        assert ack["ok"] is True
        assert ack["tempId"] == "t-1"
        sent = await ca.wait_for("message_sent")
        assert sent == {
            "tempId": "t-1",
            "messageId": ack["messageId"],
            "timestamp": ack["timestamp"],
        }
        msg = await cb.wait_for("new_message")
        assert msg["id"] == ack["messageId"]
        assert msg["content"] == "Bonjour"
        assert msg["senderName"] == "Alice"
        assert msg["isDelivered"] is True
        delivered = await ca.wait_for("message_delivered")
        assert delivered["messageId"] == ack["messageId"]
        # Typing crosses tasks too, with the sender's name.
        await ca.call("typing_start", {"conversationId": conv, "receiverId": bob["id"]})
        typing = await cb.wait_for("user_typing")
        assert typing == {"conversationId": conv, "userId": alice["id"], "userName": "Alice"}
        await ca.call("typing_stop", {"conversationId": conv})
        assert await cb.wait_for("user_stopped_typing") == {
            "conversationId": conv,
            "userId": alice["id"],
        }
        # A retried tempId answers with the original message_sent and stores nothing twice.
        again = await ca.call(
            "send_message", {"conversationId": conv, "content": "Bonjour", "tempId": "t-1"}
        )
        assert again["messageId"] == ack["messageId"]
        assert again["duplicate"] is True
        # A marker sent after the retry takes the same path (task A, Redis, task B): once it is
        # in, a second copy pushed by the retry would be in too. No time-based settling.
        marker = await ca.call(
            "send_message", {"conversationId": conv, "content": "marker", "tempId": "t-2"}
        )
        await cb.wait_for("new_message", lambda d: d["id"] == marker["messageId"])
        assert [m["id"] for m in cb.events["new_message"]] == [
            ack["messageId"],
            marker["messageId"],
        ]


async def test_delivery_recovers_after_redis_drops_every_connection(
    pair: tuple[ServerProc, ServerProc], redis_db: str
) -> None:
    task_a, task_b = pair
    alice, bob = new_user("patient", "Alice"), new_user("doctor", "Dr Bob")
    conv = await open_conversation(task_a.url, alice, bob)
    channel_b = f"task:{task_b.env['TASK_ID']}"
    killer = redis_sync.Redis.from_url(redis_db)
    async with clients(Client(alice), Client(bob)) as (ca, cb):
        await cb.connect(task_b.url)
        await ca.connect(task_a.url)
        # Redis drops the tasks' subscriptions and command connections, as a failover does.
        assert killer.client_kill_filter(_type="pubsub") >= 2
        killer.client_kill_filter(_type="normal", skipme=True)
        # Task B resubscribes within its backoff. Redis has no event for a subscription, so
        # poll it; the count of polls is a safety bound, not what the test asserts.
        for _ in range(600):
            if dict(killer.pubsub_numsub(channel_b)).get(channel_b.encode(), 0) >= 1:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("task B did not resubscribe")
        # Task A's hot-path connection reconnects on its next call.
        ack = await ca.call(
            "send_message",
            {"conversationId": conv, "receiverId": bob["id"], "content": "encore là ?",
             "tempId": "after-drop"},
            timeout=15,
        )  # fmt: skip
        assert ack["ok"] is True, ack
        msg = await cb.wait_for("new_message", timeout=10)
        assert msg["id"] == ack["messageId"]
        assert (await ca.wait_for("message_delivered"))["messageId"] == ack["messageId"]
    killer.close()


async def test_two_tabs_presence_counts_and_partner_only_transitions(
    pair: tuple[ServerProc, ServerProc], redis_db: str
) -> None:
    task_a, task_b = pair
    user, partner, stranger = new_user("doctor"), new_user("doctor"), new_user("doctor")
    # The partner relation must be known on both tasks (each has its own in-memory store).
    await open_conversation(task_a.url, user, partner)
    await open_conversation(task_b.url, user, partner)
    async with clients(Client(partner), Client(stranger)) as (cp, cs):
        await cp.connect(task_b.url)
        await cs.connect(task_a.url)
        base = await online_users(task_a)
        tab1, tab2 = Client(user), Client(user)
        await tab1.connect(task_a.url)
        await cp.wait_for("user_online", lambda d: d["userId"] == user["id"])
        await tab2.connect(task_b.url)
        assert await online_users(task_a) == base + 1 == await online_users(task_b)
        assert await is_online(task_b, partner, user["id"])
        await tab1.close()
        # Task A has run tab 1's disconnect (its member left the user's connections in Redis)
        await until_conns(redis_db, user["id"], lambda tasks: tasks == {task_b.env["TASK_ID"]})
        assert await is_online(task_a, partner, user["id"])  # tab 2 still open
        await tab2.close()
        await cp.wait_for("user_offline", lambda d: d["userId"] == user["id"])
        # No later transition can be decided: the user has no connection left nor an online
        # entry for a reaper to find. An announcement already on its way would arrive before
        # this message, sent afterwards by REST on task A and fanned out through the same path.
        await until_conns(redis_db, user["id"], lambda tasks: not tasks)
        assert redis_sync.Redis.from_url(redis_db).zscore(ONLINE_KEY, user["id"]) is None
        await barrier(task_a, user, partner, cp)
        ons = [d for d in cp.events["user_online"] if d["userId"] == user["id"]]
        offs = [d for d in cp.events["user_offline"] if d["userId"] == user["id"]]
        assert len(ons) == 1, "one event per transition, not per tab"
        assert len(offs) == 1, "one event per transition, not per tab"
        assert set(ons[0]) == {"userId", "timestamp"}
        assert not cs.events["user_online"], "partners only"
        assert not cs.events["user_offline"], "partners only"
        assert await online_users(task_b) == base
        assert not await is_online(task_a, partner, user["id"])


async def test_rate_limit_is_shared_by_every_task(pair: tuple[ServerProc, ServerProc]) -> None:
    task_a, task_b = pair
    alice, bob = new_user("doctor"), new_user("doctor")
    conv_a = await open_conversation(task_a.url, alice, bob)
    conv_b = await open_conversation(task_b.url, alice, bob)
    async with clients(Client(alice), Client(alice)) as (on_a, on_b):
        await on_a.connect(task_a.url)
        await on_b.connect(task_b.url)
        for i in range(3):
            assert (await on_a.call("send_message", {"conversationId": conv_a, "content": f"{i}"}))[
                "ok"
            ]
            assert (await on_b.call("send_message", {"conversationId": conv_b, "content": f"{i}"}))[
                "ok"
            ]
        # Budget of 6 used across both tasks: the 7th is refused on either.
        over = await on_b.call("send_message", {"conversationId": conv_b, "content": "x"})
        assert over["ok"] is False
        assert "Too many messages" in over["message"]
        err = await on_b.wait_for("error")
        assert err["event"] == "send_message"
        synced = await on_b.call("sync", {"conversationId": conv_b, "afterSeq": 0})
        assert len(synced["messages"]) == 3


async def test_lambda_side_push_reaches_a_socket(
    pair: tuple[ServerProc, ServerProc], redis_db: str
) -> None:
    _, task_b = pair
    bob = new_user("doctor")
    async with clients(Client(bob)) as (cb,):
        await cb.connect(task_b.url)
        # As a Lambda does: a notifier with no local sockets, its own client, no server.
        client = build_redis(redis_db)
        try:
            await RedisFanout(client).emit_to_user(bob["id"], "message_deleted", {"messageId": "m"})
        finally:
            await client.aclose()
        assert await cb.wait_for("message_deleted") == {"messageId": "m"}


async def test_rest_send_read_delete_push_to_sockets(
    pair: tuple[ServerProc, ServerProc], redis_db: str
) -> None:
    """The REST functions (in this process, as in a Lambda) push through Redis to task B."""
    from functions.local_app import create_local_app

    _, task_b = pair
    core = await build_core(Settings(_env_file=None, redis_url=redis_db))
    set_core(core)
    try:
        alice, bob = new_user("patient", "Alice"), new_user("doctor")
        transport = httpx.ASGITransport(app=create_local_app())
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://lambda") as http,
            clients(Client(alice), Client(bob)) as (ca, cb),
        ):
            await ca.connect(task_b.url)
            await cb.connect(task_b.url)

            def auth(u: dict[str, str]) -> dict[str, str]:
                return {"Authorization": f"Bearer {u['token']}"}

            # Bob signs in on this side too: its embedded directory knows who presented a token
            assert (await http.get("/api/v1/messages/unread-count", headers=auth(bob))).is_success
            r = await http.post(
                "/api/v1/messages/conversations",
                json={"recipientId": bob["id"], "recipientType": "doctor"},
                headers=auth(alice),
            )
            conv = r.json()["data"]["conversationId"]
            r = await http.post(
                f"/api/v1/messages/conversations/{conv}/messages",
                json={"content": "via REST", "messageType": "text"},
                headers=auth(alice),
            )
            assert r.status_code == 201, r.text
            mid = r.json()["data"]["id"]
            assert (await cb.wait_for("new_message"))["id"] == mid
            # Bob is online (Redis presence seen from the Lambda): Alice hears it was delivered.
            assert (await ca.wait_for("message_delivered"))["messageId"] == mid
            r = await http.put(
                f"/api/v1/messages/conversations/{conv}/mark-read",
                json={"messageIds": [mid]},
                headers=auth(bob),
            )
            assert r.status_code == 200, r.text
            read = await ca.wait_for("messages_read")
            assert read["messageIds"] == [mid]
            assert read["readBy"] == bob["id"]
            r = await http.delete(f"/api/v1/messages/{mid}", headers=auth(alice))
            assert r.status_code == 200, r.text
            for c in (ca, cb):
                gone = await c.wait_for("message_deleted")
                assert gone["messageId"] == mid
                assert gone["conversationId"] == conv
    finally:
        set_core(None)
        await core.drain()


async def until_conns(url: str, user_id: str, done: Callable[[set[str]], bool]) -> None:
    """Poll the user's connections in Redis (task ids) until `done` holds; Redis has no event
    for it. The count of polls is a safety bound, not what the test asserts."""
    r = redis_sync.Redis.from_url(url)
    try:
        for _ in range(600):
            members = r.zrange(conns_key(user_id), 0, -1)
            if done({m.decode().split("|", 1)[0] for m in members}):
                return
            await asyncio.sleep(0.02)
    finally:
        r.close()
    pytest.fail("the user's connections in Redis never reached the expected state")


def own_db(db: int) -> str:
    """A db of its own: the module's pair would otherwise reap these users too, and (in-memory
    stores per process) it does not know their partners, so the one announcement would be lost."""
    url = with_db(redis_url(), db)
    redis_sync.Redis.from_url(url).flushdb()
    return url


async def test_killed_task_users_go_offline_within_ttl() -> None:
    redis_db = own_db(4)  # a db no other test file uses (tests/unit/test_redis_dbs.py)
    doomed = ServerProc("server", task_env(redis_db, "doomed"))
    survivor = ServerProc("local", task_env(redis_db, "survivor"))
    with servers(doomed, survivor):
        user, partner = new_user("doctor"), new_user("doctor")
        await open_conversation(survivor.url, user, partner)
        async with clients(Client(partner), Client(user)) as (cp, cu):
            await cp.connect(survivor.url)
            await cu.connect(doomed.url)
            assert await is_online(survivor, partner, user["id"])
            # When the task dies without any clean-up...
            doomed.kill()
            # ...its users lapse within the TTL: the expiry it last wrote, read on Redis' own
            # clock (no timing of this test), is at most one TTL away...
            r = redis_sync.Redis.from_url(redis_db)
            lapses_ms = r.zscore(ONLINE_KEY, user["id"])
            seconds, micros = r.time()
            r.close()
            # (None: already reaped, on a machine slow enough to take a TTL to get here.)
            assert (
                lapses_ms is None
                or lapses_ms - (seconds * 1000 + micros // 1000) <= int(TTL) * 1000
            )
            # ...and the reaper announces it exactly once (the bound only stops a hang).
            await cp.wait_for("user_offline", lambda d: d["userId"] == user["id"], timeout=60)
            assert not await is_online(survivor, partner, user["id"])
            # The reaper removed the user's online entry: no later heartbeat can reap it again;
            # an announcement already on its way would arrive before the barrier's message.
            assert redis_sync.Redis.from_url(redis_db).zscore(ONLINE_KEY, user["id"]) is None
            await barrier(survivor, user, partner, cp)
            assert len([d for d in cp.events["user_offline"] if d["userId"] == user["id"]]) == 1


async def test_sigterm_leaves_presence_right() -> None:
    redis_db = own_db(5)
    # A long TTL: only the shutdown clean-up can explain the user going offline at once.
    leaving = ServerProc("server", task_env(redis_db, "leaving", PRESENCE_TTL_SECONDS="60",
                                            PRESENCE_HEARTBEAT_SECONDS="5"))  # fmt: skip
    staying = ServerProc("local", task_env(redis_db, "staying"))
    with servers(leaving, staying):
        user, partner = new_user("doctor"), new_user("doctor")
        await open_conversation(staying.url, user, partner)
        async with clients(Client(partner), Client(user)) as (cp, cu):
            await cp.connect(staying.url)
            await cu.connect(leaving.url)
            assert await is_online(staying, partner, user["id"])
            code = await asyncio.to_thread(leaving.terminate)
            assert code in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
            assert not await is_online(staying, partner, user["id"])
            # (The leaving task announces user_offline to the partners it knows; with one
            # in-memory store per process here it knows none, so that is not asserted.)
            # The client saw a transport close (not a server kick), so it would reconnect.
            assert not cu.sio.connected


async def test_unknown_user_push_is_a_no_op(redis_db: str) -> None:
    client = build_redis(redis_db)
    try:
        fanout = RedisFanout(client)
        await fanout.emit_to_user(new_id(), "new_message", {"x": 1})
        assert fanout.published == 0
    finally:
        await client.aclose()
