"""bench/profiler.py's summary of a py-spy raw profile: shares per function, once per stack."""

from __future__ import annotations

from bench.profiler import summarize

RAW = [
    "run (asyncio/runners.py:118);handle (socket_tier/transport.py:10);f (a.py:1) 3",
    "run (asyncio/runners.py:118);handle (socket_tier/transport.py:12);handle (x/transport.py:9) 1",
    "run (asyncio/runners.py:118) 4",
    "not a profile line",
]


def test_inclusive_shares_count_a_function_once_per_stack_and_leaves_where_it_ran() -> None:
    text = summarize(RAW)
    lines = text.splitlines()
    assert lines[0] == "8 samples"
    inclusive = lines[lines.index("inclusive:") + 1 : lines.index("leaves:")]
    leaves = lines[lines.index("leaves:") + 1 :]
    # Two lines of `handle` in one file are one function; a recursive stack counts once
    assert "100.0%  run runners.py" in inclusive
    assert " 50.0%  handle transport.py" in inclusive
    assert " 50.0%  run runners.py" in leaves
    assert " 37.5%  f a.py" in leaves
    assert " 12.5%  handle transport.py" in leaves
