"""Full-episode rollouts of `cartea_jaimungal_mm` with a fixed-spread policy: JAX versus the lean
NumPy loop (mbt_gym's approach), in the same process, in trajectory-steps per second."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

import envs
from agents.rollout import rollout, rollout_sharded
from benchmarks.numpy_baseline import fixed_spread_returns
from benchmarks.timing import best_and_median

HALF_SPREAD = 0.01
CPU_BLOCK = 10_000  # episodes per block on a CPU: the block's state stays in cache


def _jax_runner(num_trajectories: int):
    env, params = envs.make("cartea_jaimungal_mm")
    policy = lambda key, obs: jnp.full((2,), HALF_SPREAD)  # noqa: E731

    on_cpu = jax.devices()[0].platform == "cpu"

    @jax.jit
    def run(key):
        if on_cpu and num_trajectories > CPU_BLOCK:
            episodes = rollout_sharded(env, params, policy, key, num_trajectories, CPU_BLOCK)
        else:
            episodes = rollout(env, params, policy, key, num_trajectories)
        return episodes.returns.mean()

    return run, int(params.max_steps_in_episode)


def run(quick: bool = False) -> dict:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    repeats = 3 if quick else 5
    rows = []
    for n in sizes:
        runner, steps = _jax_runner(n)
        start = time.perf_counter()
        jax.block_until_ready(runner(jax.random.key(0)))
        compile_s = time.perf_counter() - start
        keys = iter(jax.random.split(jax.random.key(1), repeats))
        jax_best, jax_median = best_and_median(
            lambda r=runner, ks=keys: jax.block_until_ready(r(next(ks))), repeats
        )
        np_repeats = max(1, repeats - 2) if n >= 100_000 else repeats
        np_best, np_median = best_and_median(
            lambda n=n: fixed_spread_returns(n, HALF_SPREAD, style="mbt_gym"), np_repeats
        )
        lean_best, _ = best_and_median(
            lambda n=n: fixed_spread_returns(n, HALF_SPREAD, style="lean"), np_repeats
        )
        work = n * steps
        rows.append(
            {
                "trajectories": n,
                "steps": steps,
                "jax_compile_s": round(compile_s, 2),
                "jax_best_s": round(jax_best, 4),
                "jax_steps_per_s": round(work / jax_best),
                "numpy_best_s": round(np_best, 4),
                "numpy_steps_per_s": round(work / np_best),
                "speedup": round(np_best / jax_best, 2),
                "numpy_lean_steps_per_s": round(work / lean_best),
                "speedup_vs_lean": round(lean_best / jax_best, 2),
                "jax_median_s": round(jax_median, 4),
                "numpy_median_s": round(np_median, 4),
            }
        )
    return {
        "name": "model_based_rollout",
        "description": "cartea_jaimungal_mm, fixed spread 0.01, full 300-step episodes: "
        "trajectory-steps per second, JAX vs a lean NumPy loop (mbt_gym style)",
        "rows": rows,
        "notes": f"device: {jax.devices()[0].device_kind} x{len(jax.devices())}; best of {repeats} "
        f"runs after compile; on CPU, batches above {CPU_BLOCK} run as blocks of {CPU_BLOCK} spread "
        "over one XLA host device per core. NumPy (single-threaded): `numpy` is the loop written "
        "the way mbt_gym computes (separate arrival and fill draws, per-trajectory fill "
        "probabilities, float64); `numpy_lean` the leanest loop (one float32 uniform per side, "
        "fill probability computed once). JAX runs in float32",
    }
