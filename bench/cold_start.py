"""Cold start of each Lambda function: import time in fresh processes, next to a bare handler.

    PYTHONPATH=layers:. .venv/bin/python bench/cold_start.py [--runs 5]

Also reports the first request (import + Core + one answer through the handler, in-memory
store) and which heavy libraries each import pulls in.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "bench.bare_handler",
    "functions.presence",
    "functions.conversations",
    "functions.messages",
    "functions.attachments",
    "functions.relay",
]
HEAVY = [
    "fastapi",
    "mangum",
    "aws_lambda_powertools",
    "pydantic_settings",
    "jwt",
    "httpx",
    "pymongo",
    "boto3",
    "botocore",
    "kafka",
    "socketio",
    "redis",
]

CHILD = r"""
import importlib, json, sys, time
t0 = time.perf_counter()
mod = importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
first = None
if sys.argv[2] == "1" and hasattr(mod, "handler") and sys.argv[1] != "functions.relay":
    from bench.lambda_events import Context, http_event
    from messaging_core.auth import mint_token
    from messaging_core.config import get_settings
    tok = mint_token(get_settings(), "673a1b2c3d4e5f6a7b8c9d0a", "patient", "P")
    if sys.argv[1] in ("functions.messages", "bench.bare_handler"):
        ev = http_event("GET", "/api/v1/messages/conversations/673a1b2c3d4e5f6a7b8c9d0f/messages",
                        tok, path_params={"conversationId": "673a1b2c3d4e5f6a7b8c9d0f"})
    elif sys.argv[1] == "functions.conversations":
        ev = http_event("GET", "/api/v1/messages/conversations", tok)
    elif sys.argv[1] == "functions.attachments":
        ev = http_event("POST",
                        "/api/v1/messages/conversations/673a1b2c3d4e5f6a7b8c9d0f/attachments",
                        tok, {"fileName": "a.pdf", "mimeType": "application/pdf", "fileSize": 10})
    else:
        ev = http_event("GET", "/health")
    try:
        mod.handler(ev, Context())
    except Exception:
        pass  # an error answer is still a first request
    first = time.perf_counter()
heavy = [m for m in json.loads(sys.argv[3]) if m in sys.modules]
print(json.dumps({"import": (t1 - t0) * 1000,
                  "first": ((first - t0) * 1000) if first else None, "heavy": heavy}))
"""


def measure(module: str, runs: int, first: bool) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers'}{os.pathsep}{ROOT}",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, module, "1" if first else "0", json.dumps(HEAVY)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
            check=True,
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    imports = [s["import"] for s in samples]
    firsts = [s["first"] for s in samples if s["first"] is not None]
    return {
        "module": module,
        "import_median": statistics.median(imports),
        "import_min": min(imports),
        "import_max": max(imports),
        "first_median": statistics.median(firsts) if firsts else None,
        "heavy": samples[-1]["heavy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(m, args.runs, first=True) for m in MODULES]
    bare = rows[0]["import_median"]
    print(
        f"python {sys.version.split()[0]}, {args.runs} fresh processes per row, median (min-max)\n"
    )
    print("| module | import ms | x bare | first request ms | heavy libraries loaded |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        first = f"{r['first_median']:.0f}" if r["first_median"] is not None else "-"
        spread = f"{r['import_min']:.0f}-{r['import_max']:.0f}"
        print(
            f"| {r['module']} | {r['import_median']:.0f} ({spread})"
            f" | {r['import_median'] / bare:.2f} | {first} | {', '.join(r['heavy'])} |"
        )


if __name__ == "__main__":
    main()
