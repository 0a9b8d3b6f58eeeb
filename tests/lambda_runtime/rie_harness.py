"""The built function bundles, run under the AWS Lambda Runtime Interface Emulator.

`scripts/lambda_rie/prepare.sh` builds (or reuses) the bundles for this machine's architecture,
the runtime interface client and the emulator. Each function then runs in a directory laid out
as a Lambda sandbox: the layer at `opt/python` (Lambda's /opt/python), the function code at
`var/task` (LAMBDA_TASK_ROOT, the working directory), awslambdaric at `var/runtime`, Python 3.12
at `var/lang`, with the search path Lambda's Python runtime uses and nothing from this
checkout: a missing dependency, a wrong handler path or a layout mistake fails here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PREPARE = ROOT / "scripts" / "lambda_rie" / "prepare.sh"
RIE = ROOT / ".cache" / "bin" / "aws-lambda-rie"
HOST = "127.0.0.1"  # the emulator and the runtime API listen on loopback only
# Every function infra deploys (infra/constants.py ALL_FUNCTIONS; a test keeps the two equal):
# the API ones, the scheduled ones (EventBridge events) and the IAM-only operator.
FUNCTIONS = (
    "conversations",
    "messages",
    "attachments",
    "presence",
    "relay",
    "message_actions",
    "scheduled",
    "doctor_tools",
    "purge",
    "scheduled_sender",
    "operator",
)
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
PREPARE_TIMEOUT_S = 1200  # a first build runs go install and pip; later runs reuse both
READY_TIMEOUT_S = 30.0
INVOKE_TIMEOUT_S = 60.0


def prepare() -> Path:
    """Build or reuse everything; a failure raises with the script's output (never a skip)."""
    result = subprocess.run(
        ["bash", str(PREPARE)], capture_output=True, text=True, timeout=PREPARE_TIMEOUT_S
    )
    if result.returncode != 0 or not RIE.is_file():
        raise RuntimeError(f"scripts/lambda_rie/prepare.sh failed:\n{result.stderr}{result.stdout}")
    return Path(result.stdout.strip().splitlines()[-1])


def sandbox(build: Path, root: Path) -> Path:
    """A Lambda-shaped tree of links to the build: opt/python, var/task, var/runtime, var/lang."""
    (root / "var").mkdir(parents=True, exist_ok=True)
    (root / "opt").symlink_to(build / "layer", target_is_directory=True)
    (root / "var" / "task").symlink_to(build / "functions", target_is_directory=True)
    (root / "var" / "runtime").symlink_to(build / "runtime", target_is_directory=True)
    (root / "var" / "lang").symlink_to(build / "python", target_is_directory=True)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Function:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    client: httpx.Client = field(init=False)
    # A sandbox runs one invocation at a time (the emulator crashes on a second concurrent one).
    lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=INVOKE_TIMEOUT_S)

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """One invocation; the handler's return value (an error payload fails loudly)."""
        try:
            with self.lock:
                r = self.client.post(INVOKE_PATH, content=json.dumps(event))
            payload = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AssertionError(f"{self.name}: {type(exc).__name__}\n{self.tail()}") from exc
        if r.status_code != 200 or (isinstance(payload, dict) and "errorType" in payload):
            raise AssertionError(f"{self.name} failed: {r.status_code} {payload}\n{self.tail()}")
        assert isinstance(payload, dict), payload
        return payload

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def lambda_environment(root: Path, name: str, app_env: Mapping[str, str]) -> dict[str, str]:
    """What Lambda's Python 3.12 runtime sets, plus the function's own configuration.

    Built from scratch (not this process's environment): the checkout, its virtualenv and
    its PYTHONPATH must not be reachable from the function."""
    opt, task = root / "opt", root / "var" / "task"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(root / "var" / "runtime"),
        # The order Lambda's python3.12 runtime puts on sys.path.
        "PYTHONPATH": os.pathsep.join(
            [
                str(task),
                str(opt / "python" / "lib" / "python3.12" / "site-packages"),
                str(opt / "python"),
                str(root / "var" / "runtime"),
            ]
        ),
        "PYTHONNOUSERSITE": "1",
        # /var/task and /opt are read-only in Lambda: nothing may be written next to the code.
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(INVOKE_TIMEOUT_S)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_HANDLER": f"functions.{name}.handler",
        **app_env,
    }


def start(root: Path, name: str, app_env: Mapping[str, str], logs: Path) -> Function:
    """Start one function under its own emulator (a free loopback port for each of its APIs)."""
    port, runtime_port = free_port(), free_port()
    log = logs / f"{name}.log"
    command = [
        str(RIE),
        "--runtime-interface-emulator-address",
        f"{HOST}:{port}",
        "--runtime-api-address",
        f"{HOST}:{runtime_port}",
        str(root / "var" / "lang" / "bin" / "python"),
        "-m",
        "awslambdaric",
        f"functions.{name}.handler",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root / "var" / "task",
            env=lambda_environment(root, name, app_env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Function(name, port, process, log)


def wait_ready(fn: Function) -> None:
    """Until the emulator accepts connections (bounded); an exited emulator fails at once."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if fn.process.poll() is not None:
            raise RuntimeError(f"the emulator of {fn.name} exited:\n{fn.tail()}")
        try:
            with socket.create_connection((HOST, fn.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the emulator of {fn.name} did not listen within {READY_TIMEOUT_S} s")


def start_all(
    root: Path,
    app_env: Mapping[str, str],
    logs: Path,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Function]:
    """Every function at once, each with the shared configuration and its own overrides."""
    overrides = overrides or {}
    fns = {
        name: start(root, name, {**app_env, **overrides.get(name, {})}, logs) for name in FUNCTIONS
    }
    try:
        for fn in fns.values():
            wait_ready(fn)
    except BaseException:
        for fn in fns.values():
            fn.stop()
        raise
    return fns


def scheduled_event(function: str) -> dict[str, Any]:
    """What an EventBridge schedule rule with a plain `LambdaFunction` target delivers."""
    return {
        "version": "0",
        "id": "5d3f3c8e-0000-4000-8000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "eu-west-3",
        "resources": [f"arn:aws:events:eu-west-3:123456789012:rule/{function}-schedule"],
        "detail": {},
    }


def in_parallel(calls: Mapping[str, tuple[Function, Mapping[str, Any]]]) -> dict[str, Any]:
    """Invoke several functions concurrently (their cold starts overlap); results by key."""
    with ThreadPoolExecutor(max_workers=max(len(calls), 1)) as pool:
        futures = {k: pool.submit(fn.invoke, event) for k, (fn, event) in calls.items()}
        return {k: f.result() for k, f in futures.items()}
