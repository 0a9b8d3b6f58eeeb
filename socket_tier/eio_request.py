"""engine.io's ASGI request translation, without a class built per request (issue #19).

python-engineio's `translate_request` (engineio/async_drivers/asgi.py) defines its body reader
class inside the function: every polling request and every websocket handshake builds a new
class (slow to build) and leaves it in a reference cycle that only the cyclic collector frees.
Here the reader is defined once, and each header name's environ key is remembered rather than
rebuilt per request; the environ has the same keys and values, in the same order, and the body
reads the same (tests/unit/test_eio_request.py compares both on sample scopes).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
_REQUEST_EVENTS = ("http.request", "websocket.connect")


# A header's environ key, by its raw name: the same few names come with every request, and
# each cost an upper(), a decode, a replace and a concatenation. Bounded: names past the bound
# (a client sending made-up ones) are translated per request, as before, and never kept.
_HEADER_KEYS: dict[bytes, str] = {}
_MAX_HEADER_KEYS = 256
# Set, not joined, when repeated (the stock function's special cases).
_OVERWRITTEN = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _environ_key(raw_name: bytes) -> str | None:
    """The stock function's key for a header name; None if the name is not UTF-8."""
    try:
        name = raw_name.upper().decode("utf-8")
    except UnicodeDecodeError:
        return None
    if name == "CONTENT-TYPE":
        key = "CONTENT_TYPE"
    elif name == "CONTENT-LENGTH":
        key = "CONTENT_LENGTH"
    else:
        key = "HTTP_" + name.replace("-", "_")
    if type(raw_name) is bytes and len(_HEADER_KEYS) < _MAX_HEADER_KEYS:
        _HEADER_KEYS[raw_name] = key
    return key


class AsgiPayload:
    """`environ["wsgi.input"]`: the request body, read from the ASGI events on first use."""

    __slots__ = ("_from_http", "_receive", "event", "payload")

    def __init__(self, event: dict[str, Any], receive: Receive) -> None:
        self.event = event
        self.payload: bytes | None = None
        self._receive = receive
        # The stock reader tests the FIRST event's type on every read (its closure's `event`),
        # not the latest one it received: kept so.
        self._from_http = event["type"] == "http.request"

    async def read(self, length: int | None = None) -> Any:
        if self.payload is None and self._from_http:
            self.payload = self.event.get("body") or b""
            while self.event.get("more_body"):
                self.event = await self._receive()
                if self.event["type"] == "http.request" and (
                    length is None or len(self.payload) < length
                ):
                    self.payload += self.event.get("body") or b""
        # As the stock reader: a websocket handshake's payload is None (engine.io never reads it).
        payload: Any = self.payload
        if length is None:
            self.payload = b""
            return payload
        head = payload[:length]
        self.payload = payload[length:]
        return head


async def translate_request(
    scope: dict[str, Any], receive: Receive, send: Callable[..., Awaitable[Any]]
) -> dict[str, Any]:
    """The stock function's environ, key for key."""
    event = await receive()
    if event["type"] not in _REQUEST_EVENTS:
        return {}

    raw_uri = scope["path"]
    query_string = ""
    if scope.get("query_string"):
        try:
            query_string = scope["query_string"].decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raw_uri += "?" + query_string
    environ: dict[str, Any] = {
        "wsgi.input": AsgiPayload(event, receive),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "asgi",
        "REQUEST_METHOD": scope.get("method", "GET"),
        "PATH_INFO": scope["path"],
        "QUERY_STRING": query_string,
        "RAW_URI": raw_uri,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "SERVER_NAME": "asgi",
        "SERVER_PORT": "0",
        "asgi.receive": receive,
        "asgi.send": send,
        "asgi.scope": scope,
    }

    for raw_name, raw_value in scope["headers"]:
        key = _HEADER_KEYS.get(raw_name) if type(raw_name) is bytes else None
        if key is None:
            key = _environ_key(raw_name)
            if key is None:
                continue  # as the stock function: a header that does not decode is left out
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if key in _OVERWRITTEN:
            environ[key] = value
            continue
        if key in environ:
            value = f"{environ[key]},{value}"  # a repeated header: its values joined
        environ[key] = value

    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ


def install(eio_server: Any) -> None:
    """This server translates its requests here. python-engineio's driver table is one dict
    shared by every engine.io server of the process: this server gets its own copy."""
    eio_server._async = {**eio_server._async, "translate_request": translate_request}
