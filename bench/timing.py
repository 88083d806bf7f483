"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], runs: int, between: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn`` in seconds; ``between`` runs untimed before each call (e.g. let a pool refill)."""
    times = []
    for _ in range(runs):
        if between is not None:
            between()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
