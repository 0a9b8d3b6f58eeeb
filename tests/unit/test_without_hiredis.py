"""The Lambdas ship without hiredis: the Redis adapters must import and fall back to redis-py."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
sys.modules["hiredis"] = None  # as if it were not installed
from messaging_core.adapters import redis_client, redis_fanout
from redis.asyncio import Redis
assert redis_client.HIREDIS is False and redis_fanout.HIREDIS is False
batcher = redis_client.ScriptBatcher(Redis.from_url("redis://127.0.0.1:1/0"))
assert batcher.lean is False
print("fallback ok")
"""


def test_the_adapters_import_and_choose_redis_py_without_hiredis() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layers'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "fallback ok"
