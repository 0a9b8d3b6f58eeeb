"""Per-user budgets on socket events, in Redis: a flooder is refused, everyone else keeps going.
One socket-tier process on a real Redis (the limiter every task and function shares)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis as redis_sync
import socketio

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.integration

TYPING = 5  # relays per minute in these tests
SMALL = 3
CONNECTS = 4


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    url = with_db(redis_url(), 13)
    redis_sync.Redis.from_url(url).flushdb()
    proc = ServerProc(
        "local",
        {
            "REDIS_URL": url,
            "RATE_LIMIT_TYPING": f"{TYPING}/60",
            "RATE_LIMIT_SYNC": f"{SMALL}/60",
            "RATE_LIMIT_JOIN": f"{SMALL}/60",
            "RATE_LIMIT_MARK_READ": f"{SMALL}/60",
            "RATE_LIMIT_CONNECT": f"{CONNECTS}/60",
            # No throttle: every typing event would relay, only the budget holds them back.
            "TYPING_THROTTLE_SECONDS": "0",
        },
    )
    with servers(proc):
        yield proc


async def test_a_typing_flood_reaches_the_partner_only_within_budget(server: ServerProc) -> None:
    flooder, partner = new_user("doctor"), new_user("doctor")
    alice, bob = new_user("patient"), new_user("doctor")
    conv = await open_conversation(server.url, flooder, partner)
    calm_conv = await open_conversation(server.url, alice, bob)
    async with clients(Client(flooder), Client(partner), Client(alice), Client(bob)) as (
        cf,
        cp,
        ca,
        cb,
    ):
        for c in (cf, cp, ca, cb):
            await c.connect(server.url)
        # When the flooder alternates typing_start/typing_stop 30 times (each would relay)
        acks = []
        for i in range(30):
            event = "typing_start" if i % 2 == 0 else "typing_stop"
            acks.append(await cf.call(event, {"conversationId": conv}))
        # Then only the budget's worth was relayed; every other event was refused with a reason
        assert sum(a["ok"] for a in acks) == TYPING
        refused = [a for a in acks if not a["ok"]]
        assert all("Too many typing events" in a["message"] for a in refused)
        await cf.wait_for("error", lambda _: len(cf.events["error"]) >= len(refused))
        assert {e["event"] for e in cf.events["error"]} == {"typing_start", "typing_stop"}
        # And another pair on the same server keeps chatting, typing indicators included
        sent = await ca.call("send_message", {"conversationId": calm_conv, "content": "hello"})
        assert sent["ok"] is True
        assert (await cb.wait_for("new_message"))["content"] == "hello"
        assert (await ca.call("typing_start", {"conversationId": calm_conv}))["ok"] is True
        await cb.wait_for("user_typing")
        # The partner got at most the budgeted relays (the server's automatic stop on
        # disconnect comes later, after this count). Every relay was emitted to the partner's
        # socket (one task: no Redis hop) before the flooder's ack; a round trip on the
        # partner's socket comes after them.
        assert (await cp.call("join_conversation", {"conversationId": conv}))["ok"] is True
        relays = len(cp.events["user_typing"]) + len(cp.events["user_stopped_typing"])
        assert 0 < relays <= TYPING


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("sync", {"afterSeq": 0}),
        ("join_conversation", {}),
        ("mark_as_read", {}),
    ],
)
async def test_socket_events_over_budget_get_an_error_and_a_failed_ack(
    server: ServerProc, event: str, payload: dict[str, object]
) -> None:
    a, b = new_user("doctor"), new_user("patient")
    conv = await open_conversation(server.url, a, b)
    async with clients(Client(a), Client(b)) as (ca, cb):
        await ca.connect(server.url)
        await cb.connect(server.url)
        acks = [await ca.call(event, {"conversationId": conv, **payload}) for _ in range(SMALL + 2)]
        assert [x["ok"] for x in acks] == [True] * SMALL + [False, False]
        assert all("slow down" in x["message"] for x in acks[SMALL:])
        err = await ca.wait_for("error")
        assert err["event"] == event
        assert "slow down" in err["message"]
        # The other participant's budget is their own
        assert (await cb.call(event, {"conversationId": conv, **payload}))["ok"] is True


async def test_a_reconnect_loop_is_refused_after_the_connect_budget(server: ServerProc) -> None:
    user = new_user("doctor")
    for _ in range(CONNECTS):
        c = Client(user)
        await c.connect(server.url)
        await c.close()
    # The next connect of the same account is refused with the reason; another account is not
    reasons: list[object] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url, auth={"token": user["token"]}, transports=["websocket"], wait_timeout=5
        )
    await sio.disconnect()
    assert reasons
    assert "Too many connections" in str(reasons[0])
    # The refused socket was never registered: the user, whose earlier sockets all closed, is
    # offline, and no socket of theirs is counted against the per-user cap.
    store = redis_sync.Redis.from_url(with_db(redis_url(), 13))
    keys = ("presence:online", f"presence:conns:{user['id']}", f"presence:since:{user['id']}")
    for _ in range(100):  # bounded: the earlier sockets' disconnects may still be on their way
        if store.zscore(keys[0], user["id"]) is None and not store.exists(keys[1], keys[2]):
            break
        await asyncio.sleep(0.05)
    assert store.zscore(keys[0], user["id"]) is None
    assert store.exists(keys[1], keys[2]) == 0
    async with clients(Client(new_user("doctor"))) as (other,):
        await other.connect(server.url)
        assert other.sio.connected
