"""Cross-task fan-out through Redis: each task listens on its own channel `task:<id>` only.

`RedisFanout` is the RealtimeNotifier of the socket tier AND of the Lambdas (no local sockets
there): it emits straight to local sockets when this task holds the user's, then, in ONE round trip
(a Lua script), reads which other live tasks hold the user's sockets (presence) and publishes one
message per such task. A task therefore handles its own users' traffic, not the whole cluster's
(the stock Redis manager broadcasts every emit to every task on one channel).

Delivery: the pool waits for a connection under bursts (never "Too many connections"), the client
retries connection errors with backoff, and the publish is retried until a deadline; a retry after
a lost reply can deliver twice, so clients drop duplicates by `messageId` (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ..errors import Unavailable
from .redis_client import HIREDIS, script_batcher
from .redis_presence import CONNS_PREFIX, check_task_id

logger = logging.getLogger(__name__)

if HIREDIS:
    from .resp import RespConnection

CHANNEL_PREFIX = "task:"
# A subscription quiet for this long sends a PING: a dead connection is found and replaced.
PING_SECONDS = 30.0
LocalEmit = Callable[[str, str, dict[str, Any]], Awaitable[None]]
# (user id, sid): close that socket of this task (MAX_SOCKETS_PER_USER counted across tasks).
OnClose = Callable[[str, str], Awaitable[None]]

# KEYS: conns of each user (one for a one-to-one message; every member for a care team, #18).
# ARGV: own task ('' from a Lambda), payload, channel prefix. One PUBLISH per live task holding
# any of the users (not one per user): the payload names them all, and each task emits to the
# ones it holds. Returns how many tasks the message was published to.
_ROUTE_AND_PUBLISH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen, n = {}, 0
for _, key in ipairs(KEYS) do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')) do
    local task = string.match(m, '^([^|]+)|')
    if task and task ~= ARGV[1] and not seen[task] then
      seen[task] = true
      redis.call('PUBLISH', ARGV[3] .. task, ARGV[2])
      n = n + 1
    end
  end
end
return n
"""


def channel_of(task_id: str) -> str:
    return CHANNEL_PREFIX + task_id


# One encoder for every fan-out message: `json.dumps` with options builds a new encoder per
# call, twice per message sent (issue #19). The same text as json.dumps(..., separators=(",",
# ":"), default=str).
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def encode(user_id: str, event: str, data: dict[str, Any]) -> str:
    return _ENCODE({"u": user_id, "e": event, "d": data})


def encode_many(user_ids: list[str], event: str, data: dict[str, Any]) -> str:
    """One event for several users (a care team's members): each task emits to those it holds."""
    return _ENCODE({"us": user_ids, "e": event, "d": data})


def encode_close(user_id: str, sid: str) -> str:
    """A control message, not an event: no client ever receives it."""
    return json.dumps({"u": user_id, "close": sid}, separators=(",", ":"))


async def publish_close(redis: Redis, task_id: str, user_id: str, sid: str) -> None:
    """Ask the task that holds `sid` to close it (the user's oldest socket over the cap)."""
    await redis.publish(channel_of(check_task_id(task_id)), encode_close(user_id, sid))


class RedisFanout:
    """RealtimeNotifier over Redis; `local_emit`/`has_local` are set on a socket task only."""

    def __init__(
        self,
        redis: Redis,
        *,
        task_id: str | None = None,
        local_emit: LocalEmit | None = None,
        has_local: Callable[[str], bool] | None = None,
        deadline_seconds: float = 10.0,
    ) -> None:
        self.redis = redis
        self.task_id = check_task_id(task_id) if task_id else ""
        self._local_emit = local_emit
        self._has_local = has_local
        self._deadline = deadline_seconds
        self._route = script_batcher(redis).register(_ROUTE_AND_PUBLISH)
        self.published = 0
        self.retried = 0

    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        if (
            self._local_emit is not None
            and self._has_local is not None
            and self._has_local(user_id)
        ):
            # Same task: straight to the sockets, no Redis hop on the delivery path.
            await self._local_emit(user_id, event, data)
        # Other devices of the user may sit on other tasks: the script publishes to those only.
        await self._publish(user_id, encode(user_id, event, data))

    async def emit_to_users(self, user_ids: list[str], event: str, data: dict[str, Any]) -> None:
        """Care teams (#18): local sockets first, then one publish per other task holding any."""
        if self._local_emit is not None and self._has_local is not None:
            for user_id in user_ids:
                if self._has_local(user_id):
                    await self._local_emit(user_id, event, data)
        keys = [CONNS_PREFIX + u for u in user_ids]
        await self._publish_with(self._route, keys, encode_many(user_ids, event, data))

    async def _publish(self, user_id: str, payload: str) -> None:
        await self._publish_with(self._route, [CONNS_PREFIX + user_id], payload)

    async def _publish_with(self, route: Any, keys: list[str], payload: str) -> None:
        give_up = time.monotonic() + self._deadline
        delay = 0.05
        while True:
            try:
                sent = await route(keys=keys, args=[self.task_id, payload, CHANNEL_PREFIX])
                self.published += int(sent)
                return
            except RedisError as exc:
                if time.monotonic() + delay > give_up:
                    raise Unavailable("realtime fan-out unavailable") from exc
                self.retried += 1
                logger.warning("fan-out publish retry", extra={"error": type(exc).__name__})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


