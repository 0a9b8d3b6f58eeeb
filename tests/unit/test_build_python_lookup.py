"""`make build` finds a Python 3.12 for the bundle's bytecode without being told where it is."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_lambda.sh"


def lookup_functions() -> str:
    """The interpreter lookup of build_lambda.sh (`is_312` and `find_python312`), as written."""
    text = SCRIPT.read_text()
    found = re.search(r"^is_312\(\).*?^find_python312\(\) \{.*?^\}$", text, re.M | re.S)
    assert found, "build_lambda.sh no longer defines is_312/find_python312"
    return found.group(0)


def find(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    script = lookup_functions() + "\nfind_python312"
    return subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True, timeout=30)


def test_finds_a_pyenv_312_that_is_not_on_path(tmp_path: Path) -> None:
    assert sys.version_info[:2] == (3, 12), "the test venv is Python 3.12 (.python-version)"
    # Given a pyenv root with a 3.12 and a PATH with no python3.12 and no python3 at all
    bin_dir = tmp_path / "pyenv" / "versions" / "3.12.7" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3.12").symlink_to(sys.executable)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PATH": str(empty), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    # Then the build finds it
    done = find(env)
    assert done.returncode == 0
    assert done.stdout.strip() == str(bin_dir / "python3.12")


def test_reports_none_when_there_is_no_312(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = find({"PATH": str(empty), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "x")})
    assert done.returncode == 1
    assert done.stdout == ""
