"""Typing indicators: throttled relays, and a state that ends by itself when not refreshed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

Notify = Callable[[str, str, dict[str, Any]], Awaitable[None]]
Key = tuple[str, str]  # (user id, conversation id)


class Timer(Protocol):
    def cancel(self) -> None: ...


# (delay in seconds, callback) -> a cancellable timer; the loop's call_later by default.
Schedule = Callable[[float, Callable[[], None]], Timer]


def _call_later(delay: float, callback: Callable[[], None]) -> Timer:
    return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(slots=True)
class _Typing:
    other: str
    sid: str
    last_relay: float
    timer: Timer | None = None


class TypingRelay:
    """Per-task typing state: a client sending typing_start on every keystroke costs one relay a
    second at most, and a client that vanishes mid-sentence stops "typing" after `timeout`."""

    def __init__(
        self,
        notify: Notify,
        timeout: float = 5.0,
        throttle: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        schedule: Schedule = _call_later,
    ) -> None:
        self._notify = notify
        self._timeout = timeout
        self._throttle = throttle
        # Both injectable, so tests move time forward instead of sleeping through it.
        self._clock = clock
        self._schedule = schedule
        self._state: dict[Key, _Typing] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def refresh(self, user_id: str, conversation_id: str) -> bool:
        """Extend a typing state already authorized and relayed less than `throttle` ago.

        True means the caller has nothing more to do (no store look-up, no relay)."""
        st = self._state.get((user_id, conversation_id))
        if st is None or self._clock() - st.last_relay >= self._throttle:
            return False
        self._arm((user_id, conversation_id), st)
        return True

    async def start(
        self, user_id: str, conversation_id: str, other: str, sid: str, user_name: str | None
    ) -> bool:
        """Relay `user_typing` unless throttled; returns whether a relay went out."""
        key = (user_id, conversation_id)
        now = self._clock()
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = _Typing(other=other, sid=sid, last_relay=float("-inf"))
        self._arm(key, st)
        if now - st.last_relay < self._throttle:
            return False
        st.last_relay = now
        payload = {"conversationId": conversation_id, "userId": user_id, "userName": user_name}
        await self._notify(other, "user_typing", payload)
        return True

    async def stop(self, user_id: str, conversation_id: str, other: str) -> None:
        st = self._state.pop((user_id, conversation_id), None)
        if st is not None and st.timer is not None:
            st.timer.cancel()
        payload = {"conversationId": conversation_id, "userId": user_id}
        await self._notify(other, "user_stopped_typing", payload)

    def is_typing(self, user_id: str, conversation_id: str) -> bool:
        return (user_id, conversation_id) in self._state

    async def end_for_message(self, user_id: str, conversation_id: str, other: str) -> None:
        """A sent message ends the sender's typing state in that conversation."""
        st = self._state.get((user_id, conversation_id))
        if st is not None:
            # Whom the start went to (a care team's members: the sender names no one, #18).
            await self.stop(user_id, conversation_id, st.other or other)

    async def drop_socket(self, sid: str) -> None:
        """A socket went away mid-typing: its partner sees the indicator stop at once."""
        for (user, conv), st in list(self._state.items()):
            if st.sid == sid:
                await self.stop(user, conv, st.other)

    def _arm(self, key: Key, st: _Typing) -> None:
        if st.timer is not None:
            st.timer.cancel()
        st.timer = self._schedule(self._timeout, lambda: self._expire(key, st))

    def _expire(self, key: Key, st: _Typing) -> None:
        if self._state.get(key) is not st:
            return
        task = asyncio.get_running_loop().create_task(self.stop(key[0], key[1], st.other))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for st in self._state.values():
            if st.timer is not None:
                st.timer.cancel()
        self._state.clear()
