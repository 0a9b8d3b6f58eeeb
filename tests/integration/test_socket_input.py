"""Bad input on every socket event, refused handshakes, floods: an `error` each, nothing stored,
and the server keeps serving everyone else. One socket-tier process on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_sync
import socketio
from messaging_core.auth import mint_token

from tests.e2e.socket_harness import (
    SETTINGS,
    Client,
    ServerProc,
    assert_each_refused,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.integration

LIMIT = 5
OID = "6b05daced1f3617cda411395"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    url = with_db(redis_url(), 8)
    redis_sync.Redis.from_url(url).flushdb()
    proc = ServerProc(
        "local",
        {"REDIS_URL": url, "RATE_LIMIT_MESSAGES": str(LIMIT), "RATE_LIMIT_WINDOW_SECONDS": "60"},
    )
    with servers(proc):
        yield proc


def bad_payloads(conv: str) -> dict[str, list[Any]]:
    op = {"$ne": None}
    return {
        "send_message": [
            None, "text", [], {}, {"conversationId": conv}, {"content": "hi"},
            {"conversationId": op, "content": "hi"}, {"conversationId": conv, "content": op},
            {"conversationId": 12, "content": "hi"}, {"conversationId": conv, "content": 12},
            {"conversationId": "not-an-id", "content": "hi"},
            {"conversationId": conv, "content": "x" * 5001},
            {"conversationId": conv, "content": "   "},
            {"conversationId": conv, "content": "hi", "receiverId": op},
            {"conversationId": conv, "content": "hi", "receiverId": OID},
            {"conversationId": conv, "content": "hi", "tempId": op},
            {"conversationId": conv, "content": "hi", "messageType": "image"},
            {"conversationId": conv, "content": "hi", "metadata": {"$set": 1}},
            {"conversationId": conv, "content": "hi", "metadata": "x"},
            {"conversationId": OID, "content": "hi"},
        ],
        "mark_as_read": [
            None, {}, {"conversationId": op}, {"conversationId": conv, "messageIds": op},
            {"conversationId": conv, "messageIds": [op]},
            {"conversationId": conv, "messageIds": "x"},
            {"conversationId": conv, "messageIds": ["nope"]}, {"conversationId": OID},
        ],
        "join_conversation": [None, {}, {"conversationId": op}, {"conversationId": OID}, [conv]],
        "typing_start": [
            None, {}, {"conversationId": op}, {"conversationId": OID},
            {"conversationId": conv, "receiverId": OID}, {"conversationId": conv, "receiverId": op},
        ],
        "typing_stop": [None, {}, {"conversationId": op}, {"conversationId": OID}],
        "sync": [
            None, {}, {"conversationId": conv}, {"conversationId": conv, "afterSeq": "0"},
            {"conversationId": conv, "afterSeq": -1}, {"conversationId": op, "afterSeq": 0},
            {"conversationId": conv, "afterSeq": 0, "limit": 1000},
        ],
    }  # fmt: skip


async def test_every_event_refuses_bad_input_with_an_error_each(server: ServerProc) -> None:
    alice, bob = new_user("patient"), new_user("doctor")
    conv = await open_conversation(server.url, alice, bob)
    async with clients(Client(alice), Client(bob)) as (ca, cb):
        await cb.connect(server.url)
        await ca.connect(server.url)
        await assert_each_refused(ca, bad_payloads(conv))
        # Nothing was stored, nothing was pushed, and the server still serves.
        synced = await ca.call("sync", {"conversationId": conv, "afterSeq": 0})
        assert synced["ok"]
        assert synced["messages"] == []
        assert not cb.events["new_message"]
        assert not cb.events["user_typing"]
        ok = await ca.call("send_message", {"conversationId": conv, "content": "still here"})
        assert ok["ok"] is True
        assert (await cb.wait_for("new_message"))["content"] == "still here"


async def test_other_peoples_conversation_is_forbidden(server: ServerProc) -> None:
    alice, bob, mallory = new_user("patient"), new_user("doctor"), new_user("doctor")
    conv = await open_conversation(server.url, alice, bob)
    async with clients(Client(bob), Client(mallory)) as (cb, cm):
        await cb.connect(server.url)
        await cm.connect(server.url)
        for event, payload in [
            ("send_message", {"conversationId": conv, "content": "hi"}),
            ("mark_as_read", {"conversationId": conv}),
            ("join_conversation", {"conversationId": conv}),
            ("typing_start", {"conversationId": conv}),
            ("typing_stop", {"conversationId": conv}),
            ("sync", {"conversationId": conv, "afterSeq": 0}),
        ]:
            ack = await cm.call(event, payload)
            assert ack == {"ok": False, "message": "You are not a participant in this conversation"}
        assert [e["event"] for e in cm.events["error"]] == [
            "send_message", "mark_as_read", "join_conversation", "typing_start", "typing_stop",
            "sync",
        ]  # fmt: skip
        # Whatever the refused events had emitted to Bob was queued on his socket before
        # Mallory's acks left the server; a round trip on Bob's socket comes after it.
        assert (await cb.call("join_conversation", {"conversationId": conv}))["ok"] is True
        assert not cb.events["new_message"]
        assert not cb.events["user_typing"]


async def test_flood_over_the_rate_limit(server: ServerProc) -> None:
    alice, bob = new_user("doctor"), new_user("doctor")
    conv = await open_conversation(server.url, alice, bob)
    async with clients(Client(alice), Client(bob)) as (ca, cb):
        await ca.connect(server.url)
        await cb.connect(server.url)
        acks = await asyncio.gather(
            *(
                ca.call("send_message", {"conversationId": conv, "content": f"m{i}"})
                for i in range(12)
            )
        )
        assert sum(a["ok"] for a in acks) == LIMIT
        refused = [a for a in acks if not a["ok"]]
        assert len(refused) == 12 - LIMIT
        assert all("Too many" in a["message"] for a in refused)
        # Each refusal's `error` goes out before its ack, on the same socket: all are here
        assert len(ca.events["error"]) == 12 - LIMIT
        assert (
            len((await cb.call("sync", {"conversationId": conv, "afterSeq": 0}))["messages"])
            == LIMIT
        )
        # Bob's own budget is untouched.
        assert (await cb.call("send_message", {"conversationId": conv, "content": "hi"}))["ok"]


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "Authentication required"),
        ({"token": "nope"}, "Invalid token"),
        ({"token": {"$ne": None}}, "Authentication required"),
        ({"token": mint_token(SETTINGS, OID, "doctor", ttl_seconds=-60)}, "Token expired"),
        ({"token": mint_token(SETTINGS, OID, "admin")}, "role claim"),
    ],
)
async def test_refused_handshake_gets_connect_error_with_reason(
    server: ServerProc, auth: Any, reason: str
) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    sio.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
    for _ in range(100):  # the event itself, bounded by count
        if reasons:
            break
        await asyncio.sleep(0.01)
    assert reasons
    assert reason in reasons[0]["message"]
    assert not sio.connected
    await sio.disconnect()


async def test_authorization_header_is_accepted_as_fallback(server: ServerProc) -> None:
    user = new_user("doctor")
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        server.url,
        headers={"Authorization": f"Bearer {user['token']}"},
        transports=["websocket"],
        wait_timeout=5,
    )
    try:
        assert sio.connected
        ack = await sio.call("join_conversation", {"conversationId": OID}, timeout=5)
        assert ack == {"ok": False, "message": "Conversation not found"}
    finally:
        await sio.disconnect()


async def test_a_socket_closes_when_its_token_expires(server: ServerProc) -> None:
    uid = new_user("doctor")["id"]
    short = {
        "id": uid,
        "role": "doctor",
        "token": mint_token(SETTINGS, uid, "doctor", ttl_seconds=2),
    }
    lasting = Client(new_user("patient"))
    async with clients(Client(short), lasting) as (expiring, other):
        await expiring.connect(server.url)
        await other.connect(server.url)
        assert (await expiring.call("join_conversation", {"conversationId": OID}))["message"] == (
            "Conversation not found"  # still serving: the token is valid
        )
        told = await expiring.wait_for("error", lambda e: e["event"] == "session", timeout=6)
        assert "reconnect with a new token" in told["message"]
        for _ in range(20):
            if not expiring.sio.connected:
                break
            await asyncio.sleep(0.1)
        assert not expiring.sio.connected
        assert other.sio.connected  # only the expired socket closed
