"""Lambda SnapStart (issue #19): what must not survive a snapshot, and what every copy restored
from one snapshot must make its own.

AWS snapshots a function's memory after its init phase and restores that image in many
execution environments. So: no connection may be open in the image (a socket restored in ten
places is dead in all of them), secrets and credentials read before the snapshot may have
rotated since, and every random state is shared by all copies (two copies would mint the same
ObjectIds). The hooks live here, in the core, and hold no Lambda import; the edge
(functions/api/snapstart.py) registers them with the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
from typing import Any

from . import ids, warm
from .config import get_settings
from .core import Core

logger = logging.getLogger(__name__)

# Closing what was built before the snapshot must not hold the snapshot up for long.
CLOSE_TIMEOUT_SECONDS = 5.0


def reseed() -> None:
    """Fresh randomness for this copy: our ids, `random`, and bson's ObjectId if loaded."""
    ids.reseed()
    random.seed()  # from os.urandom: each restored copy draws its own sequence
    bson = sys.modules.get("bson")
    if bson is not None:  # pymongo mints ObjectIds too (documents inserted without an _id)
        object_id: Any = bson.ObjectId
        object_id._ObjectId__random = os.urandom(5)
        object_id._inc = random.SystemRandom().randint(0, 0xFFFFFF)


def forget_clients_and_secrets() -> Core | None:
    """Drop every cached client and secret so the next request builds them anew; returns the
    Core that was in use (the caller closes it when it still can)."""
    from . import container  # deferred at import (cold start, #19); warm.warm loads it

    core = container.take_core()
    from .adapters import redis_client

    redis_client.forget_clients()
    get_settings.cache_clear()  # settings hold the secret ARNs' values once resolved
    from . import auth

    auth._jwks_client.cache_clear()  # JWKS keys fetched before the snapshot: fetch again
    boto3: Any = sys.modules.get("boto3")
    if boto3 is not None:  # its default session caches the credentials it resolved first
        boto3.DEFAULT_SESSION = None
    with contextlib.suppress(ImportError):  # Powertools' cache of Secrets Manager reads
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()  # type: ignore[no-untyped-call]
    return core


async def close_core(core: Core) -> None:
    """Close the connections a Core holds (Mongo, Redis, Kafka, the user service)."""
    await core.drain()
    closers = [
        getattr(part, "close", None) for part in (core.store, core.publisher, core.directory)
    ]
    # The Redis client the Redis-backed ports share (RedisPresence.redis), when there is one.
    aclose = getattr(getattr(core.presence, "redis", None), "aclose", None)
    for close in [*closers, aclose]:
        if close is None:
            continue
        with contextlib.suppress(Exception):  # a closed or broken client is closed enough
            result = close()
            if asyncio.iscoroutine(result):
                await result


def before_snapshot(loop: asyncio.AbstractEventLoop | None) -> None:
    """Nothing open in the image: close and drop what init (or a priming call) built; and what
    the import deferred (cold start) loaded into it, so no restored copy pays it."""
    # Warmed first: it reads the settings, which forget_clients_and_secrets drops.
    warm.warm(get_settings())
    core = forget_clients_and_secrets()
    if core is None:
        return
    if loop is None or loop.is_closed() or loop.is_running():
        return  # the clients are bound to that loop; dropping them is all that is left
    try:
        loop.run_until_complete(asyncio.wait_for(close_core(core), CLOSE_TIMEOUT_SECONDS))
    except Exception as exc:
        logger.warning("closing before the snapshot failed", extra={"error": type(exc).__name__})


def after_restore() -> None:
    """This copy's own randomness, and fresh clients, secrets and credentials on first use."""
    reseed()
    # Connections in the image are dead here: drop them unclosed (closing would talk to a
    # socket that no longer exists); the next request builds new ones with fresh secrets.
    forget_clients_and_secrets()
    logger.info("restored from a snapshot: clients and secrets will be rebuilt")
