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


def run_measure_subprocess(module: str, args: tuple, env: dict, what: str, timeout_s: float):
    """`module.measure(*args)` in a fresh Python process with environment `env` (for settings read
    at start or trace time: XLA flags, `JAXLOB_CPU_TRICKS`); returns its JSON result. A failure is
    a RuntimeError naming `what` and the subprocess's last line."""
    import json
    import subprocess
    import sys

    mark = "BENCHMARK_RESULT "
    code = (
        f"import json; from {module} import measure; "
        f"print({mark!r} + json.dumps(measure(*{list(args)!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith(mark)]
    if out.returncode or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{what}: {tail[0]}")
    return json.loads(lines[-1][len(mark) :])
