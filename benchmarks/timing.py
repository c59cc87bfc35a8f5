"""Timing helpers shared by the benchmarks: best and median wall time of repeated calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def best_and_median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Call `fn` `repeats` times; return (best, median) seconds. `fn` must block until done."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)
