"""One redis.asyncio client per process and loop, with a pool that waits instead of failing,
and the batcher that sends the per-send scripts of one loop turn as one pipeline (on the lean
connection of adapters/resp.py where hiredis is installed)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import Settings, read_secret

try:  # the socket image has hiredis; the Lambdas do without
    from .resp import RespConnection

    HIREDIS = True
except ImportError:  # pragma: no cover - depends on the image
    HIREDIS = False

logger = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 64
# How long a command may wait for a free pooled connection under a burst before it fails.
POOL_WAIT_SECONDS = 10.0

_clients: dict[tuple[str, int, int], Redis] = {}


def redis_client(settings: Settings, pool_size: int = DEFAULT_POOL_SIZE) -> Redis:
    """The process's client for `settings.redis_url` (cached per event loop: asyncio sockets are
    bound to the loop that opened them)."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set")
    key = (settings.redis_url, pool_size, id(asyncio.get_running_loop()))
    client = _clients.get(key)
    if client is None:
        client = build_redis(settings.redis_url, pool_size, redis_password(settings))
        _clients[key] = client
    return client


def build_redis(url: str, pool_size: int = DEFAULT_POOL_SIZE, password: str | None = None) -> Redis:
    # redis-py 8's default asyncio pool raises "Too many connections" when a burst exceeds it,
    # which made the stock manager drop emits; the blocking pool makes callers queue instead.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=POOL_WAIT_SECONDS,
        password=password,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.02), retries=6),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
    )
    return Redis(connection_pool=pool)


def redis_password(settings: Settings) -> str | None:
    # ElastiCache AUTH token from Secrets Manager in AWS; a URL with credentials works locally.
    if settings.redis_auth_secret_arn:
        return read_secret(settings.redis_auth_secret_arn)
    return None


def forget_clients() -> None:
    """Drop cached clients (tests that restart Redis or switch loops)."""
    _clients.clear()


# One queued script call: the script, its keys, its args, and the future its caller awaits.
Call = tuple[AsyncScript, list[Any], list[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    """Sends the script calls made in one event-loop turn as one pipeline.

    Under load every send runs a few small scripts (rate limit, presence, fan-out); one by one,
    each pays a pool checkout, a write and a read; in one pipeline they share them (figures in
    bench/RESULTS-socket.md). A lone call goes straight out, so idle latency is unchanged.
    Each caller gets its own result or its own exception, as if it had called alone.
    With hiredis (the socket image) the calls go to the lean connection instead, which already
    writes one loop turn's commands at once; the queue and batch tasks serve redis-py only.
    """

    def __init__(self, redis: Redis, lean: bool | None = None) -> None:
        self.redis = redis
        # The lean wire (adapters/resp.py) when hiredis is installed (the socket image), else
        # redis-py's pipeline (the Lambdas, which send one or two scripts per invocation).
        self.lean = HIREDIS if lean is None else lean
        self._conn: RespConnection | None = None
        self._opening: asyncio.Future[RespConnection] | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._queue: list[Call] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.calls = 0

    def register(self, source: str) -> BatchedScript:
        script = self.redis.register_script(source)
        self._scripts[script.sha] = script
        return BatchedScript(self, script)

    async def call(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        if self.lean:
            return await self._call_lean(script, keys, args)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)  # after every call this turn has queued
        self._queue.append((script, keys, args, future))
        return await future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[Call]) -> None:
        self.batches += 1
        self.calls += len(batch)
        try:
            if len(batch) == 1:
                script, keys, args, _ = batch[0]
                results: list[Any] = [await script(keys=keys, args=args)]
            else:
                results = await self._pipeline(batch)
        except asyncio.CancelledError:
            for *_, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the whole batch failed (connection lost): each caller sees it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its caller was cancelled
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        # EVALSHA straight into the pipeline: redis-py's own script support would first ask
        # SCRIPT EXISTS, one more round trip per batch. NOSCRIPT (Redis restarted or flushed)
        # means that call did not run: load the scripts and run just those again.
        results = await self._evalsha(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            for script in {item[0].sha: item[0] for item in batch}.values():
                await self.redis.script_load(script.script)
            again = await self._evalsha([batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _evalsha(self, batch: list[Call]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def _call_lean(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        # The lean connection already sends everything queued in one loop turn as one write,
        # so calls go straight to it: no batch task and no second future per call.
        self.calls += 1
        conn = await self._connection()
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await conn.call(*command)
        except NoScriptError:  # Redis restarted or flushed: load it, run this call again
            await conn.call("SCRIPT", "LOAD", script.script)
            return await conn.call(*command)

    @property
    def writes(self) -> int:
        """Round trips so far: pipelines (redis-py) or socket writes (the lean connection)."""
        return self._conn.writes if self.lean and self._conn is not None else self.batches

    async def _connection(self) -> RespConnection:
        """The lean connection, opened on first use and again after it was lost."""
        if self._conn is not None and not self._conn.broken:
            return self._conn
        # Every caller of this moment waits for the same opening, and all resume in one turn,
        # in the order they called: their commands leave in that order.
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> RespConnection:
        conn = await RespConnection.open_like(self.redis)
        try:
            # Loaded up front: a NOSCRIPT retry would let later calls overtake the first ones.
            for script in list(self._scripts.values()):
                await conn.call("SCRIPT", "LOAD", script.script)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class BatchedScript:
    """Called like redis-py's registered script: `await script(keys=[...], args=[...])`."""

    def __init__(self, batcher: ScriptBatcher, script: AsyncScript) -> None:
        self._batcher = batcher
        self._script = script

    async def __call__(
        self, keys: Sequence[Any] | None = None, args: Sequence[Any] | None = None
    ) -> Any:
        return await self._batcher.call(self._script, list(keys or ()), list(args or ()))


_batchers: weakref.WeakKeyDictionary[Redis, ScriptBatcher] = weakref.WeakKeyDictionary()


def script_batcher(redis: Redis) -> ScriptBatcher:
    """The batcher of a client (one per client, so one per event loop)."""
    batcher = _batchers.get(redis)
    if batcher is None:
        batcher = _batchers[redis] = ScriptBatcher(redis)
    return batcher
