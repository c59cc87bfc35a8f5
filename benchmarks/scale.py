"""Benchmark sizes by machine: ``quick`` (``--quick``), ``cpu`` (today's sizes) or ``gpu``.

``gpu`` sizes (10^5-10^7 trajectories, 10^4-10^5 books, 10^4 environments) are chosen when JAX's
default backend is a GPU, or forced with ``python -m benchmarks --gpu``, which sets
``JAXLOB_BENCHMARK_SCALE=gpu`` (inherited by the benchmarks' subprocesses). ``--quick`` wins.
"""

from __future__ import annotations

import os

import jax

ENV_VAR = "JAXLOB_BENCHMARK_SCALE"
SCALES = ("quick", "cpu", "gpu")


def scale(quick: bool) -> str:
    """The size class of this run (see the module docstring)."""
    if quick:
        return "quick"
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced and forced not in SCALES:
        raise ValueError(f"{ENV_VAR}={forced!r}: expected one of {', '.join(SCALES)}")
    if forced:
        return forced
    return "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
