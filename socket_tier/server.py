"""Fargate entry: `uvicorn socket_tier.server:app` (Socket.IO at /socket.io/, `GET /health`)."""

import uvicorn
from messaging_core.config import get_settings
from messaging_core.logs import configure_logging

from .app import Realtime
from .settings import get_socket_settings
from .transport import UVICORN_WS, UVICORN_WS_DEFLATE

realtime = Realtime()
app = realtime.asgi(other_asgi_app=realtime.health_app())


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, "%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        app,
        host="0.0.0.0",  # noqa: S104 - inside the container, behind the ALB's security group
        port=settings.port,
        loop="uvloop",
        ws=UVICORN_WS,
        ws_per_message_deflate=UVICORN_WS_DEFLATE,
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips="*",
        log_level="warning",
        # SIGTERM: stop accepting, close websockets (1012: clients reconnect elsewhere), then
        # clean presence in the lifespan shutdown; ECS's stopTimeout must exceed this.
        timeout_graceful_shutdown=get_socket_settings().shutdown_grace_seconds,
    )


if __name__ == "__main__":
    main()
