"""Builds the process's Core once, picking each adapter from the settings."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .adapters.memory import (
    LocalNotifier,
    MemoryPresence,
    MemoryRateLimiter,
    MemoryRevocations,
    RecordingNotifier,
)
from .config import Settings, get_settings, mongodb_uri_of, read_secret
from .core import Core
from .ports import (
    ConnectionPresence,
    PresenceStore,
    RateLimiter,
    RealtimeNotifier,
    RevocationStore,
    ScheduledRepository,
    Store,
    UploadRepository,
    UserDirectory,
)
from .publisher import build_publisher
from .revocation_cache import RevocationCache

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .adapters.redis_fanout import TaskChannel
    from .adapters.redis_presence import RedisPresence

LocalEmit = Callable[[str, str, dict[str, Any]], Awaitable[None]]

logger = logging.getLogger(__name__)

_core: Core | None = None
_lock: asyncio.Lock | None = None


def build_store(settings: Settings) -> Store:
    uri = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    if uri is None and settings.mongodb_uri_secret_arn:
        # In AWS: the application user's own secret (rotated), never the master's.
        uri = mongodb_uri_of(read_secret(settings.mongodb_uri_secret_arn), settings.mongodb_db)
    if uri is None:
        from .store.memory import MemoryStore

        logger.info("no MONGODB_URI: using the embedded in-memory store")
        return MemoryStore()
    from .store.mongo import MongoStore

    return MongoStore.from_uri(uri, settings.mongodb_db, tls_ca_file=settings.mongodb_tls_ca_file)


def build_directory(settings: Settings, store: Store) -> UserDirectory:
    # Imported here, as S3FileStore in build_core: a function's import does not need them
    # (cold start, #19); the SnapStart hook loads them before the snapshot (messaging_core.warm).
    from .adapters.directory import EmbeddedDirectory, HttpUserDirectory

    dev_file = settings.dev_directory_file if settings.environment == "development" else None
    embedded = EmbeddedDirectory(store, dev_file)
    if not settings.user_service_url:
        return embedded
    return HttpUserDirectory(
        settings.user_service_url,
        embedded,
        timeout_seconds=settings.user_service_timeout_seconds,
        ttl_seconds=settings.user_cache_ttl_seconds,
    )


async def build_core(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    presence: PresenceStore | None = None,
    notifier: RealtimeNotifier | None = None,
    rate_limiter: RateLimiter | None = None,
    revocations: RevocationStore | None = None,
    background_dispatch: bool = False,
) -> Core:
    from .adapters.s3 import S3FileStore  # at first use: see build_directory

    settings = settings or get_settings()
    store = store or build_store(settings)
    await store.ensure_indexes()
    # With REDIS_URL, presence, pushes and rate limits are shared by every task and Lambda.
    wanted = presence is None or notifier is None or rate_limiter is None or revocations is None
    redis = redis_ports(settings) if settings.redis_url and wanted else None
    return Core(
        settings=settings,
        store=store,
        directory=build_directory(settings, store),
        presence=presence or (redis.presence if redis else MemoryPresence()),
        publisher=build_publisher(settings),  # Kafka when KAFKA_BROKER is set
        notifier=notifier or (redis.notifier if redis else RecordingNotifier()),
        rate_limiter=rate_limiter or (redis.rate_limiter if redis else MemoryRateLimiter()),
        files=S3FileStore(settings),  # builds its boto3 client on first use only
        uploads=build_uploads(store),
        revocations=revocations or (redis.revocations if redis else MemoryRevocations()),
        revocation_cache=RevocationCache(settings.revocation_cache_seconds),
        background_dispatch=background_dispatch,
        scheduled=await build_scheduled(store),
    )


def build_uploads(store: Store) -> UploadRepository:
    from .store.uploads import MemoryUploads, MongoUploads

    db = getattr(store, "db", None)  # a MongoStore shares its database
    return MongoUploads(db) if db is not None else MemoryUploads()


# --- Scheduled messages (issue #16 B)
async def build_scheduled(store: Store) -> ScheduledRepository:
    from .store.scheduled import MemoryScheduled, MongoScheduled

    db = getattr(store, "db", None)  # a MongoStore shares its database
    if db is None:
        return MemoryScheduled()
    repo = MongoScheduled(db)
    await repo.ensure_indexes()
    return repo


@dataclass(frozen=True)
class SocketTask:
    """What a socket task adds to the ports: its identity and its own emit to local sockets."""

    task_id: str
    pool_size: int
    presence_ttl_seconds: float
    local_emit: LocalEmit
    # A drain's `user_offline` is due this long after (0: at once); see redis_presence.py.
    presence_drain_settle_seconds: float = 0.0
    # A close asked by another task (the per-user socket cap across tasks): (user id, sid).
    on_close: Callable[[str, str], Awaitable[None]] | None = None


@dataclass(frozen=True)
class RedisPorts:
    presence: "RedisPresence"
    notifier: RealtimeNotifier
    rate_limiter: RateLimiter
    revocations: RevocationStore
    client: "Redis"


def redis_ports(settings: Settings, task: SocketTask | None = None) -> RedisPorts:
    """The Redis-backed ports, on one client: a Lambda's readers, or a socket task's own."""
    # Imported here so a Lambda without REDIS_URL never loads redis.
    from .adapters.redis_client import DEFAULT_POOL_SIZE, redis_client
    from .adapters.redis_fanout import RedisFanout
    from .adapters.redis_presence import RedisPresence
    from .adapters.redis_ratelimit import RedisRateLimiter
    from .adapters.redis_revocation import RedisRevocations

    client = redis_client(settings, task.pool_size if task else DEFAULT_POOL_SIZE)
    if task is None:
        presence = RedisPresence(client)
        notifier = RedisFanout(client)
    else:
        presence = RedisPresence(
            client,
            task_id=task.task_id,
            ttl_seconds=task.presence_ttl_seconds,
            drain_settle_seconds=task.presence_drain_settle_seconds,
        )
        notifier = RedisFanout(
            client,
            task_id=task.task_id,
            local_emit=task.local_emit,
            has_local=presence.has_local,
        )
    # Revocations on this pool too, not a second one.
    return RedisPorts(
        presence, notifier, RedisRateLimiter(client), RedisRevocations(client), client
    )


@dataclass(frozen=True)
class SocketRuntime:
    """A socket task's Core and the parts of its wiring the task's lifecycle drives."""

    core: Core
    presence: ConnectionPresence
    # Only with REDIS_URL: the cluster's presence (heartbeat, reap, leave_all), the task's
    # channel, and the client to close on shutdown.
    cluster: "RedisPresence | None" = None
    channel: "TaskChannel | None" = None
    client: "Redis | None" = None


async def build_socket_runtime(settings: Settings, task: SocketTask) -> SocketRuntime:
    """The socket tier's wiring: Redis ports shared by every task, or in-process ones."""
    if not settings.redis_url:
        presence = MemoryPresence()
        core = await build_core(
            settings,
            presence=presence,
            notifier=LocalNotifier(task.local_emit),
            background_dispatch=True,
        )
        return SocketRuntime(core, presence)
    from .adapters.redis_fanout import TaskChannel

    ports = redis_ports(settings, task)
    channel = TaskChannel(ports.client, task.task_id, task.local_emit, on_close=task.on_close)
    core = await build_core(
        settings,
        presence=ports.presence,
        notifier=ports.notifier,
        rate_limiter=ports.rate_limiter,
        revocations=ports.revocations,
        background_dispatch=True,
    )
    return SocketRuntime(core, ports.presence, ports.presence, channel, ports.client)


async def get_core() -> Core:
    """The process-wide Core, built on first use (outside the Lambda handler's per-request path)."""
    global _core, _lock
    if _core is not None:
        return _core
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _core is None:
            _core = await build_core()
    return _core


def set_core(core: Core | None) -> None:
    """Install a prebuilt Core (the local server and tests)."""
    global _core
    _core = core


# Issue #19 (SnapStart): the hooks drop the Core built before a snapshot (messaging_core.snapstart).
def take_core() -> Core | None:
    """Remove the process-wide Core and return it (the next get_core builds a new one)."""
    global _core, _lock
    core, _core, _lock = _core, None, None
    return core
