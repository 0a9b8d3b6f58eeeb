"""What a cold start leaves for later, done ahead of time where that is free (issue #19).

A function imports only what its import needs: token verification (PyJWT, which pulls in
`cryptography`), the adapters the Core is built from, each deployment's drivers and the input
models' validators come at first use. Under SnapStart, init runs once before the snapshot, so
the before-snapshot hook (messaging_core.snapstart) calls `warm`: every copy restored from that
image starts with them loaded, and no request pays them.
"""

from __future__ import annotations

import importlib
import logging

from .config import Settings

logger = logging.getLogger(__name__)

# Deferred at import in every REST function (their modules say why), needed by its requests.
DEFERRED_MODULES: tuple[str, ...] = (
    "jwt",  # messaging_core.auth: PyJWT and the cryptography it imports
    "messaging_core.jwt_decoder",  # messaging_core.auth: its private PyJWT (#19)
    "messaging_core.adapters.s3",  # the Core's file store (boto3 itself at the first S3 call)
    "messaging_core.adapters.directory",  # the Core's user directory
    # The Core's factory (and its publisher): functions.api builds the Core at first request.
    "messaging_core.container",
    # Imported by the container and the adapters; the core itself names them as types only.
    "messaging_core.ports",
    "messaging_core.adapters.memory",
)
# Imported by the adapters at their first call: a function's snapshot holds them too, a socket
# task does not load them at start (memory; its first file message imports them, as before).
FIRST_CALL_LIBRARIES: tuple[str, ...] = (
    "boto3",  # presigned URLs (uploads, history with files, exports)
    "botocore.config",
)


def deployment_modules(settings: Settings) -> tuple[str, ...]:
    """The drivers this deployment's Core is built from (container.build_core imports them)."""
    names: list[str] = []
    if settings.mongodb_uri or settings.mongodb_uri_secret_arn:
        names += ["messaging_core.store.mongo", "messaging_core.store.scheduled"]
    else:
        names += ["messaging_core.store.memory"]
    names += ["messaging_core.store.uploads"]
    if settings.redis_url:
        names += [
            "messaging_core.adapters.redis_client",
            "messaging_core.adapters.redis_fanout",
            "messaging_core.adapters.redis_presence",
            "messaging_core.adapters.redis_ratelimit",
            "messaging_core.adapters.redis_revocation",
        ]
    if settings.kafka_broker:
        names += ["messaging_core.adapters.kafka"]
    if settings.notification_service_url:
        names += ["messaging_core.adapters.notifications"]
    return tuple(names)


def build_input_models() -> int:
    """Build every input model's validator now (they are defer_build); returns how many."""
    from .inputs import InputModel

    built = 0
    pending: list[type[InputModel]] = list(InputModel.__subclasses__())
    seen: set[type[InputModel]] = set()
    while pending:  # bounded: each class is visited once
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        pending.extend(model.__subclasses__())
        model.model_rebuild()  # builds when still deferred, a no-op otherwise
        built += 1
    return built


def warm(settings: Settings, *, libraries: bool = True) -> list[str]:
    """Import what the first requests would and build the deferred validators; never raises
    (a module that fails here is imported, and fails, at first use as before)."""
    failed: list[str] = []
    extra = FIRST_CALL_LIBRARIES if libraries else ()
    for name in (*DEFERRED_MODULES, *extra, *deployment_modules(settings)):
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(name)
            logger.warning("warming skipped a module", extra={"module": name, "error": repr(exc)})
    try:  # the `regex` module with them: messaging_core.reactions loads it at the first reaction
        from .reactions import emoji_patterns

        emoji_patterns()
    except Exception as exc:
        failed.append("reactions")
        logger.warning("warming the emoji patterns failed", extra={"error": repr(exc)})
    try:
        build_input_models()
    except Exception as exc:
        failed.append("inputs")
        logger.warning("warming the input models failed", extra={"error": repr(exc)})
    return failed
