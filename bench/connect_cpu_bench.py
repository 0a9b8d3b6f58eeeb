"""The CPU of two steps of every Socket.IO connect (issue #19), stock vs ours, in one process.

    PYTHONPATH=layers:. .venv/bin/python bench/connect_cpu_bench.py [--rounds 9] [--calls 2000]

- Token verification: `verify_token` decoding with a stock `jwt.PyJWT()` (what the module-level
  `jwt.decode` is) vs with its own decoder (messaging_core/jwt_decoder.py); and the decode alone,
  with verify_token's arguments.
- engine.io's ASGI request translation, for a websocket handshake, a polling GET and a polling
  POST whose body arrives in three chunks (read as engine.io reads it): python-engineio's
  `translate_request` vs socket_tier/eio_request.py, with 19 browser and load balancer headers.

No server, no I/O, one core: CPU time (process time) per call, stock and ours alternating round
by round, medians reported. On a shared machine, compare the two columns of one run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers"), str(ROOT)]

import jwt  # noqa: E402
from engineio.async_drivers import asgi  # noqa: E402
from messaging_core import auth  # noqa: E402
from messaging_core.config import Settings  # noqa: E402

from socket_tier.eio_request import translate_request  # noqa: E402

HEADERS = [
    (b"host", b"chat.esante.fr"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"*/*"),
    (b"accept-language", b"fr-FR,fr;q=0.9,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"origin", b"https://app.esante.fr"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"x-forwarded-proto", b"https"),
    (b"x-forwarded-port", b"443"),
    (b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678"),
    (b"cookie", b"AWSALB=abc; AWSALBCORS=abc"),
    (b"sec-fetch-dest", b"empty"),
    (b"sec-fetch-mode", b"websocket"),
    (b"sec-fetch-site", b"same-site"),
]
WS_HEADERS = [
    *HEADERS,
    (b"connection", b"Upgrade"),
    (b"upgrade", b"websocket"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
]
POST_HEADERS = [
    *HEADERS,
    (b"content-type", b"text/plain;charset=UTF-8"),
    (b"content-length", b"40"),
    (b"pragma", b"no-cache"),
    (b"cache-control", b"no-cache"),
    (b"referer", b"https://app.esante.fr/"),
]
CHUNKS = [
    {"type": "http.request", "body": b'40{"token":"aaaaaaaaaa', "more_body": True},
    {"type": "http.request", "body": b".bbbbbbbbbb.cccc", "more_body": True},
    {"type": "http.request", "body": b'"}', "more_body": False},
]
SCOPES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "websocket handshake": (
        {"type": "websocket", "path": "/socket.io/", "headers": WS_HEADERS,
         "query_string": b"EIO=4&transport=websocket"},
        [{"type": "websocket.connect"}],
    ),
    "polling GET": (
        {"type": "http", "method": "GET", "path": "/socket.io/", "headers": HEADERS,
         "query_string": b"EIO=4&transport=polling&t=PQ1xYz2"},
        [{"type": "http.request", "body": b"", "more_body": False}],
    ),
    "polling POST, 3 chunks, read": (
        {"type": "http", "method": "POST", "path": "/socket.io/", "headers": POST_HEADERS,
         "query_string": b"EIO=4&transport=polling&sid=abcdefgh"},
        CHUNKS,
    ),
}  # fmt: skip


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (the receive() below answer at once)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("suspended")


def request_call(translate: Any, scope: dict[str, Any], events: list[dict[str, Any]]) -> Any:
    async def send(_message: Any) -> None:
        return None

    def call() -> None:
        pending = iter(events)

        async def receive() -> dict[str, Any]:
            return next(pending)

        environ = run(translate(scope, receive, send))
        if scope["type"] == "http" and scope["method"] == "POST":
            run(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))

    return call


# A side of a comparison: what to set before its round (or None), and the call timed.
Side = tuple[Callable[[], Any] | None, Callable[[], Any]]


def per_call_us(side: Side, calls: int) -> float:
    prepare, call = side
    if prepare is not None:
        prepare()
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


def ab(stock: Side, ours: Side, rounds: int, calls: int) -> list[float]:
    """Median µs per call of each, alternating which goes first, after a warm-up."""
    for side in (stock, ours):
        per_call_us(side, max(1, calls // 10))
    times: dict[str, list[float]] = {"stock": [], "ours": []}
    for index in range(rounds):
        order = [("stock", stock), ("ours", ours)]
        for name, side in order if index % 2 else order[::-1]:
            times[name].append(per_call_us(side, calls))
    return [statistics.median(times["stock"]), statistics.median(times["ours"])]


def freed_by_collector(call: Callable[[], Any], calls: int = 200) -> float:
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            call()
        return gc.collect() / calls
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    settings = Settings(_env_file=None, environment="test", jwt_secret="b" * 40)  # type: ignore[call-arg]
    token = auth.mint_token(settings, "673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith")
    stock_decoder, our_decoder = jwt.PyJWT(), auth._decoder()
    kwargs: dict[str, Any] = {
        "algorithms": ["HS256"],
        "options": {"require": ["exp", "iat"], "verify_aud": False, "verify_iss": False},
        "leeway": 5,
    }
    key = settings.jwt_secret.get_secret_value()

    real_decoder = auth._decoder

    def verify_with(decoder: jwt.PyJWT) -> Side:
        def prepare() -> None:  # verify_token looks its decoder up at each call
            auth._decoder = lambda: decoder  # type: ignore[assignment]

        return prepare, lambda: auth.verify_token(token, settings)

    rows: list[tuple[str, list[float], str]] = []
    try:
        verify = ab(verify_with(stock_decoder), verify_with(our_decoder), args.rounds, args.calls)
    finally:
        auth._decoder = real_decoder  # type: ignore[assignment]
    rows.append(("verify_token (HS256)", verify, ""))
    rows.append((
        "its decode alone",
        ab((None, lambda: stock_decoder.decode(token, key, **kwargs)),
           (None, lambda: our_decoder.decode(token, key, **kwargs)), args.rounds, args.calls),
        "",
    ))  # fmt: skip
    for name, (scope, events) in SCOPES.items():
        stock = request_call(asgi.translate_request, scope, events)
        ours = request_call(translate_request, scope, events)
        freed = f"{freed_by_collector(stock):.0f} / {freed_by_collector(ours):.0f}"
        rows.append(
            (
                f"eio request: {name}",
                ab((None, stock), (None, ours), args.rounds, args.calls),
                freed,
            )
        )

    print(f"{args.rounds} alternated rounds of {args.calls:,} calls; CPU µs per call, medians")
    print()
    print("| step | stock µs | ours µs | stock / ours | objects freed by the GC per call |")
    print("|---|---:|---:|---:|---|")
    for name, (stock_us, our_us), freed in rows:
        print(f"| {name} | {stock_us:.1f} | {our_us:.1f} | {stock_us / our_us:.2f}x | {freed} |")


if __name__ == "__main__":
    main()
