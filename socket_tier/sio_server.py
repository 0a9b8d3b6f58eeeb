"""Builds this tier's Socket.IO server from the settings (origins, keep-alive, abuse limits)."""

from __future__ import annotations

from typing import Any

from messaging_core.config import Settings

from .settings import SocketSettings
from .transport import DirectManager, GuardedServer, InboundLimits, JsonPacket


def _no_browser_origin(origin: str | None, environ: Any = None) -> bool:
    return False


def build_server(settings: Settings, sock: SocketSettings) -> GuardedServer:
    return GuardedServer(
        limits=InboundLimits(
            packets_per_second=sock.inbound_packets_per_second,
            bytes_per_second=sock.inbound_bytes_per_second,
            connect_timeout_seconds=sock.connect_timeout_seconds,
            cooldown_seconds=sock.flood_cooldown_seconds,
            refusal_delay_seconds=sock.flood_refusal_delay_seconds,
            held_max=sock.flood_held_max,
        ),
        async_mode="asgi",
        # No origin configured: refuse every browser origin ([] would switch the check off).
        cors_allowed_origins=settings.frontend_origins or _no_browser_origin,
        cors_credentials=False,  # bearer tokens, no cookies
        ping_interval=sock.ping_interval_seconds,
        ping_timeout=sock.ping_timeout_seconds,
        max_http_buffer_size=sock.max_payload_bytes,
        client_manager=DirectManager(),
        serializer=JsonPacket,
        logger=False,
        engineio_logger=False,
    )
