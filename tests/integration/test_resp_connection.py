"""The lean Redis connection against a real redis-server: AUTH, db, TLS, errors, subscriptions.

The shared test Redis has no password and no TLS, so these tests start their own redis-server
(Debian's, the one `scripts/servers/` installs) with a password, a TLS port and a private CA.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.resp import RespConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tests.servers import ensure_server

pytestmark = pytest.mark.integration

PASSWORD = "test-only-password"


@dataclass(frozen=True)
class PrivateRedis:
    port: int
    tls_port: int
    ca_file: Path

    def url(self, db: int = 0, password: str = PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/{db}"

    def tls_url(self) -> str:
        return f"rediss://:{PASSWORD}@127.0.0.1:{self.tls_port}/0?ssl_ca_certs={self.ca_file}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_certs(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1, valid for one day."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            import ipaddress

            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("test CA", ca_key, "test CA", ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    server_cert = cert("127.0.0.1", key, "test CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    ensure_server("redis")  # installs redis-server on a fresh machine, as the suite's does
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed"
    directory = tmp_path_factory.mktemp("private-redis")
    ca, cert, key = write_certs(directory)
    server = PrivateRedis(free_port(), free_port(), ca)
    cmd = [
        binary, "--bind", "127.0.0.1", "--port", str(server.port),
        "--tls-port", str(server.tls_port), "--tls-cert-file", str(cert),
        "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
        "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(directory),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):  # bounded by count: the answer is what counts, not its time
            try:
                if redis_sync.Redis.from_url(server.url()).ping():
                    break
            except redis_sync.ConnectionError:
                assert proc.poll() is None, "redis-server exited at start"
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer")
        yield server
    finally:
        proc.terminate()
        proc.wait(10)


async def test_auth_and_db_come_from_the_client_url(private_redis: PrivateRedis) -> None:
    client = build_redis(private_redis.url(db=3))
    conn = await RespConnection.open_like(client)
    assert await conn.call("SET", "where", "db3") == b"OK"
    conn.close()
    assert redis_sync.Redis.from_url(private_redis.url(db=3)).get("where") == b"db3"
    assert redis_sync.Redis.from_url(private_redis.url(db=0)).get("where") is None
    await client.aclose()


async def test_a_wrong_password_fails_the_open(private_redis: PrivateRedis) -> None:
    client = build_redis(private_redis.url(password="wrong"))
    with pytest.raises(ResponseError):
        await RespConnection.open_like(client)
    await client.aclose()


async def test_tls_with_the_urls_ca(private_redis: PrivateRedis) -> None:
    client = build_redis(private_redis.tls_url())
    conn = await RespConnection.open_like(client)
    assert await conn.call("PING") == b"PONG"
    conn.close()
    await client.aclose()


async def test_tls_refuses_a_server_it_cannot_verify(private_redis: PrivateRedis) -> None:
    client = build_redis(private_redis.tls_url().split("?")[0])  # no CA: the system's only
    with pytest.raises(ssl.SSLCertVerificationError):
        await RespConnection.open_like(client)
    await client.aclose()


async def test_calls_of_one_turn_share_a_write_and_each_gets_its_own_answer(
    private_redis: PrivateRedis,
) -> None:
    client = build_redis(private_redis.url())
    conn = await RespConnection.open_like(client)
    before = conn.writes
    results = await asyncio.gather(
        conn.call("SET", "n", "1"), conn.call("INCRBY", "n", "x"), conn.call("INCR", "n"),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] == b"OK"
    assert isinstance(results[1], ResponseError)
    assert results[2] == 2
    assert conn.writes == before + 1
    conn.close()
    await client.aclose()


async def test_a_subscriber_gets_every_message_in_order_and_its_replies(
    private_redis: PrivateRedis,
) -> None:
    client = build_redis(private_redis.url())
    got: list[bytes] = []
    conn = await RespConnection.open_like(client, on_push=lambda reply: got.append(reply[-1]))
    assert await conn.call("SUBSCRIBE", "chan") == [b"subscribe", b"chan", 1]
    publisher = redis_sync.Redis.from_url(private_redis.url())
    for i in range(50):
        publisher.publish("chan", f"m{i}")
        if i == 25:  # a reply in the middle of the pushes still reaches its caller
            assert await conn.call("PING") == [b"pong", b""]
    for _ in range(500):  # wait for the pushes themselves, bounded by count
        if len(got) >= 50:
            break
        await asyncio.sleep(0.01)
    assert got == [f"m{i}".encode() for i in range(50)]
    # The server drops the connection: the subscriber learns it, and calls fail, not hang.
    publisher.client_kill_filter(_type="pubsub")
    await asyncio.wait_for(asyncio.shield(conn.closed), 5)
    assert conn.broken
    with pytest.raises(RedisConnectionError):
        await conn.call("PING")
    await client.aclose()
