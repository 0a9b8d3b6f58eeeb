"""Issue #19: socket_tier.eio_request translates ASGI requests as engine.io's own driver does.

Each sample scope goes through both functions, each with its own copy of the ASGI events; the
environs must match key for key, in order (the body reader's class aside), and the bodies must
read the same, chunk for chunk, whatever lengths engine.io asks for.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import engineio
import pytest
from engineio.async_drivers import asgi

from socket_tier import eio_request
from socket_tier.app import Realtime
from socket_tier.eio_request import AsgiPayload, install, translate_request
from socket_tier.settings import SocketSettings
from tests.conftest import make_settings

Event = dict[str, Any]

BROWSER_HEADERS = [
    (b"host", b"chat.esante.fr"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
    (b"accept", b"*/*"),
    (b"accept-language", b"fr-FR,fr;q=0.9"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"origin", b"https://app.esante.fr"),
    (b"authorization", b"Bearer aaa.bbb.ccc"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"X-Forwarded-For", b"10.0.0.2"),  # a repeated header: its values are joined
    (b"x-forwarded-proto", b"https"),
    (b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678"),
    (b"cookie", b"AWSALB=abc; AWSALBCORS=abc"),
    (b"x-bad-value", b"caf\xe9"),  # not UTF-8: the stock driver leaves the header out
    (b"x-bad-\xff", b"value"),
]
WEBSOCKET_HEADERS = [
    *BROWSER_HEADERS,
    (b"connection", b"Upgrade"),
    (b"upgrade", b"websocket"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
]


def websocket_scope(query: bytes = b"EIO=4&transport=websocket") -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/socket.io/",
        "raw_path": b"/socket.io/",
        "query_string": query,
        "headers": list(WEBSOCKET_HEADERS),
        "scheme": "wss",
        "client": ("203.0.113.7", 51000),
        "server": ("10.0.0.5", 3006),
        "subprotocols": [],
    }


def http_scope(method: str, query: bytes, extra: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": "/socket.io/",
        "query_string": query,
        "headers": [*BROWSER_HEADERS, *extra],
        "http_version": "1.1",
        "scheme": "http",
    }


POST_HEADERS = [(b"content-type", b"text/plain;charset=UTF-8"), (b"content-length", b"32")]
CHUNKS: list[Event] = [
    {"type": "http.request", "body": b'40{"token":"aaa', "more_body": True},
    {"type": "http.request", "body": b"", "more_body": True},
    {"type": "http.request", "body": b'.bbb.ccc"}\x1e2probe', "more_body": True},
    {"type": "http.request", "more_body": False},  # no body key at all
]
# (name, scope, the ASGI events the app will receive)
SAMPLES: list[tuple[str, dict[str, Any], list[Event]]] = [
    ("websocket", websocket_scope(), [{"type": "websocket.connect"}]),
    (
        "websocket-no-query",
        {**websocket_scope(), "query_string": b""},
        [{"type": "websocket.connect"}],
    ),
    ("websocket-query-not-utf8", websocket_scope(b"EIO=4&t=\xff"), [{"type": "websocket.connect"}]),
    (
        "polling-get",
        http_scope("GET", b"EIO=4&transport=polling&t=PQ1", []),
        [{"type": "http.request", "body": b"", "more_body": False}],
    ),
    (
        "polling-post-chunks",
        http_scope("POST", b"EIO=4&transport=polling&sid=abc", POST_HEADERS),
        [dict(event) for event in CHUNKS],
    ),
    (
        "polling-post-then-disconnect",
        http_scope("POST", b"EIO=4&transport=polling&sid=abc", POST_HEADERS),
        [dict(CHUNKS[0]), {"type": "http.disconnect"}],
    ),
    (
        "no-method-no-query-key",
        {"type": "http", "path": "/socket.io/", "headers": []},
        [{"type": "http.request", "body": b"1", "more_body": False}],
    ),
    ("not-a-request", http_scope("GET", b"", []), [{"type": "http.disconnect"}]),
]
# The lengths engine.io may ask for (None: all of it), one list per reading pattern.
READS: list[list[int | None]] = [[None], [None, None], [4, 4, None], [1, 100, None], [0, 3], [40]]


class Feed:
    """One run's ASGI events, received in order (the same list for both drivers, copied)."""

    def __init__(self, events: list[Event]) -> None:
        self.events = [dict(event) for event in events]
        self.received = 0

    async def receive(self) -> Event:
        self.received += 1
        return self.events.pop(0)


async def send(_message: Event) -> None:
    raise AssertionError("translate_request never sends")


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (these receive() return at once), loop-free."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine suspended")


Translate = Callable[..., Awaitable[dict[str, Any]]]


def translated(translate: Translate, scope: dict[str, Any], events: list[Event]) -> Any:
    feed = Feed(events)
    environ = run(translate(scope, feed.receive, send))  # type: ignore[arg-type]
    return environ, feed


def reads(environ: dict[str, Any], feed: Feed, lengths: list[int | None]) -> list[Any]:
    payload = environ["wsgi.input"]
    steps: list[Any] = []
    for length in lengths:
        try:
            steps.append(run(payload.read(length)))
        except Exception as exc:  # the stock reader's failures, matched type for type
            steps.append(type(exc))
        steps.append(feed.received)
    return steps


