"""Every environment variable the CDK app sets on a function or task is a settings field.

Read statically (ast): the infra venv (aws-cdk) is not needed, and nothing of infra/ is run. A
name set by infra/ that `Settings` does not read would be configuration silently ignored.
"""

import ast
from pathlib import Path

import pytest
from messaging_core.config import Settings
from pydantic import AliasChoices

from socket_tier.settings import SocketSettings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
# Read by aws-lambda-powertools itself (Logger, Metrics), not by the service's settings.
READ_BY_LIBRARIES = frozenset({"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"})
# Read by the CloudWatch agent sidecar's own image (#17, infra/constructs/emf_agent.py).
READ_BY_SIDECARS = frozenset({"CW_CONFIG_CONTENT"})


def constants() -> dict[str, str]:
    """infra/constants.py's string constants, by name."""
    tree = ast.parse((INFRA / "constants.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _key_name(key: ast.expr | None, names: dict[str, str]) -> str | None:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    if isinstance(key, ast.Attribute | ast.Name):
        ident = key.attr if isinstance(key, ast.Attribute) else key.id
        if ident not in names:
            raise AssertionError(f"{ident} is not a string constant of infra/constants.py")
        return names[ident]
    return None  # `**other`: that mapping is read where it is built


def environment_names(source: str, names: dict[str, str]) -> set[str]:
    """Keys of the dicts given as `environment=`, built in `_build_environment`, or set on `env`."""
    tree = ast.parse(source)
    dicts: list[ast.Dict] = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "environment":
            dicts.extend(n for n in ast.walk(node.value) if isinstance(n, ast.Dict))
        elif isinstance(node, ast.FunctionDef) and node.name == "_build_environment":
            dicts.extend(n for n in ast.walk(node) if isinstance(n, ast.Dict))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store):
                    found.add(_key_name(sub.slice, names) or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_environment":
            found.add(_key_name(node.args[0], names) or "")
    for d in dicts:
        found.update(n for n in (_key_name(k, names) for k in d.keys) if n)
    found.discard("")
    return found


def infra_environment() -> set[str]:
    names = constants()
    files = sorted((INFRA / "stacks").glob("*.py")) + sorted((INFRA / "constructs").glob("*.py"))
    found: set[str] = set()
    for path in files:
        found |= environment_names(path.read_text(), names)
    return found


def settings_names() -> set[str]:
    """What `Settings` reads from the environment: each field's aliases, or its own name."""
    accepted: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            accepted.update(a.upper() for a in alias.choices if isinstance(a, str))
        elif isinstance(alias, str):
            accepted.add(alias.upper())
        else:
            accepted.add(name.upper())
    # The socket task's own settings (socket_tier/settings.py), e.g. its EMF agent (#17).
    accepted.update(name.upper() for name in SocketSettings.model_fields)
    return accepted


def test_the_reader_finds_the_variables_every_process_gets() -> None:
    found = infra_environment()
    # A reader that found nothing would pass the test below vacuously.
    assert {"MONGODB_URI_SECRET_ARN", "REDIS_URL", "KAFKA_BROKER", "PORT"} <= found


def test_every_variable_set_by_infra_is_a_settings_field() -> None:
    unknown = infra_environment() - settings_names() - READ_BY_LIBRARIES - READ_BY_SIDECARS
    assert unknown == set(), f"set by infra/ but not read by Settings: {sorted(unknown)}"


def test_an_unknown_variable_is_reported() -> None:
    source = 'Function(environment={c.ENV_REDIS_URL: "x", "NOT_A_SETTING": "1"})'
    found = environment_names(source, constants())
    assert found == {"REDIS_URL", "NOT_A_SETTING"}
    assert found - settings_names() == {"NOT_A_SETTING"}
    with pytest.raises(AssertionError, match="ENV_MISSING"):
        environment_names("f(environment={c.ENV_MISSING: 1})", constants())
