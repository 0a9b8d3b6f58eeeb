"""Typing relay: throttled, and ends by itself when not refreshed (no network)."""

import asyncio
from typing import Any

import pytest
from messaging_core.errors import Unauthorized

from socket_tier.namespace import token_from
from socket_tier.typing_relay import TypingRelay


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def __call__(self, user: str, event: str, data: dict[str, Any]) -> None:
        self.sent.append((user, event, data))

    def events(self) -> list[str]:
        return [e for _, e, _ in self.sent]


async def test_a_keystroke_flood_relays_once_per_throttle_window() -> None:
    sink = Sink()
    relay = TypingRelay(sink, timeout=5, throttle=0.2)
    for _ in range(50):
        if not relay.refresh("u", "c"):
            await relay.start("u", "c", "p", "sid", "Alice")
    assert sink.events() == ["user_typing"]
    assert sink.sent[0] == (
        "p",
        "user_typing",
        {"conversationId": "c", "userId": "u", "userName": "Alice"},
    )
    await asyncio.sleep(0.25)
    assert not relay.refresh("u", "c")
    await relay.start("u", "c", "p", "sid", "Alice")
    assert sink.events() == ["user_typing", "user_typing"]
    relay.close()


async def test_typing_ends_by_itself_without_refresh() -> None:
    sink = Sink()
    relay = TypingRelay(sink, timeout=0.2, throttle=1)
    await relay.start("u", "c", "p", "sid", None)
    await asyncio.sleep(0.1)
    relay.refresh("u", "c")  # a refresh pushes the end back
    await asyncio.sleep(0.15)
    assert sink.events() == ["user_typing"]
    await asyncio.sleep(0.15)
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
