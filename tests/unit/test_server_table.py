"""One table of test-server ports and one probe, shared by scripts/servers/ and tests/servers.py.

The scripts start a server where the tests look for it only if both read the same table: these
tests fail when either side spells a port or a probe of its own again.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "servers"


def _table() -> object:
    table = servers.TABLE
    assert Path(table.__file__).resolve() == SCRIPTS / "probe.py"
    return table


def test_tests_read_the_scripts_table() -> None:
    table = _table()
    assert set(table.SERVERS) == {"redis", "mongo", "kafka", "s3", "mongopg", "postgres"}  # type: ignore[attr-defined]
    # `make test` starts only the first four; the other two are for benchmarks, by name.
    defaults = {n for n, s in table.SERVERS.items() if s.default}  # type: ignore[attr-defined]
    assert defaults == {"redis", "mongo", "kafka", "s3"}
    assert servers.HOST == table.HOST  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path", [*sorted(SCRIPTS.glob("*.sh")), ROOT / "tests" / "servers.py"], ids=lambda p: p.name
)
def test_no_script_spells_a_default_port_of_its_own(path: Path) -> None:
    table = _table()
    ports = {str(s.default_port) for s in table.SERVERS.values()}  # type: ignore[attr-defined]
    ports.add(str(table.KAFKA_CONTROLLER_DEFAULT_PORT))  # type: ignore[attr-defined]
    # Code only: the docstring of tests/servers.py may show an example address.
    code = re.sub(r'"""(?s:.*?)"""', "", path.read_text())
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    assert [p for p in ports if re.search(rf"\b{p}\b", code)] == []


@pytest.mark.parametrize("override", [{}, {"TEST_REDIS_PORT": "16999", "TEST_S3_PORT": "15999"}])
def test_env_sh_prints_the_addresses_the_tests_use(
    override: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(override)
    for key in [k for k in os.environ if k.startswith("TEST_")]:
        monkeypatch.delenv(key)
    for key, value in override.items():
        monkeypatch.setenv(key, value)
    out = subprocess.run(
        ["bash", str(SCRIPTS / "env.sh")], env=env, capture_output=True, text=True, check=True
    ).stdout
    printed = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
    table = _table()
    for name, server in table.SERVERS.items():  # type: ignore[attr-defined]
        if not server.default:
            assert server.address_var not in printed, name
            continue
        assert printed[server.address_var] == servers.address(name)[0], name


# --------------------------------------------------------------------------- the probe itself
@pytest.fixture
def fake_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback listener that answers each connection with the next canned reply."""
    replies: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        for _ in range(2):  # bounded: one connection per probe below
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                if replies:
                    conn.sendall(replies.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], replies
    listener.close()
    thread.join(timeout=10)


@pytest.mark.parametrize(("name", "answer"), [("redis", b"+PONG\r\n"), ("postgres", b"N")])
def test_the_probe_wants_the_protocols_answer_not_an_open_port(
    name: str, answer: bytes, fake_server: tuple[int, list[bytes]]
) -> None:
    # PING for Redis; PostgreSQL's SSLRequest, answered by one byte ('S' or 'N')
    port, replies = fake_server
    table = _table()
    replies.extend([answer, b"HTTP/1.1 200 OK\r\n\r\n"])
    assert table.probe(name, "127.0.0.1", port) is True  # type: ignore[attr-defined]
    assert table.probe(name, "127.0.0.1", port) is False  # type: ignore[attr-defined]


def test_the_probe_cli_exits_by_the_answer() -> None:
    # Nothing listens on a port the OS just handed out and closed: the probe says no, quietly.
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    proc = subprocess.run(
        ["python3", str(SCRIPTS / "probe.py"), "check", "redis", "127.0.0.1", str(port)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
