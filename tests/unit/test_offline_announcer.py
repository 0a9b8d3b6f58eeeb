"""The reaper's `user_offline` announcements never hold up the task's presence heartbeat (#19).

A drain leaves thousands of users due at once; announced inside the heartbeat loop, they kept
the surviving task from refreshing its own connections past the presence TTL under a reconnect
storm, and messages to its connected users stopped being pushed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from messaging_core import presence

from socket_tier.lifecycle import Lifecycle
from socket_tier.offline_announcer import OfflineAnnouncer
from socket_tier.settings import SocketSettings
from socket_tier.tasks import BackgroundTasks
from socket_tier.typing_relay import TypingRelay
from tests.conftest import make_settings


class FakeCluster:
    """The presence's heartbeat and reaper: 250 users due at the first reap, then none."""

    def __init__(self) -> None:
        self.heartbeats = 0
        self.due = [f"u{i}" for i in range(250)]

    async def heartbeat(self) -> int:
        self.heartbeats += 1
        return 0

    async def reap(self, limit: int = 100) -> list[str]:
        taken, self.due = self.due[:limit], self.due[limit:]
        return taken


async def noop(*_: Any) -> None:
    return None


async def test_heartbeats_go_on_while_the_announcements_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = BackgroundTasks()
    sock = SocketSettings(  # type: ignore[call-arg]
        _env_file=None, presence_heartbeat_seconds=0.01, presence_ttl_seconds=1
    )
    lifecycle = Lifecycle(
        make_settings(),
        sock,
        local_emit=noop,
        tasks=tasks,
        typing=TypingRelay(noop, 5, 1),
        sweep_revoked=lambda: asyncio.sleep(0, 0),
    )
    released = asyncio.Event()
    announced: list[str] = []

    async def slow_announce(core: object, user: str, event: str) -> int:
        assert event == "user_offline"
        assert core is lifecycle.core
        await released.wait()  # the store, slow under a storm
        announced.append(user)
        return 1

    monkeypatch.setattr(presence, "announce", slow_announce)
    lifecycle._runtime = SimpleNamespace(core=object())  # type: ignore[assignment]
    cluster = FakeCluster()
    loop = asyncio.create_task(lifecycle._heartbeat_loop(cluster))  # type: ignore[arg-type]
    try:
        for _ in range(500):  # bounded: until the heartbeat has gone round a few times
            if cluster.heartbeats >= 5:
                break
            await asyncio.sleep(0.01)
        # Every due user was taken from the reaper, none announced yet, the heartbeat goes on.
        assert cluster.heartbeats >= 5
        assert cluster.due == []
        assert announced == []
        released.set()
        await tasks.wait(5)
        assert sorted(announced) == sorted(f"u{i}" for i in range(250))  # each exactly once
        assert lifecycle._offline.pending == 0  # type: ignore[attr-defined]
    finally:
        loop.cancel()


async def test_a_failed_announcement_does_not_stop_the_others() -> None:
    tasks = BackgroundTasks()
    announced: list[str] = []

    async def announce(user: str) -> None:
        if user == "bad":
            raise ConnectionError("store unreachable")
        announced.append(user)

    announcer = OfflineAnnouncer(announce, tasks, at_once=2)
    announcer.add(["a", "bad", "b", "c"])
    announcer.add(["d"])  # while the first batch runs: the same worker takes it
    await tasks.wait(5)
    assert announced == ["a", "b", "c", "d"]
    assert announcer.pending == 0
    announcer.add(["e"])  # a new worker once the last one ended
    await tasks.wait(5)
    assert announced[-1] == "e"
