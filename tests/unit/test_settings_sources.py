"""Settings are read exactly as pydantic-settings' BaseSettings reads them (cold start, #19).

`Settings` no longer derives from `BaseSettings` (importing pydantic-settings cost every REST
function ~64 M instructions): `config._settings_values` gathers keyword arguments, environment
variables and the `.env` file itself. Each case below builds our `Settings` and a `BaseSettings`
with the same fields, validators and configuration as the class had, from the same environment,
working directory and arguments, and compares the outcome: the values, which fields count as
set, or the validation errors (type, location, message). A pydantic-settings release that reads
these differently fails here.
"""

import os
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from messaging_core import config
from messaging_core.config import Settings
from pydantic import SecretStr, ValidationError, create_model, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class _ReferenceBase(BaseSettings):
    # The configuration `Settings` had as a BaseSettings.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)


Reference: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "Settings",
    __base__=_ReferenceBase,
    __validators__={
        name: model_validator(mode="after")(decorator.func)
        for name, decorator in Settings.__pydantic_decorators__.model_validators.items()
    },
    **{name: (info.annotation, info) for name, info in Settings.model_fields.items()},
)

DOTENV = """# a comment
export ENVIRONMENT=development
PORT=1234
MAX_FILE_SIZE = 5
JWT_SECRET="a quoted secret with spaces, long enough"
FRONTEND_URL='http://a.example, http://b.example/'
KAFKA_BROKER
REDIS_URL=
UNRELATED=value
interpolated=${HOME}/x
Log_Level=debug
"""

CASES: list[tuple[str, dict[str, str], str | None, dict[str, Any]]] = [
    # (name, environment variables, .env text or None, keyword arguments)
    ("defaults in development", {}, None, {"environment": "development"}),
    ("nothing set: production refuses", {}, None, {}),
    (
        "variables",
        {"ENVIRONMENT": "test", "JWT_SECRET": "s" * 40, "PORT": "8080", "REDIS_URL": ""},
        None,
        {},
    ),
    ("NODE_ENV alone", {"NODE_ENV": "development"}, None, {}),
    (
        "ENVIRONMENT wins over NODE_ENV",
        {"NODE_ENV": "production", "ENVIRONMENT": "development"},
        None,
        {},
    ),
    (
        "names without case",
        {"environment": "development", "Port": "77", "mAx_FiLe_SiZe": "9"},
        None,
        {},
    ),
    ("the .env file", {}, DOTENV, {}),
    ("a variable wins over the .env file", {"PORT": "999", "ENVIRONMENT": "test"}, DOTENV, {}),
    ("NODE_ENV in the environment, ENVIRONMENT in .env", {"NODE_ENV": "test"}, DOTENV, {}),
    (
        "NODE_ENV in .env, ENVIRONMENT in the environment",
        {"ENVIRONMENT": "development"},
        "NODE_ENV=test\nJWT_SECRET=" + "k" * 40,
        {},
    ),
    ("_env_file=None ignores .env", {"ENVIRONMENT": "development"}, DOTENV, {"_env_file": None}),
    ("another file", {}, None, {"_env_file": "other.env"}),
    ("a keyword wins over both", {"PORT": "1"}, DOTENV, {"port": 2, "environment": "test"}),
    (
        "keywords by alias and case",
        {"ENVIRONMENT": "production"},
        None,
        {"ENVIRONMENT": "development", "PORT": 5, "Max_File_Size": 7},
    ),
    ("keyword NODE_ENV", {"ENVIRONMENT": "production"}, None, {"NODE_ENV": "development"}),
    (
        "keyword secrets and extras",
        {},
        None,
        {"environment": "test", "jwt_secret": SecretStr("z" * 40), "unknown": 1},
    ),
    ("a bad limit", {"ENVIRONMENT": "development", "MESSAGES_PER_PAGE": "500"}, None, {}),
    ("a bad environment", {"ENVIRONMENT": "prod"}, None, {}),
    ("a bad environment in NODE_ENV", {"NODE_ENV": "prod"}, None, {}),
    ("a bad number from .env", {}, "ENVIRONMENT=development\nPORT=abc\n", {}),
    ("a bad keyword", {}, None, {"environment": "staging", "port": "x"}),
    ("an empty number", {"ENVIRONMENT": "development", "RETENTION_DAYS": ""}, None, {}),
    ("a bad budget", {"ENVIRONMENT": "development", "RATE_LIMIT_SYNC": "0/60"}, None, {}),
    (
        "production, complete",
        {
            "ENVIRONMENT": "production",
            "JWT_SECRET": "p" * 40,
            "MONGODB_URI": "mongodb://db/",
            "REDIS_URL": "redis://r",
            "JWT_ISSUER": "i",
            "JWT_AUDIENCE": "a",
            "KAFKA_SECURITY": "iam",
            "PRINT_EVENTS": "yes",
            "REVOCATION_CACHE_SECONDS": "1.5",
        },
        None,
        {},
    ),
    (
        "production without Redis",
        {"ENVIRONMENT": "production", "JWT_SECRET": "p" * 40, "MONGODB_URI": "mongodb://db/"},
        None,
        {},
    ),
    (
        "the operator socket outside development",
        {"ENVIRONMENT": "test", "JWT_SECRET": "p" * 40},
        None,
        {"local_admin_socket": "a.sock"},
    ),
]


