#!/usr/bin/env python3
"""The loopback test servers: one table of names, ports and addresses, and one probe per protocol.

Standard library only: env.sh and start.sh run it with the machine's python3 (no venv needed),
and tests/servers.py imports it, so that the scripts start each server where the tests look.

    python3 scripts/servers/probe.py check NAME [HOST PORT]   # exit 0 if NAME answers, else 1
    python3 scripts/servers/probe.py shell                    # the table as bash assignments

Ports honour the TEST_*_PORT overrides of the environment (see env.sh).
"""

from __future__ import annotations

import os
import shlex
import socket
import struct
import sys
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """One test server: where the tests read its address, its port override and default port."""

    name: str
    address_var: str  # a full address set here wins over the port (tests/servers.py)
    port_var: str
    default_port: int
    url: str  # formatted with host and port
    # Started by default (start.sh/ensure.sh with no name, `make test`); the others are for
    # benchmarks and are started by name only.
    default: bool = True

    def port(self) -> int:
        """The port, from the environment's override if any."""
        raw = os.environ.get(self.port_var) or str(self.default_port)
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{self.port_var}={raw!r} is not a port") from None

    def address(self, host: str = HOST, port: int | None = None) -> str:
        """The address as its client takes it (a URL, or host:port for Kafka)."""
        return self.url.format(host=host, port=self.port() if port is None else port)


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("redis", "TEST_REDIS_URL", "TEST_REDIS_PORT", 16379, "redis://{host}:{port}/0"),
        Server("mongo", "TEST_MONGODB_URI", "TEST_MONGODB_PORT", 27027, "mongodb://{host}:{port}/"),
        Server("kafka", "TEST_KAFKA_BROKER", "TEST_KAFKA_PORT", 19092, "{host}:{port}"),
        Server("s3", "TEST_S3_ENDPOINT", "TEST_S3_PORT", 15000, "http://{host}:{port}"),
        # FerretDB on PostgreSQL, for the benchmarks that measure many concurrent store calls
        # (the reconnect storm): FerretDB on SQLite serialises every write behind one file lock.
        # Listed before its PostgreSQL so that stopping everything stops it first.
        Server(
            "mongopg",
            "BENCH_MONGODB_URI",
            "BENCH_MONGOPG_PORT",
            27028,
            "mongodb://{host}:{port}/",
            default=False,
        ),
        Server(
            "postgres",
            "BENCH_POSTGRES_URL",
            "BENCH_POSTGRES_PORT",
            15432,
            "postgres://ferret@{host}:{port}/postgres",
            default=False,
        ),
    )
}
# The KRaft controller listener of the one-node Kafka (start.sh): not a server of its own.
KAFKA_CONTROLLER_PORT_VAR = "TEST_KAFKA_CONTROLLER_PORT"
KAFKA_CONTROLLER_DEFAULT_PORT = 19093


# ----------------------------------------------------------------------------- probes
def _recvn(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:  # bounded: each recv returns data or ends the loop by raising
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def _speaks(name: str, s: socket.socket, host: str, port: int) -> bool:
    if name == "redis":
        s.sendall(b"PING\r\n")
        return _recvn(s, 7) == b"+PONG\r\n"
    if name == "mongo":  # OP_MSG {hello: 1, $db: "admin"} -> ok: 1.0
        body = b"\x10hello\x00" + struct.pack("<i", 1)
        body += b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
        doc = struct.pack("<i", len(body) + 5) + body + b"\x00"
        msg = struct.pack("<I", 0) + b"\x00" + doc
        s.sendall(struct.pack("<iiii", 16 + len(msg), 1, 0, 2013) + msg)
        length, _, _, opcode = struct.unpack("<iiii", _recvn(s, 16))
        reply = _recvn(s, length - 16)
        i = reply.find(b"\x01ok\x00")
        return bool(
            opcode == 2013 and i > 0 and struct.unpack("<d", reply[i + 4 : i + 12])[0] == 1.0
        )
    if name == "kafka":  # Metadata v4, no topics: the broker must list itself (registered)
        client = b"probe"
        req = struct.pack(">hhih", 3, 4, 7, len(client)) + client + struct.pack(">ib", 0, 0)
        s.sendall(struct.pack(">i", len(req)) + req)
        (length,) = struct.unpack(">i", _recvn(s, 4))
        corr, _throttle, nbrokers = struct.unpack(">iii", _recvn(s, length)[:12])
        return bool(corr == 7 and nbrokers >= 1)
    if name == "postgres":  # SSLRequest -> one byte, 'S' or 'N'
        s.sendall(struct.pack(">ii", 8, 80877103))
        return _recvn(s, 1) in (b"S", b"N")
    if name == "mongopg":
        return _speaks("mongo", s, host, port)
    if name == "s3":
        s.sendall(b"GET / HTTP/1.0\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port))
        return _recvn(s, 12).startswith(b"HTTP/1.")
    raise ValueError(f"unknown server {name!r} (expected one of {sorted(SERVERS)})")


def probe(name: str, host: str, port: int) -> bool:
    """True if server NAME speaks its protocol (not just accepts TCP) on host:port."""
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(5)
            return _speaks(name, s, host, port)
    except (OSError, EOFError, struct.error):
        return False


# ----------------------------------------------------------------------------- command line
def _shell() -> str:
    """Bash assignments for env.sh: SRV_<NAME>_PORT, the controller port, and per-name maps."""
    q = shlex.quote
    # The interpreter itself, not a pyenv shim (which costs a second a call on a loaded machine).
    lines = [f"SRV_PYTHON={q(sys.executable)}", f"SRV_HOST={q(HOST)}"]
    lines += [f"SRV_ALL=({' '.join(SERVERS)})"]
    lines += [f"SRV_DEFAULT=({' '.join(n for n, s in SERVERS.items() if s.default)})"]
    lines += ["declare -gA SRV_PORTS SRV_PORT_VARS SRV_URLS"]
    for name, server in SERVERS.items():
        port = server.port()
        lines.append(f"SRV_{name.upper()}_PORT={port}")
        lines.append(f"SRV_PORTS[{name}]={port}")
        lines.append(f"SRV_PORT_VARS[{name}]={q(server.port_var)}")
        lines.append(f"SRV_URLS[{name}]={q(server.address())}")
    controller = os.environ.get(KAFKA_CONTROLLER_PORT_VAR) or str(KAFKA_CONTROLLER_DEFAULT_PORT)
    if not controller.isdigit():
        raise ValueError(f"{KAFKA_CONTROLLER_PORT_VAR}={controller!r} is not a port")
    lines.append(f"SRV_KAFKA_CONTROLLER_PORT={controller}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["shell"] and len(argv) == 1:
            print(_shell())
            return 0
        if argv[:1] == ["check"] and len(argv) in (2, 4):
            name = argv[1]
            if name not in SERVERS:
                raise ValueError(f"unknown server {name!r} (expected one of {sorted(SERVERS)})")
            host, port = (argv[2], int(argv[3])) if len(argv) == 4 else (HOST, SERVERS[name].port())
            return 0 if probe(name, host, port) else 1
    except ValueError as exc:
        print(f"probe.py: {exc}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
