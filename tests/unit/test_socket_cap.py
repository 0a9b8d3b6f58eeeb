"""The cross-task socket cap's local half: close requests arriving on the task channel."""

from __future__ import annotations

from typing import Any, cast

import pytest
from messaging_core.adapters.redis_fanout import TaskChannel, encode, encode_close
from messaging_core.adapters.redis_presence import Entered, RedisPresence
from messaging_core.errors import RateLimited
from messaging_core.models import Principal
from redis.asyncio import Redis

from socket_tier.socket_cap import SharedSocketCap


class FakePresence:
    task_id = "task-a"

    def __init__(self, over: list[tuple[str, str]], spent: bool = False) -> None:
        self.over = over
        self.spent = spent

    async def enter(
        self, user_id: str, sid: str, cap: int, budget: tuple[str, int, int]
    ) -> Entered | None:
        return None if self.spent else Entered(False, self.over)


def cap_with(
    over: list[tuple[str, str]], users: dict[str, Principal], spent: bool = False
) -> tuple[SharedSocketCap, list[str]]:
    evicted: list[str] = []
    cap = SharedSocketCap(
        cast(RedisPresence, FakePresence(over, spent)),
        cast(Redis, object()),
        10,
        users=users,
        evict=evicted.append,
    )
    return cap, evicted


async def test_a_close_request_closes_only_that_users_socket() -> None:
    alice, bob = Principal("alice", "patient"), Principal("bob", "doctor")
    cap, evicted = cap_with([], {"s-alice": alice, "s-bob": bob})
    # A request naming Bob's socket as Alice's (stale or forged) closes nothing
    await cap.close_here("alice", "s-bob")
    # Nor one for a socket this task does not hold
    await cap.close_here("alice", "gone")
    assert evicted == []
    await cap.close_here("alice", "s-alice")
    assert evicted == ["s-alice"]


async def test_the_oldest_on_this_task_is_closed_here() -> None:
    alice = Principal("alice", "patient")
    cap, evicted = cap_with([("task-a", "s-old")], {"s-old": alice, "s-new": alice})
    entered = await cap.enter("alice", "s-new", ("connect:alice", 30, 60), "slow down")
    assert entered == Entered(False, [("task-a", "s-old")])
    assert evicted == []  # closed once the new socket is held
    await cap.close_over_cap("alice", entered.over_cap)
    assert evicted == ["s-old"]


async def test_a_spent_connect_budget_is_refused_and_closes_nothing() -> None:
    alice = Principal("alice", "patient")
    cap, evicted = cap_with([("task-a", "s-old")], {"s-old": alice}, spent=True)
    with pytest.raises(RateLimited, match="slow down"):
        await cap.enter("alice", "s-new", ("connect:alice", 30, 60), "slow down")
    assert evicted == []


async def test_the_task_channel_hands_close_requests_over_and_emits_nothing() -> None:
    emitted: list[tuple[str, str, dict[str, Any]]] = []
    closes: list[tuple[str, str]] = []

    async def emit(user: str, event: str, data: dict[str, Any]) -> None:
        emitted.append((user, event, data))

    async def on_close(user: str, sid: str) -> None:
        closes.append((user, sid))

    channel = TaskChannel(cast(Redis, object()), "task-a", emit, on_close=on_close)
    await channel._deliver(encode_close("alice", "s-old"))
    await channel._deliver(encode("alice", "new_message", {"id": "m1"}))
    assert closes == [("alice", "s-old")]
    assert emitted == [("alice", "new_message", {"id": "m1"})]
    # A task built without a close handler drops the request: never an emit to the user
    quiet = TaskChannel(cast(Redis, object()), "task-b", emit)
    await quiet._deliver(encode_close("alice", "s-x"))
    assert len(emitted) == 1
