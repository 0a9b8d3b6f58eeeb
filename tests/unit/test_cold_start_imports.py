"""Cold start (issue #19): a REST function's import leaves out what only its requests need, and
SnapStart's before-snapshot hook loads all of it, so a restored copy never pays it.

Each check runs in a fresh interpreter: sys.modules of this test process holds everything.
"""

import json

import pytest

from tests.fresh_interpreter import probe

REST_FUNCTIONS = (
    "presence",
    "conversations",
    "messages",
    "attachments",
    "scheduled",
    "message_actions",
    "doctor_tools",
)
# What an import must not load (each was, or is a driver a deployment may not even use).
DEFERRED = (
    "jwt",
    "cryptography",
    "messaging_core.adapters.s3",
    "messaging_core.adapters.directory",
    "boto3",
    "pymongo",
    "redis",
    "kafka",
    # FastAPI's pydantic.v1 check (functions/api/fastapi_compat.py): never needed, never loaded.
    "pydantic.v1",
    # The Core's factory: built at the first request (functions/api/deps.py).
    "messaging_core.container",
    # The ports are types to the core (adapters and the container import them)...
    "messaging_core.ports",
    # ...and the in-process adapters come with the container.
    "messaging_core.adapters.memory",
    # The `regex` module and its emoji patterns: at the first reaction (messaging_core.reactions).
    "regex",
)

IMPORT_PROBE = """
import importlib, json, sys
from fastapi.routing import APIRoute
function = importlib.import_module("functions." + sys.argv[1])
from messaging_core.inputs import SocketSendMessageIn, SyncIn

def api_routes(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from api_routes(route.original_router.routes)

replies = [r.response_field for r in api_routes(function.app.routes) if r.response_field]
print(json.dumps({
    "routes": len(replies),
    "built_replies": [r.name for r in replies if r._type_adapter.pydantic_complete],
    "loaded": [m for m in json.loads(sys.argv[2]) if m in sys.modules],
    "other_functions": sorted(
        m for m in sys.modules
        if m.startswith("functions.") and m.count(".") == 1 and m != "functions." + sys.argv[1]
        and m.split(".")[1] in json.loads(sys.argv[3])
    ),
    "built_inputs": [m.__name__ for m in (SocketSendMessageIn, SyncIn) if m.__pydantic_complete__],
}))
"""

HOOK_PROBE = """
import importlib, json, sys
from fastapi import routing
function = importlib.import_module("functions." + sys.argv[1])
import snapshot_restore_py
for func, args, kwargs in snapshot_restore_py._before_snapshot_registry:  # as the runtime does
    func(*args, **kwargs)
from messaging_core import warm
from messaging_core.config import get_settings
from messaging_core.inputs import InputModel
models, pending = [], list(InputModel.__subclasses__())
while pending:
    model = pending.pop()
    models.append(model)
    pending.extend(model.__subclasses__())
print(json.dumps({
    "missing": [
        m for m in (
            *warm.DEFERRED_MODULES, *warm.FIRST_CALL_LIBRARIES,
            *warm.deployment_modules(get_settings()),
        )
        if m not in sys.modules
    ],
    "cryptography": "cryptography" in sys.modules,
    "emoji_patterns": sys.modules["messaging_core.reactions"].emoji_patterns.cache_info().currsize,
    "unbuilt_inputs": [m.__name__ for m in models if not m.__pydantic_complete__],
    "inputs": len(models),
    "unbuilt_route_fields": [  # what each request uses: the effective routes' own fields
        ctx.path for ctx in routing.iter_route_contexts(function.app.routes)
        for field in (getattr(ctx, "response_field", None), getattr(ctx, "body_field", None))
        if field is not None and not field._type_adapter.pydantic_complete
    ],
}))
"""


@pytest.mark.parametrize("function", REST_FUNCTIONS)
def test_a_function_import_leaves_out_what_only_its_requests_need(function: str) -> None:
    seen = probe(IMPORT_PROBE, function, json.dumps(DEFERRED), json.dumps(REST_FUNCTIONS))
    # No token library (nor its cryptography), no adapter, no driver at import...
    assert seen["loaded"] == []
    # ...no other function's whole app (attachments once imported `scheduled` for one route)...
    assert seen["other_functions"] == []
    # ...no validator for input shapes this function does not receive (socket payloads)...
    assert seen["built_inputs"] == []
    # ...and no route's reply validator: each is built at its route's first reply.
    assert seen["routes"] > 0
    assert seen["built_replies"] == []


@pytest.mark.parametrize("function", ["presence", "attachments"])
def test_the_before_snapshot_hook_loads_what_the_import_deferred(function: str) -> None:
    seen = probe(HOOK_PROBE, function)
    assert seen["missing"] == []
    assert seen["cryptography"] is True  # PyJWT's, in the image rather than on a request
    assert seen["emoji_patterns"] == 1  # compiled in the snapshot, not at the first reaction
    assert seen["inputs"] > 10
    assert seen["unbuilt_inputs"] == []
    assert seen["unbuilt_route_fields"] == []


FREEZE_PROBE = """
import gc, json
import fastapi  # what a REST function imports before the core
loaded = len(gc.get_objects())
import messaging_core
print(json.dumps({"loaded": loaded, "frozen": gc.get_freeze_count()}))
"""


def test_the_core_takes_what_was_loaded_before_it_out_of_the_collectors_walks() -> None:
    seen = probe(FREEZE_PROBE)
    # The framework's objects are frozen when the core loads, so the full collections its
    # import triggers do not walk them again.
    assert seen["frozen"] >= seen["loaded"] > 10_000


SOCKET_PROBE = """
import asyncio, json, sys
from socket_tier.app import Realtime
from socket_tier.settings import SocketSettings
from tests.conftest import make_settings

async def main():
    realtime = Realtime(make_settings(), SocketSettings(_env_file=None))
    before = "jwt" in sys.modules
    await realtime.lifecycle.start()
    try:
        from messaging_core.inputs import SocketSendMessageIn
        print(json.dumps({"before": before, "after": "jwt" in sys.modules,
                          "built": SocketSendMessageIn.__pydantic_complete__}))
    finally:
        await realtime.lifecycle.stop()

asyncio.run(main())
"""


def test_a_socket_task_loads_what_the_core_defers_when_it_starts() -> None:
    # Not on its event loop at the first handshake: before it serves anyone.
    seen = probe(SOCKET_PROBE)
    assert seen == {"before": False, "after": True, "built": True}