@pytest.mark.parametrize(("scope", "events"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
@pytest.mark.parametrize("visit", ["first", "again"])  # header keys computed, then remembered
def test_the_environ_is_the_stock_one_key_for_key(
    scope: dict[str, Any], events: list[Event], visit: str
) -> None:
    if visit == "first":
        eio_request._HEADER_KEYS.clear()
    stock, stock_feed = translated(asgi.translate_request, scope, events)
    ours, our_feed = translated(translate_request, scope, events)
    assert list(ours) == list(stock)  # the same keys, in the same order
    if not stock:
        return  # not a request: both return {}
    for key in stock:
        if key == "wsgi.input":
            assert type(ours[key]) is AsgiPayload
        elif key == "asgi.receive":  # each run's own feed
            assert (ours[key], stock[key]) == (our_feed.receive, stock_feed.receive)
        else:
            assert ours[key] == stock[key], key
    assert ours["asgi.scope"] is scope
    assert ours["asgi.send"] is send
    assert (our_feed.received, our_feed.events) == (stock_feed.received, stock_feed.events)


@pytest.mark.parametrize("lengths", READS, ids=str)
@pytest.mark.parametrize(
    ("scope", "events"), [s[1:] for s in SAMPLES[:-1]], ids=[s[0] for s in SAMPLES[:-1]]
)
def test_the_body_reads_as_the_stock_one(
    scope: dict[str, Any], events: list[Event], lengths: list[int | None]
) -> None:
    stock, stock_feed = translated(asgi.translate_request, scope, events)
    ours, our_feed = translated(translate_request, scope, events)
    # The same bytes per read (or the same failure: a handshake has no body), the same events
    # received after each read
    assert reads(ours, our_feed, lengths) == reads(stock, stock_feed, lengths)
    assert our_feed.events == stock_feed.events


def test_made_up_header_names_are_translated_but_not_all_kept() -> None:
    """A client inventing header names cannot grow the remembered keys past their bound."""
    eio_request._HEADER_KEYS.clear()
    names = [(f"x-made-up-{i}".encode(), b"v") for i in range(eio_request._MAX_HEADER_KEYS + 50)]
    odd = [(bytearray(b"x-bytearray-name"), b"v"), (b"X-Made-Up-1", b"w")]  # as the stock reads
    scope = http_scope("GET", b"EIO=4&transport=polling", [*names, *odd])
    for _ in range(2):
        stock, _feed = translated(asgi.translate_request, scope, [CHUNKS[-1]])
        ours, _feed = translated(translate_request, scope, [CHUNKS[-1]])
        assert [(k, v) for k, v in ours.items() if k.startswith("HTTP_")] == [
            (k, v) for k, v in stock.items() if k.startswith("HTTP_")
        ]
    assert len(eio_request._HEADER_KEYS) == eio_request._MAX_HEADER_KEYS
    assert all(type(name) is bytes for name in eio_request._HEADER_KEYS)


def test_a_post_body_arrives_whole() -> None:
    """The sample's chunks, read as engine.io reads a polling POST (its CONTENT_LENGTH)."""
    scope = http_scope("POST", b"EIO=4&transport=polling&sid=abc", POST_HEADERS)
    environ, feed = translated(translate_request, scope, CHUNKS)
    length = int(environ["CONTENT_LENGTH"])
    assert (
        run(environ["wsgi.input"].read(length)) == b'40{"token":"aaa.bbb.ccc"}\x1e2probe'[:length]
    )
    assert feed.received == len(CHUNKS)


def test_a_request_leaves_no_cyclic_garbage() -> None:
    """The stock driver's class per request is a cycle for the collector; ours leaves none."""
    scope = websocket_scope()

    def garbage_after(translate: Translate) -> int:
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                translated(translate, scope, [{"type": "websocket.connect"}])
            return gc.collect()
        finally:
            gc.enable()

    assert garbage_after(asgi.translate_request) >= 20  # the comparison is worth making
    assert garbage_after(translate_request) == 0


def test_only_the_installed_server_translates_here() -> None:
    stock_table = dict(asgi._async)
    ours, other = engineio.AsyncServer(async_mode="asgi"), engineio.AsyncServer(async_mode="asgi")
    install(ours)
    assert ours._async["translate_request"] is eio_request.translate_request
    assert other._async["translate_request"] is asgi.translate_request
    assert asgi._async == stock_table  # the driver's table, shared by every server, untouched
    assert {k: v for k, v in ours._async.items() if k != "translate_request"} == {
        k: v for k, v in stock_table.items() if k != "translate_request"
    }


def test_the_socket_tier_server_translates_here() -> None:
    realtime = Realtime(make_settings(), SocketSettings(_env_file=None))  # type: ignore[call-arg]
    assert realtime.sio.eio._async["translate_request"] is eio_request.translate_request
    assert realtime.sio.eio._async["websocket"].__name__ == "QuietWebSocket"  # both installed
