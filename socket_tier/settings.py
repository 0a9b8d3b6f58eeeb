"""Settings of the socket tier only (the shared ones live in messaging_core.config)."""

import os
import socket
import uuid
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_task_id() -> str:
    # ECS gives each task a unique hostname; the suffix keeps two processes on one host apart.
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:40]
    return f"{host or 'task'}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class SocketSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    task_id: str = Field(default_factory=_default_task_id, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # A task that dies without cleaning up leaves its users online at most this long.
    presence_ttl_seconds: float = Field(default=30.0, gt=0)
    presence_heartbeat_seconds: float = Field(default=10.0, gt=0)
    # A drain (SIGTERM, a deploy) closes its users' sockets; they go offline at once, and their
    # partners hear `user_offline` only if they have not connected again (to another task)
    # this long after, from a surviving task's reaper (taken at its next heartbeat). A phone
    # back within seconds shows no offline/online flicker. 0: announced at once.
    presence_drain_settle_seconds: float = Field(default=15.0, ge=0)
    redis_pool_size: int = Field(default=64, gt=0)
    typing_timeout_seconds: float = Field(default=5.0, gt=0)
    typing_throttle_seconds: float = Field(default=1.0, ge=0)
    max_payload_bytes: int = Field(default=100_000, gt=1000)
    # Engine.IO keep-alive: a silent client is dropped after interval + timeout.
    ping_interval_seconds: float = Field(default=25.0, gt=0)
    ping_timeout_seconds: float = Field(default=20.0, gt=0)
    shutdown_grace_seconds: int = Field(default=10, ge=0)
    # Open sockets of a revoked user are closed within this (plus the revocation cache).
    revocation_sweep_seconds: float = Field(default=30.0, gt=0, le=55)
    # Abuse limits per connection: a person types, a phone reconnects and catches up; a script
    # flooding the task is closed (a reconnect syncs and joins many conversations at once).
    # Bytes allow five full-size packets (MAX_PAYLOAD_BYTES) a second.
    inbound_packets_per_second: int = Field(default=100, gt=0)
    inbound_bytes_per_second: int = Field(default=500_000, gt=0)
    # A connection that has not completed its authenticated Socket.IO connect by then is dropped.
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    # Sockets one user may hold on one task; the oldest is closed (with a reason) for a new one.
    max_sockets_per_user: int = Field(default=10, gt=0)
    # A token whose socket was closed for flooding, or whose connect was refused, is refused on
    # this task for this long before any token check or Redis call (#11, cooldown.py); 0: off.
    flood_cooldown_seconds: float = Field(default=10.0, ge=0, le=300)
    # Such a refusal is sent after this pause (the connection held, nothing it sends parsed), so
    # a script reconnecting as soon as it is refused costs a handshake per pause, not ~20 a
    # second (#11, bench/RESULTS-abuse.md); at most FLOOD_HELD_MAX wait at once on a task, past
    # that they are refused at once. 0: refused at once. Below CONNECT_TIMEOUT_SECONDS.
    flood_refusal_delay_seconds: float = Field(default=3.0, ge=0, le=30)
    flood_held_max: int = Field(default=1000, ge=0)
    # Issue #19 (capacity): the ASGI server under this tier (socket_tier/serving.py). granian
    # is no faster than uvicorn's lean path in interleaved runs, holds about 6x its memory per
    # idle socket and, under CPU load, its serve() sometimes does not return after the drain
    # (the task then exits after the grace, presence left to its TTL): uvicorn is the default.
    socket_server: Literal["granian", "uvicorn"] = "uvicorn"
    # Socket-tier metrics on Fargate (#17, socket_tier/emf_agent.py): the CloudWatch agent
    # sidecar's EMF listener (the CDK app sets tcp://127.0.0.1:25888) and the log group it
    # writes the documents to. Empty (the default, `make run`): nothing is sent.
    emf_agent_endpoint: str = Field(default="", pattern=r"^(tcp://[A-Za-z0-9.-]+:[0-9]{1,5})?$")
    emf_log_group: str = Field(default="", pattern=r"^[.\-_/#A-Za-z0-9]{0,512}$")
    # Issue #11 (p99 under a flood): the cyclic collector's thresholds (gc.set_threshold), set
    # after start. Python's (700, 10, 10) run a young collection every 700 container objects;
    # each one promotes whatever is in flight, and the older collections that follow walked
    # the heap for 60 to 260 ms in the abuse benchmark (every reconnect leaves a few hundred
    # cyclic objects: tracebacks of closed websockets). bench/RESULTS-abuse.md has the runs.
    gc_thresholds: tuple[int, int, int] = (20_000, 50, 100)

    def model_post_init(self, __context: object) -> None:
        if self.flood_refusal_delay_seconds >= self.connect_timeout_seconds:
            raise ValueError(
                "FLOOD_REFUSAL_DELAY_SECONDS must be below CONNECT_TIMEOUT_SECONDS, or a held "
                "connection would be dropped without its reason"
            )
        if min(self.gc_thresholds) < 1:
            raise ValueError("GC_THRESHOLDS must be three positive integers")
        if self.presence_heartbeat_seconds * 2 > self.presence_ttl_seconds:
            raise ValueError(
                "PRESENCE_HEARTBEAT_SECONDS must be at most half of PRESENCE_TTL_SECONDS, "
                "or live users would flicker offline"
            )


@lru_cache(maxsize=1)
def get_socket_settings() -> SocketSettings:
    return SocketSettings()
