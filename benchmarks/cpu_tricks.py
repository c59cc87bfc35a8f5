"""What each XLA:CPU-only trick buys: the same benchmarks with `jaxlob.backend.cpu_tricks()` off and
on (``JAXLOB_CPU_TRICKS=off|on``), each in a fresh subprocess because the switch is read when a
program is traced.

The tricks behind the switch, and the row that justifies each on the CPU:
- blocks of ``CPU_BLOCK`` trajectories per device in `model_based_rollout` (a block's state stays
  in cache): the batched-draw rollout at 100,000 trajectories;
- the engine's ``_materialise`` (a reduction that stops XLA:CPU's fusion from recomputing a book's
  shift plan per slot) and the log-depth ``ring_cumsum`` (`jnp.cumsum` lowers to a windowed
  reduction on XLA:CPU): `jaxlob.apply_messages` over 1,000 books, capacity 100 and 1,000;
- the complex64 action tables of `agents.policies.tables` (one complex gather for two float32
  ones): the optimal `cartea_jaimungal_mm` agent over a batch of episodes.
A trick whose code does not yet ask the switch shows equal rows (within noise).

Beside them, the XLA flag `python -m benchmarks` sets, ``--xla_force_host_platform_device_count``
(one XLA device per core; it, like ``--xla_cpu_enable_concurrency_optimized_scheduler=false``,
affects only the CPU backend): the rollout with 1 host device against one per core.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.scale import scale
from benchmarks.timing import run_measure_subprocess

WORKLOADS = {
    "quick": (("rollout", 100_000), ("book", 100, 1000), ("table", 8192)),
    "cpu": (("rollout", 100_000), ("book", 100, 1000), ("book", 1000, 1000), ("table", 65_536)),
}
TIMEOUT_S = 900
ROOT = Path(__file__).resolve().parents[1]


def measure(kind: str, *sizes: int) -> dict:
    """Time one workload in this process (called in the subprocess): best seconds and rate."""
    import jax

    from benchmarks.timing import best_and_median

    repeats = 3
    if kind == "rollout":
        from benchmarks.model_based_rollout import layout, time_path

        (n,) = sizes
        timed = time_path("batched", n, repeats)
        d, block = layout(n)
        return {
            "unit": "trajectory-steps/s",
            "best_s": timed["best_s"],
            "rate": n * 300 / timed["best_s"],
            "layout": f"{d} device(s), blocks of {block}",
        }
    if kind == "book":
        from benchmarks.book_throughput import NUM_MESSAGES, _time_engine, _workload

        capacity, books = sizes
        warm, _, streams = _workload(capacity)
        row = _time_engine(capacity, books, warm, streams, repeats)
        return {
            "unit": "book-messages/s",
            "best_s": row["best_s"],
            "rate": books * NUM_MESSAGES / row["best_s"],
            "layout": f"capacity {capacity}, {books} books",
        }
    if kind == "table":
        import envs
        from agents import make_agent
        from agents.rollout import rollout

        (batch,) = sizes
        env, params = envs.make("cartea_jaimungal_mm")
        agent = make_agent("cartea_jaimungal_mm", env, params)
        run = jax.jit(lambda key: rollout(env, params, agent, key, batch).returns.mean())
        jax.block_until_ready(run(jax.random.key(0)))
        best, _ = best_and_median(lambda: jax.block_until_ready(run(jax.random.key(1))), repeats)
        steps = int(params.max_steps_in_episode)
        return {
            "unit": "env-steps/s",
            "best_s": best,
            "rate": batch * steps / best,
            "layout": f"optimal agent, {batch} episodes",
        }
    raise ValueError(f"workload: unknown {kind!r}; known: rollout, book, table")


def _subprocess(kind: str, sizes: tuple[int, ...], tricks: str, devices: int | None) -> dict:
    env = {**os.environ, "JAXLOB_CPU_TRICKS": tricks}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if devices is not None:
        flags = [
            f for f in env.get("XLA_FLAGS", "").split() if "host_platform_device_count" not in f
        ]
        env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={devices}"])
    return run_measure_subprocess(
        "benchmarks.cpu_tricks",
        (kind, *sizes),
        env,
        f"cpu_tricks subprocess ({kind} {sizes}, {tricks})",
        TIMEOUT_S,
    )


def _row(kind, sizes, setting, result, reference=None) -> dict:
    return {
        "workload": kind,
        "setting": setting,
        "layout": result["layout"],
        "best_s": round(result["best_s"], 4),
        "rate": round(result["rate"]),
        "unit": result["unit"],
        "gain_vs_off": round(result["rate"] / reference["rate"], 2) if reference else 1.0,
    }


def run(quick: bool = False) -> dict:
    size_class = scale(quick)
    workloads = WORKLOADS["quick" if size_class == "quick" else "cpu"]
    rows = []
    import jax

    if jax.default_backend() != "cpu":
        note = "skipped: these are XLA:CPU tricks; on this backend the switch is off by default"
        return {
            "name": "cpu_tricks",
            "description": __doc__.split("\n\n")[0],
            "rows": [],
            "notes": note,
        }
    for kind, *sizes in workloads:
        off = _subprocess(kind, tuple(sizes), "off", None)
        on = _subprocess(kind, tuple(sizes), "on", None)
        rows.append(_row(kind, sizes, "JAXLOB_CPU_TRICKS=off", off))
        rows.append(_row(kind, sizes, "JAXLOB_CPU_TRICKS=on", on, off))
        if kind == "rollout":
            one = _subprocess(kind, tuple(sizes), "on", 1)
            rows.append(_row(kind, sizes, "on, 1 host device (flag not set)", one, off))
    return {
        "name": "cpu_tricks",
        "description": "The same benchmark with jaxlob.backend.cpu_tricks() off and on (fresh "
        "subprocess each), and the rollout with one XLA host device instead of one per core",
        "rows": rows,
        "notes": "gain_vs_off = rate / the rate with the switch off (same workload). Every "
        "subprocess has the parent's XLA_FLAGS (one host device per core) unless stated; best of "
        "3 after compile. Rows of a trick whose code does not read the switch yet differ only by "
        "noise. On a shared machine, repeat before trusting a gain under ~1.2x.",
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
