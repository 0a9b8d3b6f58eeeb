"""Typing relay: throttled, and ends by itself when not refreshed (no network)."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from messaging_core.errors import Unauthorized

from socket_tier.namespace import token_from
from socket_tier.typing_relay import TypingRelay


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self._changed = asyncio.Event()

    async def __call__(self, user: str, event: str, data: dict[str, Any]) -> None:
        self.sent.append((user, event, data))
        self._changed.set()

    def events(self) -> list[str]:
        return [e for _, e, _ in self.sent]

    async def wait_for_count(self, n: int) -> None:
        """Wait until `n` events were sent (the expiry relays from a task of its own)."""

        async def reached() -> None:
            while len(self.sent) < n:
                self._changed.clear()
                await self._changed.wait()

        # A safety bound against a hang, not a timing: the fake clock decides when typing ends.
        await asyncio.wait_for(reached(), timeout=10)


class FakeTime:
    """A clock and a timer queue the test moves forward by hand: no test waits on real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, Callable[[], None], FakeTimer]] = []

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> "FakeTimer":
        timer = FakeTimer()
        self._timers.append((self.now + delay, callback, timer))
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self._timers if t[0] <= self.now]
        self._timers = [t for t in self._timers if t[0] > self.now]
        for _, callback, timer in sorted(due, key=lambda t: t[0]):
            if not timer.cancelled:
                callback()


class FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


async def yield_to_loop() -> None:
    """Let tasks already scheduled run (zero-delay yields, no time passes)."""
    for _ in range(3):
        await asyncio.sleep(0)


def relay_with(sink: Sink, t: FakeTime, *, timeout: float, throttle: float) -> TypingRelay:
    return TypingRelay(sink, timeout=timeout, throttle=throttle, clock=t, schedule=t.call_later)


async def test_a_keystroke_flood_relays_once_per_throttle_window() -> None:
    sink, t = Sink(), FakeTime()
    relay = relay_with(sink, t, timeout=5, throttle=0.2)
    for _ in range(50):
        if not relay.refresh("u", "c"):
            await relay.start("u", "c", "p", "sid", "Alice")
    assert sink.events() == ["user_typing"]
    assert sink.sent[0] == (
        "p",
        "user_typing",
        {"conversationId": "c", "userId": "u", "userName": "Alice"},
    )
    t.advance(0.25)
    assert not relay.refresh("u", "c")
    await relay.start("u", "c", "p", "sid", "Alice")
    assert sink.events() == ["user_typing", "user_typing"]
    relay.close()


async def test_typing_ends_by_itself_without_refresh() -> None:
    sink, t = Sink(), FakeTime()
    relay = relay_with(sink, t, timeout=0.2, throttle=1)
    await relay.start("u", "c", "p", "sid", None)
    t.advance(0.1)
    relay.refresh("u", "c")  # a refresh pushes the end back
    t.advance(0.15)
    await yield_to_loop()  # a stop the expiry had scheduled would run now
    assert relay.is_typing("u", "c")
    assert sink.events() == ["user_typing"]
    t.advance(0.15)
    await sink.wait_for_count(2)
    assert sink.events() == ["user_typing", "user_stopped_typing"]
    assert sink.sent[1][2] == {"conversationId": "c", "userId": "u"}
    assert not relay.is_typing("u", "c")


async def test_a_closed_socket_stops_its_typing_at_once() -> None:
    sink = Sink()
    relay = TypingRelay(sink, timeout=5, throttle=1)
    await relay.start("u", "c", "p", "sid-1", None)
    await relay.start("v", "c", "q", "sid-2", None)
    await relay.drop_socket("sid-1")
    assert sink.sent[-1] == ("p", "user_stopped_typing", {"conversationId": "c", "userId": "u"})
    assert relay.is_typing("v", "c")
    relay.close()


def test_token_from_auth_then_header() -> None:
    assert token_from({"token": "abc"}, {}) == "abc"
    assert token_from({"token": "Bearer abc"}, {}) == "abc"
    assert token_from(None, {"HTTP_AUTHORIZATION": "Bearer xyz"}) == "xyz"
    with pytest.raises(Unauthorized):
        token_from(None, {})
    with pytest.raises(Unauthorized):
        token_from({}, {"HTTP_AUTHORIZATION": "Basic xyz"})
