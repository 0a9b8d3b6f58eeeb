"""Settings: the original's names, limits, and no development secret outside development."""

import json
from pathlib import Path

import pytest
from messaging_core.config import DEV_JWT_SECRET, Settings, mongodb_uri_of
from pydantic import ValidationError


def test_defaults_match_the_original_service() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.port, s.max_file_size, s.max_message_length, s.messages_per_page) == (
        3006,
        10 * 1024 * 1024,
        5000,
        50,
    )
    assert s.jwt_secret.get_secret_value() == DEV_JWT_SECRET  # fine in development


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_ENV", "production")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.internal:27017/")
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


def test_the_documentdb_user_secret_becomes_a_tls_uri_and_a_plain_uri_stays() -> None:
    rotated = json.dumps(
        {"engine": "mongo", "host": "db.internal", "port": 27117, "username": "esante_app",
         "password": "p@ss/word", "masterarn": "arn:aws:secretsmanager:x", "ssl": True}
    )  # fmt: skip
    uri = mongodb_uri_of(rotated, "esante-messaging")
    assert uri.startswith("mongodb://esante_app:p%40ss%2Fword@db.internal:27117/esante-messaging?")
    assert "tls=true" in uri and "authSource=admin" in uri
    assert mongodb_uri_of(" mongodb://atlas.example/x ", "db") == "mongodb://atlas.example/x"
    with pytest.raises(ValueError, match="neither") as err:
        mongodb_uri_of('{"password": "s3cret-value"}', "db")
    assert "s3cret-value" not in str(err.value)  # a bad secret is never echoed


def test_a_tls_ca_file_that_is_not_there_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="MONGODB_TLS_CA_FILE"):
        Settings(_env_file=None, mongodb_tls_ca_file=str(tmp_path / "none.pem"))  # type: ignore[call-arg]
    bundle = tmp_path / "rds-global-bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings(_env_file=None, mongodb_tls_ca_file=str(bundle))  # type: ignore[call-arg]
    assert s.mongodb_tls_ca_file == str(bundle)


def test_the_store_verifies_the_database_certificate_against_the_ca_file() -> None:
    import certifi
    from messaging_core.store.mongo import MongoStore

    bundle = certifi.where()  # any PEM file: the client is built, never connected
    with_ca = MongoStore.from_uri("mongodb://127.0.0.1:9/x", "x", tls_ca_file=bundle)
    options = with_ca._client.options
    assert options._options["tlscafile"] == bundle and options.pool_options._ssl_context
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
