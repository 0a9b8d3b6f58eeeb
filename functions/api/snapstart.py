"""Registers the SnapStart hooks (messaging_core.snapstart) with the Lambda runtime (issue #19).

`snapshot_restore_py` is what AWS's Python runtime calls before it snapshots an initialised
function and after it restores one; outside Lambda nobody calls them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from fastapi import FastAPI
from messaging_core import snapstart
from snapshot_restore_py import (  # type: ignore[import-untyped]
    register_after_restore,
    register_before_snapshot,
)

logger = logging.getLogger(__name__)
_registered: list[bool] = []


def register(loop: Sequence[asyncio.AbstractEventLoop], app: FastAPI | None = None) -> None:
    """Once per process: `loop` is the handler's (the clients it built are bound to it)."""
    if _registered:
        return
    _registered.append(True)

    def before_snapshot() -> None:
        if app is not None:
            warm_routes(app)
        snapstart.before_snapshot(loop[0] if loop else None)

    register_before_snapshot(before_snapshot)
    register_after_restore(snapstart.after_restore)


def warm_routes(app: FastAPI) -> None:
    """Build every route's deferred validators and serializers (replies and bodies are
    `defer_build`, cold start #19) into the image: writing the OpenAPI document builds each.
    Never raises: a route left unbuilt here is built at its first request, as without SnapStart."""
    try:
        app.openapi()
    except Exception as exc:
        logger.warning("warming the routes failed", extra={"error": repr(exc)})