class TaskChannel:
    """A socket task's subscription to its own channel: each message becomes a local emit."""

    def __init__(
        self, redis: Redis, task_id: str, local_emit: LocalEmit, on_close: OnClose | None = None
    ) -> None:
        self.redis = redis
        self.channel = channel_of(check_task_id(task_id))
        self._local_emit = local_emit
        self._on_close = on_close
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.received = 0

    async def run(self) -> None:
        """Listen until `stop()`; reconnect with backoff when Redis goes away."""
        delay = 0.1
        while not self._stopping.is_set():
            try:
                if HIREDIS:
                    await self._listen_lean()
                else:
                    await self._listen_pubsub()
                delay = 0.1
            except (RedisError, OSError, TimeoutError) as exc:
                self.ready.clear()
                logger.warning(
                    "task channel lost; resubscribing", extra={"error": type(exc).__name__}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _listen_lean(self) -> None:
        """The subscription on a lean connection: messages that arrive together are delivered
        together, with no per-message wait or timeout (adapters/resp.py)."""
        loop = asyncio.get_running_loop()
        inbox: list[bytes] = []
        wake: asyncio.Future[None] = loop.create_future()

        def on_push(reply: list[Any]) -> None:
            inbox.append(reply[-1])
            if not wake.done():
                wake.set_result(None)

        conn = await RespConnection.open_like(self.redis, on_push)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait_for(conn.call("SUBSCRIBE", self.channel), 10)
            self.ready.set()
            while not self._stopping.is_set():
                watched: set[asyncio.Future[Any]] = {wake, conn.closed, stopping}
                done, _ = await asyncio.wait(
                    watched, timeout=PING_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if wake.done():
                    wake = loop.create_future()
                batch, inbox[:] = inbox[:], []
                for raw in batch:
                    await self._deliver(raw)
                if conn.broken:
                    raise RedisConnectionError("task channel connection lost")
                if not done:  # quiet for a while: is the connection still alive?
                    await asyncio.wait_for(conn.call("PING"), 10)
        finally:
            stopping.cancel()
            conn.close()

    async def _listen_pubsub(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self.ready.set()
            while not self._stopping.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message.get("type") == "message":
                    await self._deliver(message["data"])
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _deliver(self, raw: bytes | str) -> None:
        try:
            body = json.loads(raw)
            if "close" in body:
                await self._close(str(body["u"]), str(body["close"]))
                return
            # One user, or several (a care team's members, #18).
            users = [str(u) for u in body["us"]] if "us" in body else [body["u"]]
            event, data = body["e"], body["d"]
        except (ValueError, KeyError, TypeError):
            logger.warning("dropped a malformed fan-out message")
            return
        self.received += 1
        for user in users:
            try:
                await self._local_emit(user, event, data)
            except Exception as exc:  # one bad socket must not stop the channel
                logger.warning("local emit failed", extra={"error": type(exc).__name__})

    async def _close(self, user_id: str, sid: str) -> None:
        if self._on_close is None:  # a task that caps nothing closes nothing
            return
        try:
            await self._on_close(user_id, sid)
        except Exception as exc:  # one bad socket must not stop the channel
            logger.warning("socket close failed", extra={"error": type(exc).__name__})

    def stop(self) -> None:
        self._stopping.set()
