"""Cold start of each Lambda function: import time in fresh processes, next to a bare handler.

    PYTHONPATH=layers:. .venv/bin/python bench/cold_start.py [--runs 5] [--mode both]
        [--before-tree DIR] [--only presence,messages]

`--before-tree DIR` also measures the functions of another checkout (e.g. `git archive <commit>
| tar -x -C DIR`), in the same run, as `(before)` rows. Besides wall time, each row gives the
import's CPU time (the child's process_time): on a shared machine that one moves less with load.

Also reports the first request (import + Core + one answer through the handler, in-memory
store) and which heavy libraries each import pulls in. Two modes, because Lambda's code
directories are read-only and Python cannot cache bytecode there: "bytecode" (the bundle ships
its .pyc, as `make build` does) and "source" (only the standard library is precompiled, as in
a bundle without .pyc, which then compiles every module of the function on every cold start).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "bench.bare_handler",
    "bench.framework_only",
    # The framework once it has one route (issue #19): FastAPI then imports pydantic.v1 and builds
    # the route's validators; a reference for what any FastAPI function pays, not a goal.
    "bench.framework_one_route",
    "functions.presence",
    "functions.conversations",
    "functions.messages",
    "functions.attachments",
    "functions.relay",
    # The other REST functions (#16, #17), for the goal's "each REST function".
    "functions.message_actions",
    "functions.scheduled",
    "functions.doctor_tools",
]
REFERENCES = ("bench.bare_handler", "bench.framework_only", "bench.framework_one_route")
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
c0 = time.process_time()
mod = importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
c1 = time.process_time()
first = None
if sys.argv[2] == "1" and sys.argv[1] not in (
        "functions.relay", "bench.framework_only", "bench.framework_one_route"):
    from tests.lambda_events import FakeContext, http_v2
    from messaging_core.auth import mint_token
    from messaging_core.config import get_settings
    tok = mint_token(get_settings(), "673a1b2c3d4e5f6a7b8c9d0a", "patient", "P")
    if sys.argv[1] in ("functions.messages", "bench.bare_handler"):
        ev = http_v2("GET", "/api/v1/messages/conversations/673a1b2c3d4e5f6a7b8c9d0f/messages",
                        tok, path_params={"conversationId": "673a1b2c3d4e5f6a7b8c9d0f"})
    elif sys.argv[1] == "functions.conversations":
        ev = http_v2("GET", "/api/v1/messages/conversations", tok)
    elif sys.argv[1] == "functions.attachments":
        ev = http_v2("POST",
                        "/api/v1/messages/conversations/673a1b2c3d4e5f6a7b8c9d0f/attachments",
                        tok, {"fileName": "a.pdf", "mimeType": "application/pdf", "fileSize": 10})
    else:
        ev = http_v2("GET", "/health")
    try:
        mod.handler(ev, FakeContext())
    except Exception:
        pass  # an error answer is still a first request
    first = time.perf_counter()
heavy = [m for m in json.loads(sys.argv[3]) if m in sys.modules]
print(json.dumps({"import": (t1 - t0) * 1000, "cpu": (c1 - c0) * 1000,
                  "first": ((first - t0) * 1000) if first else None, "heavy": heavy}))
"""


# Lists the standard-library files a module pulls in: a Lambda runtime ships those precompiled,
# so the "source" mode gives them their bytecode and leaves only the bundle to compile.
STDLIB_FILES = r"""
import importlib, json, sys, sysconfig
importlib.import_module(sys.argv[1])
roots = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
files = sorted({
    f for m in list(sys.modules.values())
    if (f := getattr(m, "__file__", None)) and f.endswith(".py")
    and any(f.startswith(r) for r in roots) and "site-packages" not in f
})
print(json.dumps(files))
"""

PRECOMPILE = r"""
import json, py_compile, sys
from importlib.util import cache_from_source
for f in json.loads(sys.stdin.read()):
    py_compile.compile(f, cfile=cache_from_source(f), doraise=True)
"""


