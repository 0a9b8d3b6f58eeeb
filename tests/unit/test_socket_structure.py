"""Issue 13: `socket_tier` has no import cycle, and its handlers read no view dict by key."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "socket_tier"


def _imports_of(path: Path) -> set[str]:
    """Sibling modules a module imports, TYPE_CHECKING imports included (a cycle is a cycle)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.module and node.module.startswith("socket_tier."):
                found.add(node.module.split(".")[1])
    return found


def test_socket_tier_modules_import_no_cycle() -> None:
    graph = {p.stem: _imports_of(p) for p in ROOT.glob("*.py")}

    def reaches(start: str, target: str) -> bool:
        seen: set[str] = set()
        todo = list(graph.get(start, ()))
        while todo:  # bounded: each module is visited once
            mod = todo.pop()
            if mod == target:
                return True
            if mod not in seen:
                seen.add(mod)
                todo.extend(graph.get(mod, ()))
        return False

    cycles = [m for m in graph if reaches(m, m)]
    assert cycles == []


def test_the_namespace_depends_on_the_protocol_not_the_app() -> None:
    assert "app" not in _imports_of(ROOT / "namespace.py")


def test_handlers_index_no_view_by_string_key() -> None:
    tree = ast.parse((ROOT / "namespace.py").read_text())
    handlers = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.AsyncFunctionDef) and n.name.startswith("on_")
    ]
    keyed = [
        f"{h.name}:{n.lineno}"
        for h in handlers
        for n in ast.walk(h)
        if isinstance(n, ast.Subscript)
        and isinstance(n.slice, ast.Constant)
        and isinstance(n.slice.value, str)
    ]
    assert keyed == []
