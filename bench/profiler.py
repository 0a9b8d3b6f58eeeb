"""py-spy around a benchmark's server, and a summary of its raw output (shares by function).

    PYTHONPATH=. .venv/bin/python bench/profiler.py profile.txt [--top 40]

The benchmarks' `--profile FILE` options write py-spy's raw format: one line per stack with its
sample count. The summary prints each function's inclusive share (its samples anywhere in the
stack) and the leaves (where the samples stopped: the function that was running).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_profiler(path: str, pid: int, seconds: float, rate: int = 250) -> subprocess.Popen[bytes]:
    """py-spy (requirements/dev.txt) on one process; `--nonblocking` so the samples do not pause
    the process they measure."""
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))]
    cmd += ["--format", "raw", "--nonblocking", "--rate", str(rate), "--output", path]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _name(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `func file.py`: one key per function, not per line."""
    func, _, where = frame.partition(" (")
    return f"{func} {where.rsplit('/', 1)[-1].split(':', 1)[0]}".strip()


def summarize(lines: list[str], top: int = 40) -> str:
    total = 0
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        leaves[frames[-1]] += n
    out = [f"{total} samples", "inclusive:"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    out += ["leaves:"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in leaves.most_common(top // 2)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(summarize(Path(args.profile).read_text().splitlines(), args.top))


if __name__ == "__main__":
    main()
