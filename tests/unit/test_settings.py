"""Settings: the original's names, limits, and no development secret outside development."""

import pytest
from messaging_core.config import DEV_JWT_SECRET, Settings
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
