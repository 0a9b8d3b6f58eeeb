"""Start and stop of a socket task, and its background loops (heartbeat, revocation sweep)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from messaging_core import presence, warm
from messaging_core.compliance_admin import start_operator_socket
from messaging_core.config import Settings
from messaging_core.container import (
    LocalEmit,
    SocketRuntime,
    SocketTask,
    build_socket_runtime,
    set_core,
)
from messaging_core.core import Core
from messaging_core.ports import ConnectionPresence
from messaging_core.relay import start_background_relay
from messaging_core.retention import start_background_purge
from messaging_core.scheduling import start_background_scheduler

from .emf_agent import EmfAgentSink, start_sending, stop_sending
from .offline_announcer import OfflineAnnouncer
from .settings import SocketSettings
from .tasks import BackgroundTasks
from .typing_relay import TypingRelay

if TYPE_CHECKING:  # redis is imported only when REDIS_URL is set
    from messaging_core.adapters.redis_presence import RedisPresence

logger = logging.getLogger(__name__)

CHANNEL_READY_SECONDS = 10
# The reaper's batches per heartbeat: up to 5,000 users announced offline per heartbeat.
REAP_BATCH = 100
REAP_BATCHES = 50


class Lifecycle:
    """Owns what `start` builds (Core, presence, Redis client, loops) until `stop` ends it."""

    def __init__(
        self,
        settings: Settings,
        sock: SocketSettings,
        *,
        local_emit: LocalEmit,
        tasks: BackgroundTasks,
        typing: TypingRelay,
        sweep_revoked: Callable[[], Awaitable[int]],
        on_close: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._sock = sock
        self._local_emit = local_emit
        self._tasks = tasks
        self._typing = typing
        self._sweep_revoked = sweep_revoked
        self._on_close = on_close
        self._runtime: SocketRuntime | None = None
        self._loops: list[asyncio.Task[Any]] = []
        self._emf: EmfAgentSink | None = None  # #17: socket-tier metrics on Fargate
        # The reaper's `user_offline`s, announced off the heartbeat loop (offline_announcer.py).
        self._offline = OfflineAnnouncer(
            lambda user: presence.announce(self.core, user, "user_offline"), tasks
        )

    @property
    def core(self) -> Core:
        if self._runtime is None:
            raise RuntimeError("the realtime tier is not started")
        return self._runtime.core

    @property
    def runtime(self) -> SocketRuntime:
        if self._runtime is None:
            raise RuntimeError("the realtime tier is not started")
        return self._runtime

    @property
    def presence(self) -> ConnectionPresence:
        if self._runtime is None:
            raise RuntimeError("the realtime tier is not started")
        return self._runtime.presence

    async def start(self) -> None:
        try:
            await self._start()
        except Exception as exc:
            # python-socketio's lifespan hides the cause; say which dependency failed.
            logger.error("socket tier failed to start", extra={"error": repr(exc)[:200]})
            raise

    async def _start(self) -> None:
        task = SocketTask(
            task_id=self._sock.task_id,
            pool_size=self._sock.redis_pool_size,
            presence_ttl_seconds=self._sock.presence_ttl_seconds,
            presence_drain_settle_seconds=self._sock.presence_drain_settle_seconds,
            local_emit=self._local_emit,
            on_close=self._on_close,
        )
        runtime = self._runtime = await build_socket_runtime(self._settings, task)
        if runtime.channel is not None:
            self._loops.append(asyncio.create_task(runtime.channel.run()))
            await asyncio.wait_for(runtime.channel.ready.wait(), timeout=CHANNEL_READY_SECONDS)
        if runtime.cluster is not None:
            self._loops.append(asyncio.create_task(self._heartbeat_loop(runtime.cluster)))
        set_core(runtime.core)  # the REST routers of `make run` share this Core
        # Publishes what a failed immediate publish left pending (Kafka down, crash mid-way).
        self._loops.append(start_background_relay(runtime.core))
        if self._settings.purge_interval_seconds > 0:  # `make run`; in AWS a scheduled Lambda
            self._loops.append(start_background_purge(runtime.core))
        if self._settings.local_admin_socket:  # `make run`: make legal-hold / make purge (#15)
            self._loops.append(
                start_operator_socket(runtime.core, self._settings.local_admin_socket)
            )
        # Scheduled messages (issue #16 B): `make run` only; in AWS a one-minute scheduled Lambda.
        if self._settings.scheduled_interval_seconds > 0:
            self._loops.append(start_background_scheduler(runtime.core))
        self._loops.append(asyncio.create_task(self._revocation_loop()))
        # Socket-tier metrics on Fargate (#17): the send path's EMF flushes go to the agent.
        self._emf = start_sending(self._sock.emf_agent_endpoint, self._sock.emf_log_group)
        # Cold start (#19): the core imports PyJWT and builds input validators at first use; a
        # task loads them now, not on its event loop at the first handshake (messaging_core.warm).
        warm.warm(self._settings, libraries=False)
        # Everything built so far (modules, the app, clients) lives as long as the process: out
        # of the collector's sight, a full collection only walks what came after (the p99 of
        # the realtime benchmark, bench/RESULTS-socket.md).
        gc.freeze()
        gc.set_threshold(*self._sock.gc_thresholds)  # issue #11: fewer, shorter pauses
        logger.info("socket tier started", extra={"task_id": self._sock.task_id})

    async def stop(self) -> None:
        """SIGTERM: uvicorn has stopped accepting and closed the websockets with 1012 (clients
        reconnect to another task); take this task's remaining connections out of presence."""
        self._typing.close()
        runtime = self._runtime
        if runtime is not None and runtime.cluster is not None:
            # As the drain's closes: the surviving tasks announce whoever does not come back
            # (with a settle time of 0, this task does, in the grace below).
            self._offline.add(await runtime.cluster.leave_all(leaving=True))
        await self._tasks.wait(self._sock.shutdown_grace_seconds)
        if runtime is not None and runtime.channel is not None:
            runtime.channel.stop()
        for loop_task in self._loops:
            loop_task.cancel()
        for loop_task in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop_task
        if runtime is not None:
            await runtime.core.drain()
            await runtime.core.publisher.close()  # flush the producer (bounded) before exit
        # #17: the last counts to the agent, then its sender thread (bounded, off the loop).
        await asyncio.to_thread(stop_sending, self._emf)
        self._emf = None
        if runtime is not None and runtime.client is not None:
            from messaging_core.adapters.redis_client import script_batcher

            script_batcher(runtime.client).close()
            with contextlib.suppress(Exception):
                await runtime.client.aclose()
        logger.info("socket tier stopped", extra={"task_id": self._sock.task_id})

    async def _revocation_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sock.revocation_sweep_seconds)
            try:
                await self._sweep_revoked()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("revocation sweep failed", extra={"error": type(exc).__name__})

    async def _heartbeat_loop(self, cluster: RedisPresence) -> None:
        interval = self._sock.presence_heartbeat_seconds
        while True:
            try:
                await cluster.heartbeat()
                # Users of a task that died, and a drained task's users who did not come back:
                # exactly one surviving task announces each of them. A full batch is followed
                # by another (bounded): a drain leaves thousands due at once. They are announced
                # in the background: this loop's next heartbeat must not wait for the store.
                for _ in range(REAP_BATCHES):
                    gone = await cluster.reap(REAP_BATCH)
                    self._offline.add(gone)
                    if len(gone) < REAP_BATCH:
                        break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("presence heartbeat failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval)
