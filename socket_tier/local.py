"""`make run`: REST and Socket.IO together on one port (3006), as the original service did.

Embedded defaults (in-memory store, in-process presence and delivery); REDIS_URL, MONGODB_URI
and friends switch each part to a real server.
"""

import asyncio
import contextlib
import os
from collections.abc import MutableMapping

import uvicorn
from messaging_core.config import get_settings
from messaging_core.logs import configure_logging

from .app import Realtime
from .lean_ws import uvicorn_ws_options
from .local_s3 import start_local_s3
from .serving import exit_after_granian, serve_granian, uvicorn_server
from .settings import get_socket_settings


def create_app(realtime: Realtime | None = None) -> object:
    from functions.local_app import create_local_app

    realtime = realtime or Realtime()
    return realtime.asgi(other_asgi_app=create_local_app())


def allow_own_origin(env: MutableMapping[str, str]) -> None:
    """The demo page is served from this server: let its origin in (Socket.IO's origin check and
    the local S3's CORS rule), besides FRONTEND_URL's."""
    port = env.get("PORT") or "3006"
    own = [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    configured = [o for o in (env.get("FRONTEND_URL") or "http://localhost:3000").split(",") if o]
    env["FRONTEND_URL"] = ",".join(dict.fromkeys([*configured, *own]))


def main() -> None:
    allow_own_origin(os.environ)
    s3 = start_local_s3()  # before the settings are read: it sets S3_ENDPOINT_URL
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings.log_level)
    realtime = Realtime()
    app = create_app(realtime)
    mode = "Redis" if settings.redis_url else "in-process"
    with contextlib.suppress(ImportError):  # uvloop: the faster event loop when installed
        import uvloop

        uvloop.install()
    sock = get_socket_settings()
    if sock.socket_server == "granian":

        def started() -> bool:
            try:
                realtime.lifecycle.runtime  # noqa: B018 - raises until the lifespan start ran
            except RuntimeError:
                return False
            return True

        async def ready() -> None:
            _announce(settings.port, mode, s3)

        asyncio.run(
            serve_granian(
                app,  # type: ignore[arg-type]
                host="127.0.0.1",
                port=settings.port,
                sio=realtime.sio,
                grace_seconds=5,
                on_ready=ready,
                started=started,
            )
        )
        exit_after_granian()
        return
    server = uvicorn_server(
        app,  # type: ignore[arg-type]
        sio=realtime.sio,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        **uvicorn_ws_options(),  # issue #19: lighter per idle socket (lean_ws.py)
        timeout_graceful_shutdown=5,
    )
    asyncio.run(_serve(server, settings.port, mode, s3))


def _announce(port: int, mode: str, s3: str | None) -> None:
    # Printed once the port listens, so scripts and tests can wait for this line.
    print(
        f"Messaging service ready on http://localhost:{port} "
        f"(REST + Socket.IO, {mode} presence; demo chat page at /; API docs at /docs; "
        "mint a token with `make token ROLE=doctor`)" + (f"; local S3 on {s3}" if s3 else ""),
        flush=True,
    )


async def _serve(server: uvicorn.Server, port: int, mode: str, s3: str | None) -> None:
    async def announce() -> None:
        # Printed once the port listens, so scripts and tests can wait for this line.
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        _announce(port, mode, s3)

    watcher = asyncio.create_task(announce())
    await server.serve()
    watcher.cancel()


if __name__ == "__main__":
    main()
