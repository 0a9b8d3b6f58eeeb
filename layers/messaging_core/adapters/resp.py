"""A lean Redis connection for the socket tier's hot path: RESP through hiredis, pipelined.

redis-py spends most of its CPU per command in Python: packing arguments, a pool checkout, a
timeout context and a parse per reply; on the full send path its pipelines are a large share of
a socket task's CPU (figures in bench/RESULTS-socket.md). Here one connection per process
carries every hot-path call:
commands are packed by hiredis in C, all the writes of one loop turn leave in one syscall, and
replies are parsed by hiredis and matched to their callers in order (Redis answers in order).

Used for the per-send scripts (`ScriptBatcher`) and the task channel's subscription; everything
else keeps redis-py. The connection settings (host, port, db, password, TLS) are the redis-py
client's own, so both talk to the same server the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

CONNECT_TIMEOUT_SECONDS = 5.0

PushHandler = Callable[[list[Any]], None]


def _error(reply: hiredis.ReplyError) -> ResponseError:
    text = str(reply)
    # redis-py's own mapping for the one error the callers act on.
    return NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)


_PUSHES = (b"message", b"pmessage")


class _Protocol(asyncio.Protocol):
    def __init__(self, on_push: PushHandler | None) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.on_push = on_push
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.writes = 0
        self._out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:  # a peer that vanished without a FIN is found out, in time
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.lost is not None or self.transport is None:
            raise RedisConnectionError("Redis connection lost")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._out:
            loop.call_soon(self._flush)  # one write per loop turn
        self._out.append(packed)
        self.waiting.append(future)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.transport is not None and self.lost is None:
            self.writes += 1
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.on_push is not None and isinstance(reply, list) and reply[0] in _PUSHES:
                self.on_push(reply)  # a subscriber's published message, not a reply
            elif self.waiting:
                future = self.waiting.popleft()
                if future.done():
                    continue  # its caller gave up; the reply still had to be consumed
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(_error(reply))
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"Redis connection lost: {type(exc).__name__}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)
        if not self.closed.done():
            self.closed.set_result(None)


def _tls_context(kw: dict[str, Any]) -> ssl.SSLContext:
    """Verified TLS, as redis-py does by default; its `ssl_ca_certs` and `ssl_cert_reqs=none`
    URL options are honoured the same way."""
    context = ssl.create_default_context(cafile=kw.get("ssl_ca_certs"))
    if kw.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RespConnection:
    """One pipelined connection; `call` may be used by many coroutines at once."""

    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol

    @classmethod
    async def open_like(cls, redis: Redis, on_push: PushHandler | None = None) -> RespConnection:
        """Connect to the server `redis` talks to, with its credentials, db and TLS."""
        pool = redis.connection_pool
        kw = pool.connection_kwargs
        uses_tls = issubclass(pool.connection_class, SSLConnection)  # rediss:// (ElastiCache)
        tls = _tls_context(kw) if uses_tls else None
        protocol = _Protocol(on_push)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.create_connection(
                lambda: protocol, kw.get("host", "localhost"), kw.get("port", 6379), ssl=tls
            ),
            CONNECT_TIMEOUT_SECONDS,
        )
        conn = cls(protocol)
        try:
            if kw.get("password"):
                auth = [kw["username"], kw["password"]] if kw.get("username") else [kw["password"]]
                await conn.call("AUTH", *auth)
            if kw.get("db"):
                await conn.call("SELECT", kw["db"])
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def broken(self) -> bool:
        return self._protocol.lost is not None

    @property
    def writes(self) -> int:
        return self._protocol.writes

    @property
    def closed(self) -> asyncio.Future[None]:
        """Done once the connection is gone (a subscriber's loop waits on it)."""
        return self._protocol.closed

    async def call(self, *args: Any) -> Any:
        """One command; raises its error (ResponseError, NoScriptError) or a ConnectionError."""
        return await self._protocol.send(hiredis.pack_command(args))

    def close(self) -> None:
        transport = self._protocol.transport
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
