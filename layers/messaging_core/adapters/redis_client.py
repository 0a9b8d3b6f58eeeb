"""One redis.asyncio client per process and loop, with a pool that waits instead of failing."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import Settings, read_secret

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
        client = build_redis(settings.redis_url, pool_size, _password(settings))
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


def _password(settings: Settings) -> str | None:
    # ElastiCache AUTH token from Secrets Manager in AWS; a URL with credentials works locally.
    if settings.redis_auth_secret_arn:
        return read_secret(settings.redis_auth_secret_arn)
    return None


def forget_clients() -> None:
    """Drop cached clients (tests that restart Redis or switch loops)."""
    _clients.clear()
