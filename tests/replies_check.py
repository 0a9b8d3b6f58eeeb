"""Every success reply a test receives is checked twice: against its route's schema in the served
OpenAPI document, and byte for byte against how the reply was written before routes were typed.

`tests/conftest.py`'s `client` uses both, so the whole REST contract suite (whose assertions are
unchanged) proves the typed replies changed no byte and that the document tells the truth.
"""

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fastapi.routing
import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

# What every route answered before it declared a response model: its `-> dict[str, Any]`
# annotation made FastAPI write the returned dict with this adapter, in the dict's own order.
UNTYPED: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
NOT_DOCUMENTED = ("/openapi.json", "/docs", "/redoc")  # the API page itself


@functools.cache
def served_document() -> dict[str, Any]:
    """The local app's OpenAPI document (every REST router), built once: it costs a second."""
    from functions.local_app import create_local_app

    return create_local_app().openapi()


class ReplyChecker:
    """Validates a success reply against the schema the served document gives its route."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {})
        self.routes: list[tuple[re.Pattern[str], str, str, dict[str, Any]]] = []
        for path, item in document["paths"].items():
            # `{conversationId}` matches one path segment, as in Starlette's routing.
            pattern = re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$")
            for method, op in item.items():
                self.routes.append((pattern, method.upper(), path, op))
        self.validators: dict[tuple[str, str, int], Draft202012Validator] = {}
        # (method, documented path, status) of every reply checked: what a test covered.
        self.checked: set[tuple[str, str, int]] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        found = [(t, op) for p, m, t, op in self.routes if m == method and p.match(path)]
        assert len(found) == 1, f"{method} {path}: {len(found)} documented operations"
        return found[0]

    def schema_for(self, method: str, path: str, status: int) -> dict[str, Any]:
        reply = self.operation(method, path)[1]["responses"].get(str(status))
        assert reply is not None, f"{method} {path}: {status} is not documented"
        schema = reply.get("content", {}).get("application/json", {}).get("schema")
        assert schema, f"{method} {path}: {status} documents no JSON schema"
        return dict(schema)

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        key = (method, path, status)
        validator = self.validators.get(key)
        if validator is None:
            schema = self.schema_for(method, path, status)
            # `#/components/...` references resolve against a root that carries the components.
            validator = Draft202012Validator({**schema, "components": self.components})
            self.validators[key] = validator
        validator.validate(body)
        self.checked.add((method, self.operation(method, path)[0], status))

    async def on_response(self, response: httpx.Response) -> None:
        """An httpx response hook: check each JSON success reply of a documented route."""
        request = response.request
        path = request.url.path
        if not 200 <= response.status_code < 300 or path.startswith(NOT_DOCUMENTED):
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        await response.aread()
        self.check(request.method, path, response.status_code, response.json())


@contextmanager
def same_bytes_as_untyped(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """While open, every typed reply FastAPI writes must equal the untyped writing of the same
    returned value; yields the replies compared (a test can assert some were)."""
    original = fastapi.routing.serialize_response
    compared: list[bytes] = []

    async def serialize_response(**kwargs: Any) -> Any:
        written = await original(**kwargs)
        field = kwargs.get("field")
        if field is not None and kwargs.get("dump_json"):
            before = UNTYPED.dump_json(kwargs["response_content"])
            assert written == before, f"typed reply differs:\n{written!r}\nuntyped:\n{before!r}"
            compared.append(written)
        return written

    with monkeypatch.context() as patch:
        patch.setattr(fastapi.routing, "serialize_response", serialize_response)
        yield compared