def child_env(prefix: Path, tree: Path = ROOT) -> dict[str, str]:
    # Bytecode is read from (and only from) a private prefix, so neither the venv's nor the
    # repository's __pycache__ decides the result, and nothing is written outside it.
    return {
        **os.environ,
        "PYTHONPATH": f"{tree / 'layers'}{os.pathsep}{tree}",
        "PYTHONPYCACHEPREFIX": str(prefix),
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }


def _child(
    code: str,
    module: str,
    env: dict[str, str],
    tree: Path,
    *,
    stdin: str | None = None,
    wrapper: tuple[str, ...] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """One fresh interpreter running `code` on `module` (CHILD's arguments: with its first
    request, and the heavy libraries to list), optionally under `wrapper` (valgrind)."""
    return subprocess.run(
        [*wrapper, sys.executable, "-c", code, module, "1", json.dumps(HEAVY)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=timeout,
        check=True,
    )


def run_child(
    code: str, module: str, env: dict[str, str], stdin: str | None = None, tree: Path = ROOT
) -> str:
    return _child(code, module, env, tree, stdin=stdin).stdout


def prepare(module: str, mode: str, prefix: Path, tree: Path = ROOT) -> dict[str, str]:
    env = child_env(prefix, tree)
    if mode == "bytecode":
        # One unmeasured run that may write: every module it imports gets its bytecode.
        run_child(CHILD, module, {**env, "PYTHONDONTWRITEBYTECODE": ""}, tree=tree)
    else:
        files = run_child(STDLIB_FILES, module, env, tree=tree)
        run_child(PRECOMPILE, module, env, stdin=files, tree=tree)
    return env


def measure_all(targets: list[tuple[str, Path]], runs: int, mode: str, prefix: Path) -> list[dict]:
    """Every (module, tree) `runs` times, round-robin: on a shared machine a burst of load then
    lands on all rows alike instead of on whichever row was being measured."""
    envs = [
        prepare(module, mode, prefix / ("after" if tree == ROOT else "before"), tree)
        for module, tree in targets
    ]
    samples: list[list[dict]] = [[] for _ in targets]
    for _ in range(runs):
        for i, (module, tree) in enumerate(targets):
            out = run_child(CHILD, module, envs[i], tree=tree)
            samples[i].append(json.loads(out.splitlines()[-1]))
    return [summary(module, tree, s) for (module, tree), s in zip(targets, samples, strict=True)]


def summary(module: str, tree: Path, samples: list[dict]) -> dict:
    imports = [s["import"] for s in samples]
    firsts = [s["first"] for s in samples if s["first"] is not None]
    return {
        "module": module if tree == ROOT else f"{module} (before)",
        "import_median": statistics.median(imports),
        "import_min": min(imports),
        "import_max": max(imports),
        "cpu_median": statistics.median(s["cpu"] for s in samples),
        "cpu_min": min(s["cpu"] for s in samples),
        "first_median": statistics.median(firsts) if firsts else None,
        "heavy": samples[-1]["heavy"],
    }


# --instructions: the user-space instructions each import executes, counted by valgrind
# (cachegrind, no cache simulation). Unlike time, the count does not move with the machine's
# load, so on a shared machine it is the steadier comparison; one run per row (it is exact).
INSTRUCTIONS_CHILD = "import importlib, sys; importlib.import_module(sys.argv[1])"
BASELINE_CHILD = "import sys"  # the interpreter's own start, subtracted from every row


VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def count_instructions(code: str, module: str, env: dict[str, str], tree: Path) -> int:
    out = _child(code, module, env, tree, wrapper=VALGRIND, timeout=600)
    line = next(x for x in out.stderr.splitlines() if "I" in x and "refs:" in x)
    return int(line.split("refs:")[1].strip().replace(",", ""))


def instructions_table(
    targets: list[tuple[str, Path]], prefix: Path, first_request: bool = False
) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    envs = [
        prepare(module, "bytecode", prefix / ("after" if tree == ROOT else "before"), tree)
        for module, tree in targets
    ]
    base = count_instructions(BASELINE_CHILD, "-", envs[0], ROOT)
    counts = [
        count_instructions(CHILD if first_request else INSTRUCTIONS_CHILD, module, env, tree) - base
        for (module, tree), env in zip(targets, envs, strict=True)
    ]
    floor = next(c for (m, _t), c in zip(targets, counts, strict=True) if m == FLOOR)
    what = "import and first request (in-memory store)" if first_request else "import"
    print(f"\ninstructions of each {what} (valgrind); the interpreter's start ({base:,})")
    print("is taken off every row\n")
    goal = "x the floor's import" if first_request else "x floor (goal <= 1.15)"
    print(f"| module | instructions (millions) | {goal} |")
    print("|---|---:|---:|")
    for (module, tree), count in zip(targets, counts, strict=True):
        label = module if tree == ROOT else f"{module} (before)"
        print(f"| {label} | {count / 1e6:,.0f} | {count / floor:.2f} |")


FLOOR = "bench.framework_only"


def table(rows: list[dict]) -> None:
    bare = rows[0]["import_median"]
    # Issue #19's goal: each REST function's import <= 1.15x the framework's own floor (FastAPI +
    # Mangum + Powertools, bench/framework_only.py), measured in the same run.
    floor_row = next(r for r in rows if r["module"] == "bench.framework_only")
    floor, floor_cpu = floor_row["import_median"], floor_row["cpu_min"]
    # Load only ever adds time: the fastest of the round-robin samples is the steadiest figure
    # on a shared machine, hence a second ratio from the CPU minimums.
    print(
        "| module | import ms | x bare | x floor (goal <= 1.15) | import CPU ms, median (min) "
        "| x floor (CPU min) | first request ms | heavy libraries loaded |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        first = f"{r['first_median']:.0f}" if r["first_median"] is not None else "-"
        spread = f"{r['import_min']:.0f}-{r['import_max']:.0f}"
        print(
            f"| {r['module']} | {r['import_median']:.0f} ({spread})"
            f" | {r['import_median'] / bare:.2f} | {r['import_median'] / floor:.2f}"
            f" | {r['cpu_median']:.0f} ({r['cpu_min']:.0f}) | {r['cpu_min'] / floor_cpu:.2f}"
            f" | {first} | {', '.join(r['heavy'])} |"
        )


TITLES = {
    "bytecode": "bundle precompiled (what `make build` ships)",
    "source": "no bytecode in the bundle: every third-party and own module compiled from source",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mode", choices=["bytecode", "source", "both"], default="both")
    parser.add_argument(
        "--before-tree",
        help="also measure the functions of this checkout (an earlier commit), as (before) rows",
    )
    parser.add_argument(
        "--only", help="comma-separated function names (presence,messages,...): fewer rows"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the instructions of each import with valgrind instead of timing it",
    )
    parser.add_argument(
        "--first-request",
        action="store_true",
        help="with --instructions: count the import and the first request together",
    )
    args = parser.parse_args()
    modes = ["bytecode", "source"] if args.mode == "both" else [args.mode]
    wanted = {f"functions.{name}" for name in args.only.split(",")} if args.only else None
    modules = [m for m in MODULES if m in REFERENCES or wanted is None or m in wanted]
    before = Path(args.before_tree).resolve() if args.before_tree else None
    targets: list[tuple[str, Path]] = []
    for module in modules:
        if before is not None and module.startswith("functions."):
            targets.append((module, before))
        targets.append((module, ROOT))
    if args.instructions:
        with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
            instructions_table(targets, Path(tmp), args.first_request)
        return
    print(f"python {sys.version.split()[0]}, {args.runs} fresh processes per row, median (min-max)")
    for mode in modes:
        # One bytecode prefix per tree: the two checkouts hold modules of the same names.
        with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
            rows = measure_all(targets, args.runs, mode, Path(tmp))
        print(f"\n{TITLES[mode]}\n")
        table(rows)


if __name__ == "__main__":
    main()
