"""`GET /health` of the Fargate image (which has no FastAPI): the core's health body as ASGI."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from messaging_core import presence
from messaging_core.core import Core

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def health_app(core: Callable[[], Core]) -> ASGIApp:
    """A tiny ASGI app: `/health` answers the body REST's `/health` answers; anything else 404."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/health" or scope["method"] not in ("GET", "HEAD"):
            status, body = 404, {"message": "Not found"}
        else:
            status, body = 200, await presence.health(core())
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    return app
