"""Percentiles for the benchmarks' tables."""


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of the samples, nearest rank below."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