REFUSED = {
    "nothing set: production refuses",
    "a bad limit",
    "a bad environment",
    "a bad environment in NODE_ENV",
    "a bad number from .env",
    "a bad keyword",
    "an empty number",
    "a bad budget",
    "production without Redis",
    "the operator socket outside development",
}


def outcome(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        settings = cls(**kwargs)
    except ValidationError as exc:
        return {
            "title": exc.title,
            "errors": [
                (e["type"], e["loc"], e["msg"], repr(e.get("input")))
                for e in exc.errors(include_url=False)
            ],
        }
    return {"values": settings.model_dump(), "set": settings.model_fields_set}


@pytest.mark.parametrize(("name", "env", "dotenv", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_settings_are_read_as_base_settings_reads_them(
    name: str,
    env: dict[str, str],
    dotenv: str | None,
    kwargs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.lower() in {n.lower() for n in _all_names()}:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    (tmp_path / "other.env").write_text("ENVIRONMENT=development\nPORT=4321\n")

    ours, theirs = outcome(Settings, kwargs), outcome(Reference, kwargs)
    assert ours == theirs
    # Both outcomes are compared: these cases are refused, every other one is read.
    assert ("errors" in ours) == (name in REFUSED)


def _all_names() -> set[str]:
    return {
        n for name, info in Settings.model_fields.items() for n in config._source_names(name, info)
    }


# What _settings_values relies on: every field is read from one variable as text (no field that
# BaseSettings would parse as JSON, split on a delimiter, or map from an enum's names).
SCALARS = (str, int, float, bool, SecretStr, type(None))


def _is_scalar(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return all(_is_scalar(arg) for arg in typing.get_args(annotation))
    return annotation in SCALARS


def test_every_field_is_read_as_text_from_one_variable() -> None:
    for name, info in Settings.model_fields.items():
        assert _is_scalar(info.annotation), name
        assert info.alias is None, name  # only validation aliases (AliasChoices of names)
        assert all(n.isidentifier() for n in config._source_names(name, info)), name


def test_a_rest_function_does_not_import_pydantic_settings() -> None:
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = (
        "import json, sys; import functions.presence;"
        " from messaging_core.config import get_settings; get_settings();"
        " print(json.dumps([m for m in ('pydantic_settings', 'dotenv', 'argparse')"
        " if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root / "tests",  # no .env there
        env={
            "PYTHONPATH": f"{root / 'layers'}:{root}",
            "PATH": "/usr/bin:/bin",
            "ENVIRONMENT": "test",
            "JWT_SECRET": "test-secret-of-at-least-thirty-two-bytes!",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
