"""Real loopback servers for integration tests (see scripts/servers/).

Each accessor makes sure its server answers (running ``scripts/servers/start.sh NAME`` when it
does not: that installs/builds it on first use, cached under ``.cache/``) and returns its address::

    redis_url()     -> "redis://127.0.0.1:16379/0"     (TEST_REDIS_URL / TEST_REDIS_PORT)
    mongodb_uri()   -> "mongodb://127.0.0.1:27027/"    (TEST_MONGODB_URI / TEST_MONGODB_PORT)
    kafka_broker()  -> "127.0.0.1:19092"               (TEST_KAFKA_BROKER / TEST_KAFKA_PORT)
    s3_endpoint()   -> "http://127.0.0.1:15000"        (TEST_S3_ENDPOINT / TEST_S3_PORT)

They raise RuntimeError with the script's output when a server cannot be had: an integration test
must fail, never skip, when its server is missing.

Fault tests: ``stop_kafka()`` / ``start_kafka()`` stop and restart the broker on the same data
directory (topics and committed offsets survive); ``kill_server(name)`` SIGKILLs a server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

__all__ = [
    "ensure_server",
    "kafka_broker",
    "kill_server",
    "mongodb_uri",
    "redis_url",
    "s3_endpoint",
    "server_answers",
    "start_kafka",
    "start_server",
    "stop_kafka",
    "stop_server",
]

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "servers"


def _load_table() -> ModuleType:
    """scripts/servers/probe.py: the one table of servers and ports, and the one probe."""
    spec = importlib.util.spec_from_file_location("servers_probe", SCRIPTS / "probe.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SCRIPTS / 'probe.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


TABLE = _load_table()
HOST: str = TABLE.HOST
# name -> (address env var, port env var, default port)
_SERVERS: dict[str, tuple[str, str, int]] = {
    name: (s.address_var, s.port_var, s.default_port) for name, s in TABLE.SERVERS.items()
}

# start.sh can take minutes on a fresh machine (apt-get, go build, mvn); it bounds its own waits.
_START_TIMEOUT_S = 1200
_STOP_TIMEOUT_S = 120
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _check_name(name: str) -> None:
    if name not in _SERVERS:
        raise ValueError(f"unknown server {name!r} (expected one of {sorted(_SERVERS)})")


def _default_address(name: str, port: int) -> str:
    return str(TABLE.SERVERS[name].address(HOST, port))


def address(name: str) -> tuple[str, str, int]:
    """(address as the client takes it, host, port) for server NAME, honouring the env overrides."""
    _check_name(name)
    addr_var, port_var, default_port = _SERVERS[name]
    addr = os.environ.get(addr_var)
    if not addr:
        try:
            port = int(os.environ.get(port_var) or default_port)
        except ValueError:
            raise RuntimeError(f"{port_var}={os.environ.get(port_var)!r} is not a port") from None
        return _default_address(name, port), HOST, port
    parts = urlsplit(addr if "://" in addr else f"tcp://{addr.split(',')[0]}")
    try:
        port = parts.port or int(os.environ.get(port_var) or default_port)
    except ValueError as exc:
        raise RuntimeError(f"{addr_var}={addr!r} has no usable port: {exc}") from None
    return addr, parts.hostname or HOST, port


# ----------------------------------------------------------------------------- probes
def server_answers(name: str) -> bool:
    """True if server NAME answers its protocol right now (no start attempt)."""
    _, host, port = address(name)
    return bool(TABLE.probe(name, host, port))


# ----------------------------------------------------------------------------- scripts
def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _run(script: str, *args: str, port_env: dict[str, str] | None = None, timeout: float) -> str:
    env = dict(os.environ)
    env.update(port_env or {})
    cmd = [str(SCRIPTS / script), *args]
    what = f"scripts/servers/{script} {' '.join(args)}"
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        raise RuntimeError(f"{what} timed out after {timeout:.0f} s:\n{out[-4000:]}") from None
    except OSError as exc:
        raise RuntimeError(f"cannot run {what}: {exc}") from None
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{out[-4000:]}")
    return out


def _port_env(name: str, host: str, port: int) -> dict[str, str]:
    if host not in _LOOPBACK:
        raise RuntimeError(
            f"{name} server at {host}:{port} (from {_SERVERS[name][0]}) does not answer, "
            "and only loopback servers can be started by scripts/servers/start.sh"
        )
    return {_SERVERS[name][1]: str(port)}


def start_server(name: str) -> str:
    """Run start.sh NAME (idempotent) and return the server's address."""
    addr, host, port = address(name)
    _run("start.sh", name, port_env=_port_env(name, host, port), timeout=_START_TIMEOUT_S)
    if not server_answers(name):
        raise RuntimeError(
            f"{name}: scripts/servers/start.sh succeeded but {host}:{port} does not answer"
        )
    return addr


def ensure_server(name: str) -> str:
    """Address of server NAME, starting it first if it does not answer."""
    addr, _, _ = address(name)
    if server_answers(name):
        return addr
    return start_server(name)


def stop_server(name: str) -> None:
    """Graceful stop (SIGTERM, bounded wait, then SIGKILL) of a server start.sh started."""
    _, host, port = address(name)
    _run("stop.sh", name, port_env=_port_env(name, host, port), timeout=_STOP_TIMEOUT_S)


def kill_server(name: str) -> None:
    """SIGKILL a server start.sh started (crash simulation). Restart it with start_server(name)."""
    _, host, port = address(name)
    _run("stop.sh", "--kill", name, port_env=_port_env(name, host, port), timeout=_STOP_TIMEOUT_S)


def redis_url() -> str:
    return ensure_server("redis")


def mongodb_uri() -> str:
    return ensure_server("mongo")


def kafka_broker() -> str:
    return ensure_server("kafka")


def s3_endpoint() -> str:
    return ensure_server("s3")


def stop_kafka() -> None:
    """Stop the broker (data dir kept, so topics and committed offsets survive start_kafka())."""
    stop_server("kafka")


def start_kafka() -> str:
    """(Re)start the broker on the same data dir; returns the bootstrap address once it answers."""
    return start_server("kafka")
