"""XLA's own cost analysis of one step of each hot path, and the speed it bounds on an H100 / H200.

For one batched step (a trajectory-step of `cartea_jaimungal_mm` through the batched draws and
through gymnax's `vmap(env.step)`, a book-message of the engine at capacity 100 and 1,000, an
env-step of `lobster_execution`), `jax.jit(f).lower(...).compile().cost_analysis()` gives the
flops and bytes accessed of the compiled program on this backend; divided by the batch, per unit.
A step that streams its state from memory cannot beat bytes / bandwidth: at 3.35 TB/s (H100 SXM)
and 4.8 TB/s (H200) that bounds units per second by bandwidth / bytes-per-unit; the flops bound
(67 TFLOP/s fp32, both) is given beside it. The same one-step program is timed here, so the
measured rate and the bandwidth it achieves sit beside the bounds.

The analysis is of the program compiled for the backend in use: on a CPU, XLA:CPU's fusion
decisions (a GPU's differ; run `python -m benchmarks --only cost_analysis` on the GPU for its own).
A loop body is counted once by XLA, so each program here is one step, not a `scan` of steps; the
replay step's own scan over its 100 data messages is counted once too, so its bytes and flops are
a lower bound (the engine's rows give the cost per message).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import envs
import jaxlob as jl
from benchmarks.book_throughput import _workload
from benchmarks.model_based_rollout import HALF_SPREAD
from benchmarks.scale import scale
from benchmarks.timing import best_and_median
from envs.replay.registry import make as make_replay

BANDWIDTH = {"H100 SXM": 3.35e12, "H200": 4.8e12}  # bytes per second (HBM3 / HBM3e)
FP32_FLOPS = 67e12  # dense fp32 (non-tensor-core) peak of both
BATCH = {
    "quick": {"traj": 10_000, "books": 1_000, "envs": 100},
    "cpu": {"traj": 100_000, "books": 10_000, "envs": 1_000},
    "gpu": {"traj": 10_000_000, "books": 100_000, "envs": 10_000},
}


def costs(compiled) -> tuple[float, float]:
    """(flops, bytes accessed) of a compiled program (XLA's HloCostAnalysis)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):  # older JAX: one dict per computation
        analysis = analysis[0]
    return float(analysis.get("flops", 0.0)), float(analysis.get("bytes accessed", 0.0))


def _model_based(n: int, gymnax: bool):
    env, params = envs.make("cartea_jaimungal_mm")
    _, state = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), n), params
    )
    policy = jax.vmap(lambda key, obs: jnp.full((2,), HALF_SPREAD))

    if gymnax:
        step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

        def one(key, state):
            policy_key, env_key = jax.random.split(key)
            action = policy(jax.random.split(policy_key, n), jnp.zeros((n, 1)))
            return step(jax.random.split(env_key, n), state, action, params)[1:3]
    else:

        def one(key, state):
            policy_key, env_key = jax.random.split(key)
            action = policy(jax.random.split(policy_key, n), jnp.zeros((n, 1)))
            return env.batch_step_env(env_key, state, action, params)[1:3]

    return one, (jax.random.key(1), state)


def _book(capacity: int, n: int):
    warm, _, streams = _workload(capacity)
    book = jl.apply_messages(jl.empty_book(capacity), jnp.asarray(warm))[0]
    books = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), book)
    msgs = jnp.asarray(np.resize(streams[:, 0], (n, streams.shape[2])))
    return jax.vmap(jl.apply_message), (books, msgs)


def _replay(n: int):
    env, params = make_replay("lobster_execution")
    keys = jax.random.split(jax.random.key(0), n)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    space = env.action_space(params)
    actions = jax.vmap(space.sample)(keys)
    step = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))  # as agents.rollout: no auto-reset

    def one(keys, state, actions):
        return step(keys, state, actions, params)[1:3]

    return one, (jax.random.split(jax.random.key(1), n), state, actions)


def _row(label: str, unit: str, batch: int, fn, args, repeats: int) -> dict:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    flops, nbytes = costs(compiled)
    jax.block_until_ready(compiled(*args))
    best, _ = best_and_median(lambda: jax.block_until_ready(compiled(*args)), repeats)
    per_flops, per_bytes = flops / batch, nbytes / batch
    measured = batch / best
    row = {
        "workload": label,
        "unit": unit,
        "batch": batch,
        "flops_per_unit": round(per_flops, 1),
        "bytes_per_unit": round(per_bytes, 1),
        "flops_per_byte": round(per_flops / per_bytes, 3) if per_bytes else "",
        "measured_units_per_s": round(measured),
        "measured_GB_per_s": round(measured * per_bytes / 1e9, 2),
    }
    for gpu, bandwidth in BANDWIDTH.items():
        row[f"{gpu}_memory_bound_units_per_s"] = round(bandwidth / per_bytes) if per_bytes else ""
    row["fp32_flops_bound_units_per_s"] = round(FP32_FLOPS / per_flops) if per_flops else ""
    row["compile_s"] = round(compile_s, 2)
    return row


def run(quick: bool = False) -> dict:
    size = BATCH[scale(quick)]
    repeats = 3 if quick else 5
    rows = [
        _row(
            "cartea_jaimungal_mm, batched draws (batch_step_env)",
            "trajectory-step",
            size["traj"],
            *_model_based(size["traj"], gymnax=False),
            repeats,
        ),
        _row(
            "cartea_jaimungal_mm, gymnax vmap(env.step)",
            "trajectory-step",
            size["traj"],
            *_model_based(size["traj"], gymnax=True),
            repeats,
        ),
    ]
    for capacity in (100, 1000):
        books = max(1, size["books"] * 100 // capacity)
        rows.append(
            _row(
                f"jaxlob.apply_message, capacity {capacity}, realistic mix",
                "book-message",
                books,
                *_book(capacity, books),
                repeats,
            )
        )
    rows.append(
        _row(
            "lobster_execution, vmap(step_env), 100 data messages (scan counted once)",
            "env-step",
            size["envs"],
            *_replay(size["envs"]),
            repeats,
        )
    )
    device = jax.devices()[0]
    return {
        "name": "cost_analysis",
        "description": "XLA cost analysis (compiled.cost_analysis(): flops, bytes accessed) of one "
        "batched step per unit, the H100/H200 bounds it implies, and the measured rate of the "
        "same one-step program on this device",
        "rows": rows,
        "notes": f"analysed and measured on {device.platform} ({device.device_kind}), one device; "
        "memory bound = bandwidth / bytes per unit (H100 SXM 3.35 TB/s, H200 4.8 TB/s); flops "
        "bound = 67 TFLOP/s fp32 / flops per unit. A bound, not a forecast: a GPU compiles its "
        "own fusions (run this benchmark there), and a scan keeps a small state in cache on a "
        "CPU, so a rollout can beat its one-step program. Targets: >= 1e9 trajectory-steps/s, "
        ">= 1e8 book-messages/s.",
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
