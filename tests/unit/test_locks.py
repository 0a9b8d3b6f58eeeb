"""requirements/*.lock (`make lock`) are current: each pin of a .txt is locked, with hashes.

`make` installs from the locks only, so a pin edited in a .txt without `make lock` would be
silently ignored; this test names it instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.M)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_pins(txt: Path) -> dict[str, str]:
    """The pins of a requirements file and of the files it includes (-r)."""
    pins: dict[str, str] = {}
    for line in txt.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(direct_pins(txt.parent / line[3:].strip()))
        elif match := PIN.match(line):
            pins[_norm(match[1])] = match[2]
        elif line:
            raise AssertionError(f"{txt.name}: not a pin: {line!r}")
    return pins


def stale_pins(txt_pins: dict[str, str], lock_text: str) -> list[str]:
    """Pins of the .txt that the lock lacks or locks at another version, and unhashed entries."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock_text)
    locked: dict[str, str] = {}
    problems: list[str] = []
    for entry in entries:
        if match := PIN.match(entry):
            locked[_norm(match[1])] = match[2]
            if "--hash=sha256:" not in entry:
                problems.append(f"{match[1]} has no hash")
    problems += [
        f"{name}=={version} (locked: {locked.get(name)})"
        for name, version in sorted(txt_pins.items())
        if locked.get(name) != version
    ]
    return problems


@pytest.mark.parametrize("txt", sorted(REQUIREMENTS.glob("*.txt")), ids=lambda p: p.stem)
def test_each_requirements_set_has_a_current_lock(txt: Path) -> None:
    lock = txt.with_suffix(".lock")
    assert lock.is_file(), f"{lock.name} is missing: run `make lock`"
    assert stale_pins(direct_pins(txt), lock.read_text()) == []


def test_a_stale_or_unhashed_lock_is_named() -> None:
    lock = "fastapi==0.1.0 \\\n    --hash=sha256:00\n    # via x\nhttpx==0.28.1\n"
    assert stale_pins({"fastapi": "0.165.0", "httpx": "0.28.1"}, lock) == [
        "httpx has no hash",
        "fastapi==0.165.0 (locked: 0.1.0)",
    ]


def test_the_image_installs_its_lock_with_hashes_and_its_context_holds_it() -> None:
    root = REQUIREMENTS.parent
    dockerfile = (root / "socket_tier" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (requirements/\S+)", dockerfile, re.M)
    assert copied == ["requirements/socket.lock"]
    assert "pip install --require-hashes -r /tmp/requirements/socket.lock" in dockerfile
    # .dockerignore keeps only what it re-includes: a COPY of anything else fails the build.
    ignore = (root / ".dockerignore").read_text().splitlines()
    kept = {line[1:] for line in ignore if line.startswith("!")}
    assert set(copied) <= kept
