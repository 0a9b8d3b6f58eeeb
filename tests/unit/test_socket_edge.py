"""Issue 13: the socket edge holds no rule of its own.

The namespace runs here on a fake `SocketContext` (the protocol it depends on), with the real
Core on the in-memory store; the rules it calls are the ones REST calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from messaging_core import presence
from messaging_core.adapters.memory import MemoryPresence, RecordingNotifier
from messaging_core.conversations import open_conversation
from messaging_core.core import Core
from messaging_core.errors import Unauthorized
from messaging_core.inputs import ConversationRefIn, SocketMarkReadIn, parse_input
from messaging_core.models import Principal

from socket_tier.health import health_app
from socket_tier.namespace import MessagingNamespace
from socket_tier.typing_relay import Timer, TypingRelay
from tests.conftest import Cast

SID = "sid-1"


class _NoTimer:
    def cancel(self) -> None:
        return None


class CountingLimiter:
    """Lets everything through and counts each budget's hits."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        self.hits.append(key.split(":", 1)[0])
        return True


@dataclass
class FakeContext:
    """A `SocketContext` without a server: one signed-in socket, a clock that stands still."""

    core: Core
    user: Principal
    now: float = 100.0
    relays: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    typing: TypingRelay = field(init=False)

    def __post_init__(self) -> None:
        async def notify(user_id: str, event: str, data: dict[str, Any]) -> None:
            self.relays.append((user_id, event, data))

        def schedule(_delay: float, _callback: Any) -> Timer:
            return _NoTimer()

        self.typing = TypingRelay(notify, clock=lambda: self.now, schedule=schedule)

    def user_of(self, sid: str) -> Principal:
        if sid != SID:
            raise Unauthorized("Not authenticated")
        return self.user

    async def connected(self, sid: str, user: Principal) -> None:
        return None

    async def disconnected(self, sid: str) -> None:
        return None


async def _conversation(core: Core, cast: Cast) -> str:
    opened = await open_conversation(core, cast.patient.principal, cast.doctor.id, "doctor")
    return str(opened.conversation["conversationId"])


def test_ids_are_lower_cased_by_the_input_models() -> None:
    upper = "ABCDEF0123456789ABCDEF01"
    ref = parse_input(ConversationRefIn, {"conversationId": upper, "receiverId": upper})
    assert (ref.conversationId, ref.receiverId) == (upper.lower(), upper.lower())
    marks = parse_input(SocketMarkReadIn, {"conversationId": upper, "messageIds": [upper]})
    assert marks.messageIds == [upper.lower()]


async def test_a_throttled_keystroke_with_an_upper_case_id_costs_nothing(
    core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`refresh` used the raw id while the relay stored the lower-cased one: every keystroke
    typed with an upper-case id paid a budget hit and a conversation look-up."""
    conv = await _conversation(core, cast)
    limiter = CountingLimiter()
    monkeypatch.setattr(core, "rate_limiter", limiter)
    ctx = FakeContext(core, cast.patient.principal)
    ns = MessagingNamespace(ctx)
    first = await ns.on_typing_start(SID, {"conversationId": conv.upper()})
    second = await ns.on_typing_start(SID, {"conversationId": conv.upper()})
    assert first == {"ok": True, "relayed": True}
    assert second == {"ok": True, "relayed": False}
    assert limiter.hits.count("typing") == 1
    assert [(to, event) for to, event, _ in ctx.relays] == [(cast.doctor.id, "user_typing")]
    assert ctx.relays[0][2]["conversationId"] == conv


async def test_send_confirms_from_the_typed_result_and_ends_typing(core: Core, cast: Cast) -> None:
    conv = await _conversation(core, cast)
    ctx = FakeContext(core, cast.patient.principal)
    ns = MessagingNamespace(ctx)
    emitted: list[tuple[str, Any]] = []

    async def emit(event: str, data: Any, **_: Any) -> None:
        emitted.append((event, data))

    ns.emit = emit  # type: ignore[method-assign]
    await ns.on_typing_start(SID, {"conversationId": conv})
    ack = await ns.on_send_message(SID, {"conversationId": conv, "content": "hi", "tempId": "t1"})
    assert ack["ok"] is True
    assert ack["duplicate"] is False
    assert ack["seq"] == 1
    assert emitted == [
        (
            "message_sent",
            {"tempId": "t1", "messageId": ack["messageId"], "timestamp": ack["timestamp"]},
        )
    ]
    assert not ctx.typing.is_typing(cast.patient.id, conv)
    again = await ns.on_send_message(SID, {"conversationId": conv, "content": "hi", "tempId": "t1"})
    assert (again["messageId"], again["duplicate"]) == (ack["messageId"], True)
    page = await ns.on_sync(SID, {"conversationId": conv.upper(), "afterSeq": 0})
    assert page["conversationId"] == conv
    assert page["hasMore"] is False
    assert [m["id"] for m in page["messages"]] == [ack["messageId"]]


async def test_typing_with_a_wrong_receiver_is_refused_like_a_send(core: Core, cast: Cast) -> None:
    conv = await _conversation(core, cast)
    ns = MessagingNamespace(FakeContext(core, cast.patient.principal))
    errors: list[Any] = []

    async def emit(_event: str, data: Any, **_: Any) -> None:
        errors.append(data)

    ns.emit = emit  # type: ignore[method-assign]
    payload = {"conversationId": conv, "receiverId": cast.doctor2.id}
    typing = await ns.on_typing_start(SID, payload)
    sending = await ns.on_send_message(SID, {**payload, "content": "hi"})
    assert typing["ok"] is False
    assert sending["ok"] is False
    assert typing["message"] == sending["message"]
    assert typing["message"] == "receiverId is not the other participant of this conversation"


async def test_presence_is_announced_to_online_partners_only(core: Core, cast: Cast) -> None:
    await _conversation(core, cast)
    online = MemoryPresence()
    await online.connect(cast.doctor.id, "d")
    await online.connect(cast.patient2.id, "stranger")
    notifier = RecordingNotifier()
    core.presence, core.notifier = online, notifier
    assert await presence.announce(core, cast.patient.id, "user_online") == 1
    [(to, event, data)] = list(notifier.emitted)
    assert (to, event, data["userId"]) == (cast.doctor.id, "user_online", cast.patient.id)
    assert await presence.announce(core, cast.patient2.id, "user_offline") == 0


class _BrokenPresence(MemoryPresence):
    async def online_count(self) -> int:
        raise ConnectionError("presence store down")


async def test_both_tiers_answer_health_from_one_core_function(
    core: Core, client: httpx.AsyncClient
) -> None:
    """REST `/health` and the socket tier's health app: the same body, degraded alike."""
    socket_health = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=health_app(lambda: core)),  # type: ignore[arg-type]
        base_url="http://127.0.0.1",
    )
    async with socket_health:
        for broken in (False, True):
            if broken:
                core.presence = _BrokenPresence()
            rest = await client.get("/health")
            sock = await socket_health.get("/health")
            assert rest.status_code == sock.status_code == 200
            a, b = rest.json(), sock.json()
            assert a.pop("timestamp")
            assert b.pop("timestamp")
            expected = "degraded" if broken else "healthy"
            assert (
                a
                == b
                == {
                    "service": "Messaging Service",
                    "status": expected,
                    "onlineUsers": None if broken else 0,
                }
            )
        assert (await socket_health.get("/nope")).status_code == 404
