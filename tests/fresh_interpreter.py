"""Run a snippet in a fresh interpreter (what an import loads, what a cold start pays) and read
the JSON it prints last: the unit tests of issue #19's cold start share it."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "PYTHONPATH": f"{ROOT / 'layers'}:{ROOT}",
    "PATH": "/usr/bin:/bin",
    "ENVIRONMENT": "test",
    "JWT_SECRET": "test-secret-of-at-least-thirty-two-bytes!",
    "POWERTOOLS_METRICS_NAMESPACE": "Test",
    "POWERTOOLS_TRACE_DISABLED": "1",
}


def probe(code: str, *args: str) -> Any:
    """The last line `code` printed, as JSON; the snippet's own failure fails the test."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
