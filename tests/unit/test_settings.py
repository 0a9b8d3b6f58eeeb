"""Settings: the original's names, limits, and no development secret outside development."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from messaging_core.config import DEV_JWT_SECRET, Settings, mongodb_uri_of
from pydantic import ValidationError

PRODUCTION = {
    "MONGODB_URI": "mongodb://db.internal:27017/",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "JWT_ISSUER": "https://auth.esante.fr",
    "JWT_AUDIENCE": "messaging",
}


def test_defaults_match_the_original_service() -> None:
    s = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    assert (s.port, s.max_file_size, s.max_message_length, s.messages_per_page) == (
        3006,
        10 * 1024 * 1024,
        5000,
        50,
    )
    assert s.jwt_secret.get_secret_value() == DEV_JWT_SECRET  # fine in development


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("NODE_ENV", "production")
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


def test_production_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    with pytest.raises(ValidationError, match="MONGODB_URI"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_bad_limits_fail_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGES_PER_PAGE", "500")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_unset_environment_is_production_and_refuses_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a deployment that forgot ENVIRONMENT (and NODE_ENV) but has everything else
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.delenv("NODE_ENV", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    # Then the development secret is refused: the service does not start
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


@pytest.mark.parametrize("missing", ["JWT_ISSUER", "JWT_AUDIENCE", "REDIS_URL"])
def test_production_requires_issuer_audience_and_redis(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_no_localhost_origin_outside_development() -> None:
    dev = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    assert dev.frontend_origins == ["http://localhost:3000"]
    test = Settings(_env_file=None, environment="test", jwt_secret="x" * 40)  # type: ignore[call-arg]
    assert test.frontend_origins == []
    given = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", jwt_secret="x" * 40, frontend_url="https://app.fr/"
    )
    assert given.frontend_origins == ["https://app.fr"]


def test_the_dev_directory_file_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="DEV_DIRECTORY_FILE"):
        Settings(  # type: ignore[call-arg]
            _env_file=None, environment="test", jwt_secret="x" * 40, dev_directory_file="u.jsonl"
        )


@pytest.mark.parametrize("entry", ["socket_tier.server", "functions.conversations"])
def test_a_process_without_environment_refuses_to_start_on_the_development_secret(
    entry: str, tmp_path: Path
) -> None:
    # Given the Fargate entry or a Lambda module, started with no ENVIRONMENT and no secret
    root = Path(__file__).resolve().parents[2]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ENVIRONMENT", "NODE_ENV", "JWT_SECRET", "JWT_SECRET_ARN", "JWT_JWKS_URL")
    }
    env["PYTHONPATH"] = f"{root / 'layers'}:{root}"
    done = subprocess.run(
        [sys.executable, "-c", f"import {entry}"],
        cwd=tmp_path,  # no .env there
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then it does not start, and says why
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr


def test_the_documentdb_user_secret_becomes_a_tls_uri_and_a_plain_uri_stays() -> None:
    rotated = json.dumps(
        {"engine": "mongo", "host": "db.internal", "port": 27117, "username": "esante_app",
         "password": "p@ss/word", "masterarn": "arn:aws:secretsmanager:x", "ssl": True}
    )  # fmt: skip
    uri = mongodb_uri_of(rotated, "esante-messaging")
    assert uri.startswith("mongodb://esante_app:p%40ss%2Fword@db.internal:27117/esante-messaging?")
    assert "tls=true" in uri
    assert "authSource=admin" in uri
    assert mongodb_uri_of(" mongodb://atlas.example/x ", "db") == "mongodb://atlas.example/x"
    with pytest.raises(ValueError, match="neither") as err:
        mongodb_uri_of('{"password": "s3cret-value"}', "db")
    assert "s3cret-value" not in str(err.value)  # a bad secret is never echoed


def test_a_tls_ca_file_that_is_not_there_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="MONGODB_TLS_CA_FILE"):
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            environment="development",
            mongodb_tls_ca_file=str(tmp_path / "none.pem"),
        )
    bundle = tmp_path / "rds-global-bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="development", mongodb_tls_ca_file=str(bundle)
    )
    assert s.mongodb_tls_ca_file == str(bundle)


def test_the_store_verifies_the_database_certificate_against_the_ca_file() -> None:
    import certifi
    from messaging_core.store.mongo import MongoStore

    bundle = certifi.where()  # any PEM file: the client is built, never connected
    with_ca = MongoStore.from_uri("mongodb://127.0.0.1:9/x", "x", tls_ca_file=bundle)
    options = with_ca._client.options
    assert options._options["tlscafile"] == bundle
    assert options.pool_options._ssl_context
    without = MongoStore.from_uri("mongodb://127.0.0.1:9/x", "x")
    assert without._client.options.pool_options._ssl_context is None


def test_debug_raises_our_lines_but_never_the_drivers_payload_loggers() -> None:
    import logging

    from messaging_core.logs import PAYLOAD_LOGGERS, quiet_payload_loggers

    logging.getLogger("pymongo.command").setLevel(logging.NOTSET)
    logging.getLogger("pymongo").setLevel(logging.DEBUG)
    quiet_payload_loggers()
    assert logging.getLogger("pymongo.command").getEffectiveLevel() == logging.WARNING
    assert {"pymongo", "botocore", "engineio", "uvicorn.access", "python_multipart"} <= set(
        PAYLOAD_LOGGERS
    )
