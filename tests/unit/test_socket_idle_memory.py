"""What each idle socket holds (issue #19): one expiry timer per task, no request headers, and
nothing at all once its connect is refused.

Sockets close when their token expires, with one timer per task.

Each expiring socket used to hold its own loop timer and closure (about 0.5 KiB per idle
socket); now one timer is armed for the earliest expiry of a heap. The rule is unchanged: each
socket is told and closed once its token's `exp` has passed, and only those sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from messaging_core.config import Settings
from messaging_core.errors import RateLimited
from messaging_core.models import Principal

from socket_tier.connections import Connections
from socket_tier.settings import SocketSettings

SOCKETS = 100
T0 = 1_000_000.0


class FakeManager:
    def eio_sid_from_sid(self, sid: str, namespace: str) -> str:
        return "eio-" + sid


class FakeSio:
    def __init__(self) -> None:
        self.manager = FakeManager()
        self.environ: dict[str, dict[str, Any]] = {}

    async def enter_room(self, sid: str, room: str) -> None: ...


class FakePresence:
    async def connect(self, user_id: str, sid: str) -> bool:
        return True


class AllowingLimiter:
    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        return True


class FakeCore:
    """What a connect asks of the core here: its connect budget (always within it)."""

    settings = Settings(environment="development")
    rate_limiter = AllowingLimiter()


class FakeRunning:
    presence = FakePresence()
    core: Any = FakeCore()


class RecordingTasks:
    """Keeps which sessions were ended; runs nothing (no core behind this test)."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        frame = coro.cr_frame
        if coro.__qualname__ == "Connections.end_session" and frame is not None:
            self.ended.append(frame.f_locals["sid"])
        coro.close()


async def test_expiring_sockets_share_one_timer_and_each_closes_when_due() -> None:
    now = [T0]
    tasks = RecordingTasks()
    conns = Connections(
        FakeSio(),  # type: ignore[arg-type]
        SocketSettings(_env_file=None),  # type: ignore[call-arg]
        FakeRunning(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # typing relay: not used by connect
        tasks,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    loop = asyncio.get_running_loop()

    def live_timers() -> int:
        return sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]

    timers_before = live_timers()
    # Connected in reverse order of expiry: each new one is the earliest so far.
    for i in reversed(range(SOCKETS)):
        user = Principal(id=f"{i:024x}", role="patient", expires_at=T0 + 60 + i)
        await conns.connected(f"s{i}", user)
    assert live_timers() - timers_before <= 1

    now[0] = T0 + 60 + 49.5
    conns._expire_due()  # what the armed timer runs
    assert sorted(tasks.ended) == sorted(f"s{i}" for i in range(50))
    # A socket that left before its expiry is not closed again.
    conns.users.pop("s50")
    now[0] = T0 + 60 + SOCKETS
    conns._expire_due()
    assert sorted(tasks.ended[50:]) == sorted(f"s{i}" for i in range(51, SOCKETS))
    assert live_timers() - timers_before == 0  # nothing left to expire: no timer


def connections_on(sio: FakeSio) -> Connections:
    """A task's connections over a fake server; the typing relay is not used by a connect."""
    return Connections(
        sio,  # type: ignore[arg-type]
        SocketSettings(_env_file=None),  # type: ignore[call-arg]
        FakeRunning(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        RecordingTasks(),  # type: ignore[arg-type]
    )


async def test_a_connected_socket_keeps_no_request_headers() -> None:
    sio = FakeSio()
    sio.environ["eio-s1"] = {
        "HTTP_AUTHORIZATION": "Bearer a-token",
        "HTTP_USER_AGENT": "a browser" * 20,
        "HTTP_COOKIE": "c=1",
        "PATH_INFO": "/socket.io/",
        "REMOTE_ADDR": "127.0.0.1",
    }
    conns = connections_on(sio)
    await conns.connected("s1", Principal(id="a" * 24, role="patient"))
    assert sio.environ["eio-s1"] == {"PATH_INFO": "/socket.io/", "REMOTE_ADDR": "127.0.0.1"}


class RefusingCap:
    """A shared cap (Redis) whose connect budget is spent."""

    async def enter(self, *args: Any) -> Any:
        raise RateLimited("Too many connections: slow down")


class RoomRecordingSio(FakeSio):
    def __init__(self) -> None:
        super().__init__()
        self.rooms: set[tuple[str, str]] = set()

    async def enter_room(self, sid: str, room: str) -> None:
        self.rooms.add((sid, room))

    async def leave_room(self, sid: str, room: str) -> None:
        self.rooms.discard((sid, room))


async def test_a_connect_refused_by_the_shared_budget_holds_nothing() -> None:
    """Refused after joining its user's room (the budget is counted with presence, in Redis):
    the socket leaves the room, and no user, socket list or expiry is kept for it."""
    sio = RoomRecordingSio()
    conns = connections_on(sio)
    conns.cap = RefusingCap()  # type: ignore[assignment]
    user = Principal(id="b" * 24, role="patient", expires_at=T0 + 60)
    with pytest.raises(RateLimited):
        await conns.connected("s1", user)
    assert conns.users == {}
    assert conns.sockets_of == {}
    assert sio.rooms == set()
    assert conns._expiries == []
