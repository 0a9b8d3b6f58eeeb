"""Names shared by the functions and the CDK app have one source: messaging_core/names.py.

A metric the relay publishes under one name and an alarm that watches another would never
fire; so neither side may spell these names itself (read statically: no aws-cdk needed).
"""

import ast
from pathlib import Path

import pytest
from messaging_core import names

ROOT = Path(__file__).resolve().parents[2]
SHARED = {
    value: key for key, value in vars(names).items() if key.isupper() and isinstance(value, str)
}


def _sources() -> list[Path]:
    return sorted(
        path
        for tree in ("functions", "infra", "socket_tier", "layers/messaging_core")
        for path in (ROOT / tree).rglob("*.py")
        if path != ROOT / "layers/messaging_core/names.py"
    )


def test_the_shared_names_are_the_ones_infra_and_the_functions_use() -> None:
    assert {"SERVICE_NAME", "METRICS_NAMESPACE", "METRIC_OUTBOX_PENDING"} <= set(SHARED.values())
    from infra import constants

    for value, key in SHARED.items():
        assert getattr(constants, key) == value, key


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_spells_a_shared_name_itself(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    spelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r} is names.{SHARED[node.value]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SHARED
    ]
    assert spelled == []
