"""A flooder's reconnect is refused before its token is verified (#11, socket_tier/cooldown.py).

The flood run of bench/abuse_bench.py showed where a one-account flood costs the server: each
reconnect paid a full authenticated handshake (token check, revocation marks and the connect
budget in Redis, presence writes) and then about a second's inbound budget of events. A token
closed for flooding, or whose connect was refused, now waits FLOOD_COOLDOWN_SECONDS on the
task: its next connects are refused with a dictionary look-up and closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import engineio
import pytest
from messaging_core.auth import mint_token
from pydantic import SecretStr

from socket_tier.cooldown import COOLING_DOWN
from socket_tier.transport import FLOOD_REFUSED
from tests.e2e.socket_harness import SETTINGS, new_user
from tests.integration.test_socket_abuse import Probe, Served, _serve, _until, probes

pytestmark = pytest.mark.integration


def connect_budget_spent(served: Served, user_id: str) -> int:
    """How many connects of this user reached the connect budget (the in-memory limiter)."""
    hits = served.rt.core.rate_limiter._hits  # type: ignore[attr-defined]
    return len(hits.get(f"connect:{user_id}", ()))


async def flood_until_closed(flooder: Probe) -> None:
    for _ in range(60):  # bounded; emits without waiting, as a script would
        if flooder.gone.is_set():
            break
        with contextlib.suppress(Exception):
            await flooder.sio.emit("typing_stop", {"conversationId": "6" * 24})
        await asyncio.sleep(0)
    assert FLOOD_REFUSED in await flooder.closed_with(FLOOD_REFUSED)


async def raw_connect(url: str, token: str) -> tuple[list[str], asyncio.Event, Any]:
    """An Engine.IO client that sends one Socket.IO connect; what it hears, and its close."""
    eio = engineio.AsyncClient()
    got: list[str] = []
    gone = asyncio.Event()

    @eio.on("message")  # type: ignore[misc]
    async def _message(data: Any) -> None:
        got.append(str(data))

    @eio.on("disconnect")  # type: ignore[misc]
    async def _gone(*_: Any) -> None:
        gone.set()

    await eio.connect(url, transports=["websocket"], engineio_path="socket.io")
    await eio.send("0" + json.dumps({"token": token}))
    return got, gone, eio


async def test_a_closed_flooder_reconnects_into_a_cheap_refusal() -> None:
    now = [0.0]
    async for served in _serve(
        inbound_packets_per_second=20, flood_cooldown_seconds=10.0, flood_refusal_delay_seconds=0
    ):
        # One clock for the meters and the cooldown: frozen, then moved on by hand.
        served.rt.sio._clock = lambda: now[0]
        user = new_user("doctor")
        async with probes(Probe(user), Probe()) as (flooder, calm):
            await flooder.connect(served.url)
            await calm.connect(served.url)
            await flood_until_closed(flooder)
            spent = connect_budget_spent(served, user["id"])
            # When the flooder reconnects with the same token
            got, gone, eio = await raw_connect(served.url, user["token"])
            try:
                # Then it hears CONNECT_ERROR saying to wait, and the server closes it at once
                await asyncio.wait_for(gone.wait(), 5)
                assert any(m.startswith("4") and COOLING_DOWN in m for m in got), got
            finally:
                with contextlib.suppress(Exception):
                    await eio.disconnect()
            # Without verifying the token or spending its connect budget
            assert connect_budget_spent(served, user["id"]) == spent
            assert served.rt.sio.refused_cooling == 1
            assert served.rt.sio.dropped_unauthenticated == 0  # closed, not left to the timer
            # And another user of the task is unaffected
            ack = await calm.sio.call("join_conversation", {"conversationId": "6" * 24}, timeout=5)
            assert ack["ok"] is False
            # Once the cooldown is over the same token connects again
            now[0] += 10.0
            again = Probe(user)
            async with probes(again):
                await again.connect(served.url)
                assert again.sio.connected


async def test_a_fresh_token_of_the_closed_flooder_is_refused_too() -> None:
    # A flooder can sign in again for a new token: the user it claims is cooling down as well
    async for served in _serve(
        inbound_packets_per_second=20, flood_cooldown_seconds=10.0, flood_refusal_delay_seconds=0
    ):
        served.rt.sio._clock = lambda: 0.0
        user = new_user("doctor")
        async with probes(Probe(user)) as (flooder,):
            await flooder.connect(served.url)
            await flood_until_closed(flooder)
        fresh = mint_token(SETTINGS, user["id"], "doctor", issued_at=int(time.time()) - 5)
        assert fresh != user["token"]
        got, gone, eio = await raw_connect(served.url, fresh)
        try:
            await asyncio.wait_for(gone.wait(), 5)
            assert any(m.startswith("4") and COOLING_DOWN in m for m in got), got
        finally:
            with contextlib.suppress(Exception):
                await eio.disconnect()
        # And a forged claim cannot put someone else in the cooldown: a refused token that
        # claims a calm user leaves that user's own tokens alone
        calm = new_user("doctor")
        forged = mint_token(
            SETTINGS.model_copy(update={"jwt_secret": SecretStr("x" * 40)}), calm["id"], "doctor"
        )
        refused, _, eio = await raw_connect(served.url, forged)
        try:
            assert await _until(lambda got=refused: bool(got))
        finally:
            with contextlib.suppress(Exception):
                await eio.disconnect()
        async with probes(Probe(calm)) as (p,):
            await p.connect(served.url)
            assert p.sio.connected


async def test_a_refused_connect_puts_its_token_in_the_cooldown() -> None:
    async for served in _serve(flood_cooldown_seconds=10.0, flood_refusal_delay_seconds=0):
        served.rt.sio._clock = lambda: 0.0
        # Given a token the server refuses (not a JWT)
        first, _, eio1 = await raw_connect(served.url, "not-a-token")
        assert await _until(lambda got=first: bool(got))  # refused before the second one tries
        second, gone2, eio2 = await raw_connect(served.url, "not-a-token")
        try:
            # Then the first is refused by the token check, the second by the cooldown
            await asyncio.wait_for(gone2.wait(), 5)
            assert any(m.startswith("4") and COOLING_DOWN not in m for m in first), first
            assert any(m.startswith("4") and COOLING_DOWN in m for m in second), second
            assert served.rt.sio.refused_cooling == 1
        finally:
            for eio in (eio1, eio2):
                with contextlib.suppress(Exception):
                    await eio.disconnect()


async def cooled_task(**sock: Any) -> AsyncIterator[Served]:
    """A task (its clock frozen) on which the token BAD is cooling down: its first connect was
    refused by the token check."""
    async for served in _serve(flood_cooldown_seconds=10.0, **sock):
        served.rt.sio._clock = lambda: 0.0
        first, _, eio = await raw_connect(served.url, BAD)
        try:
            assert await _until(lambda first=first: bool(first))
            assert COOLING_DOWN not in first[0]
        finally:
            with contextlib.suppress(Exception):
                await eio.disconnect()
        yield served


BAD = "not-a-token"


async def test_a_cooling_down_reconnect_is_held_then_refused() -> None:
    # A script that reconnects as soon as it is refused would cost the task a handshake each
    # time (~20 a second in bench/abuse_bench.py): its refusal now comes after a pause.
    async for served in cooled_task(flood_refusal_delay_seconds=1.0, inbound_packets_per_second=5):
        got, gone, eio = await raw_connect(served.url, BAD)
        try:
            sio = served.rt.sio
            assert await _until(lambda sio=sio: sio.refused_cooling == 1)
            # Then it is held: nothing sent yet, the connection still open
            assert len(sio.held) == 1
            assert got == []
            assert not gone.is_set()
            # And whatever it sends meanwhile is not parsed (twice the inbound budget: parsed,
            # it would be closed for flooding)
            for _ in range(10):
                await eio.send("2" + json.dumps(["typing_start", {"conversationId": "6" * 24}]))
            # Then, after the pause, it hears why and is closed (by the refusal, not the timer)
            await asyncio.wait_for(gone.wait(), 5)
            assert any(m.startswith("4") and COOLING_DOWN in m for m in got), got
            assert served.rt.sio.held == {}
            assert served.rt.sio.dropped_unauthenticated == 0
            assert served.rt.sio.refused_flood == 0
        finally:
            with contextlib.suppress(Exception):
                await eio.disconnect()


async def test_past_the_held_cap_a_refusal_is_sent_at_once() -> None:
    async for served in cooled_task(flood_refusal_delay_seconds=5.0, flood_held_max=1):
        sio = served.rt.sio
        held, _, eio1 = await raw_connect(served.url, BAD)
        assert await _until(lambda sio=sio: len(sio.held) == 1)
        # When a second cooling-down connect arrives while the cap is reached
        now, now_gone, eio2 = await raw_connect(served.url, BAD)
        try:
            # Then it is refused at once, while the first is still held
            await asyncio.wait_for(now_gone.wait(), 4)
            assert any(COOLING_DOWN in m for m in now), now
            assert held == []
            assert len(sio.held) == 1
            # And a held client that leaves takes its timer with it
            await eio1.disconnect()
            assert await _until(lambda sio=sio: sio.held == {})
            assert held == []
        finally:
            for eio in (eio1, eio2):
                with contextlib.suppress(Exception):
                    await eio.disconnect()
