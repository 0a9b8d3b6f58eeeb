"""Fargate entry: `python -m socket_tier.server` (Socket.IO at /socket.io/, `GET /health`) on
granian or uvicorn (SOCKET_SERVER, socket_tier/serving.py)."""

import argparse
import asyncio

from messaging_core.config import get_settings
from messaging_core.logs import configure_logging

from .app import Realtime
from .lean_ws import uvicorn_ws_options
from .serving import exit_after_granian, serve_granian, uvicorn_server
from .settings import get_socket_settings

realtime = Realtime()
app = realtime.asgi(other_asgi_app=realtime.health_app())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # Inside the container, behind the ALB's security group; tests pass 127.0.0.1.
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104
    args = parser.parse_args()
    settings = get_settings()
    sock = get_socket_settings()
    configure_logging(settings.log_level, "%(asctime)s %(levelname)s %(name)s %(message)s")
    if sock.socket_server == "granian":
        import uvloop

        uvloop.install()
        asyncio.run(
            serve_granian(
                app,
                host=args.host,
                port=settings.port,
                sio=realtime.sio,
                grace_seconds=sock.shutdown_grace_seconds,
                proxy_headers=True,
            )
        )
        exit_after_granian()
        return
    server = uvicorn_server(
        app,
        sio=realtime.sio,
        host=args.host,
        port=settings.port,
        loop="uvloop",
        **uvicorn_ws_options(),  # issue #19: lighter per idle socket (lean_ws.py)
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips="*",
        log_level="warning",
        # SIGTERM: drain (serving.py), stop accepting, close websockets (1012: clients reconnect
        # elsewhere), then clean presence in the lifespan shutdown; ECS's stopTimeout must
        # exceed this.
        timeout_graceful_shutdown=sock.shutdown_grace_seconds,
    )
    server.run()


if __name__ == "__main__":
    main()
