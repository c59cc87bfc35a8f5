"""Full-episode rollouts of `cartea_jaimungal_mm` with a fixed-spread policy, in trajectory-steps
per second: this project's batched-draw rollout, the standard gymnax path, and the NumPy loop
(mbt_gym's approach), in the same process.

- batched draws: `agents.rollout` (the evaluation loop), which steps the whole batch with
  `batch_step_env` from one key per step (every random number of the step in one generator call);
- gymnax `vmap(env.step)`: what the trainer and most users run, a `lax.scan` over
  `jax.vmap(env.step)` with one key per environment (gymnax's auto-reset computed every step);
- NumPy: `benchmarks.numpy_baseline`, single-threaded, up to 100,000 trajectories.

Both JAX paths call the policy through `vmap` with one key per environment and run as the same
program layout: the batch split over the XLA devices (one per core on a CPU: `python -m benchmarks`
starts them) and, when `jaxlob.backend.cpu_tricks()` is on, in blocks of ``CPU_BLOCK`` trajectories
per device (`lax.map`), so that a block's state stays in cache. On a GPU the switch is off and each
device runs its share as one wide batch.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents.rollout import rollout
from benchmarks.numpy_baseline import fixed_spread_returns
from benchmarks.scale import scale
from benchmarks.timing import best_and_median
from jaxlob.backend import cpu_tricks

HALF_SPREAD = 0.01
CPU_BLOCK = 10_000  # trajectories per block when cpu_tricks(): the block's state stays in cache
NUMPY_MAX = 100_000  # the NumPy loop is not run on larger batches (a minute per call)
SIZES = {
    "quick": (1_000, 10_000),
    "cpu": (1_000, 10_000, 100_000),
    "gpu": (1_000, 10_000, 100_000, 1_000_000, 10_000_000),
}
PATHS = ("batched", "gymnax_vmap")


def _policy(key, obs):
    return jnp.full((2,), HALF_SPREAD)


def batched_block(env, params, n: int):
    """`key -> mean return` of ``n`` episodes through `agents.rollout` (batched draws)."""
    return lambda key: rollout(env, params, _policy, key, n).returns.mean()


def gymnax_block(env, params, n: int):
    """`key -> mean return` of ``n`` episodes through `jax.vmap(env.step)`, one key per env."""
    steps = int(params.max_steps_in_episode)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    act = jax.vmap(_policy)

    def run(key):
        reset_key, run_key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, n), params)

        def body(carry, t):
            obs, state, total = carry
            policy_key, env_key = jax.random.split(jax.random.fold_in(run_key, t))
            action = act(jax.random.split(policy_key, n), obs)
            obs, state, reward, _, _, _ = step(jax.random.split(env_key, n), state, action, params)
            return (obs, state, total + reward), None

        carry = (obs, state, jnp.zeros((n,), jnp.float32))
        (_, _, total), _ = jax.lax.scan(body, carry, jnp.arange(steps))
        return total.mean()

    return run


def layout(n: int) -> tuple[int, int]:
    """(devices used, trajectories per block) for a batch of ``n``."""
    d = len(jax.devices())
    if n % d:
        d = 1
    per_device = n // d
    block = min(CPU_BLOCK, per_device) if cpu_tricks() else per_device
    return d, block if per_device % block == 0 else per_device


def program(make_block, n: int):
    """jit: `key -> mean return` of ``n`` episodes, `make_block(m)` run on blocks of ``m``
    trajectories (`lax.map`) spread over the devices (`shard_map`), see `layout`."""
    d, block = layout(n)
    blocks = n // block
    one = make_block(block)

    def local(keys):
        return jax.lax.map(one, keys)

    if d > 1:
        mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:d]), ("blocks",))
        spec = jax.sharding.PartitionSpec("blocks")
        local = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return jax.jit(lambda key: local(jax.random.split(key, blocks)).mean())


def time_path(path: str, n: int, repeats: int) -> dict:
    """Compile and time one JAX path on ``n`` trajectories: {compile_s, best_s, median_s}."""
    env, params = envs.make("cartea_jaimungal_mm")
    make = batched_block if path == "batched" else gymnax_block
    run = program(lambda m: make(env, params, m), n)
    start = time.perf_counter()
    compiled = run.lower(jax.random.key(0)).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(jax.random.key(0)))  # warm-up
    keys = iter(jax.random.split(jax.random.key(1), repeats))
    best, median = best_and_median(lambda: jax.block_until_ready(compiled(next(keys))), repeats)
    return {"compile_s": compile_s, "best_s": best, "median_s": median}


def run(quick: bool = False) -> dict:
    size_class = scale(quick)
    repeats = 3 if quick else 5
    steps = int(envs.make("cartea_jaimungal_mm")[1].max_steps_in_episode)
    rows = []
    for n in SIZES[size_class]:
        work = n * steps
        timed = {p: time_path(p, n, repeats) for p in PATHS}
        batched, gym = timed["batched"], timed["gymnax_vmap"]
        row = {
            "trajectories": n,
            "steps": steps,
            "jax_compile_s": round(batched["compile_s"], 2),
            "jax_best_s": round(batched["best_s"], 4),
            "jax_steps_per_s": round(work / batched["best_s"]),
            "gymnax_vmap_best_s": round(gym["best_s"], 4),
            "gymnax_vmap_steps_per_s": round(work / gym["best_s"]),
            "vmap_vs_batched": round(batched["best_s"] / gym["best_s"], 2),
        }
        if n <= NUMPY_MAX:
            np_repeats = max(1, repeats - 2) if n >= 100_000 else repeats
            np_best, np_median = best_and_median(
                lambda n=n: fixed_spread_returns(n, HALF_SPREAD, style="mbt_gym"), np_repeats
            )
            lean_best, _ = best_and_median(
                lambda n=n: fixed_spread_returns(n, HALF_SPREAD, style="lean"), np_repeats
            )
            row |= {
                "numpy_best_s": round(np_best, 4),
                "numpy_steps_per_s": round(work / np_best),
                "speedup": round(np_best / batched["best_s"], 2),
                "gymnax_vmap_speedup": round(np_best / gym["best_s"], 2),
                "numpy_lean_steps_per_s": round(work / lean_best),
                "speedup_vs_lean": round(lean_best / batched["best_s"], 2),
                "numpy_median_s": round(np_median, 4),
            }
        row |= {
            "jax_median_s": round(batched["median_s"], 4),
            "gymnax_vmap_median_s": round(gym["median_s"], 4),
            "gymnax_vmap_compile_s": round(gym["compile_s"], 2),
        }
        rows.append(row)
    d, block = layout(SIZES[size_class][-1])
    return {
        "name": "model_based_rollout",
        "description": "cartea_jaimungal_mm, fixed spread 0.01, full 300-step episodes: "
        "trajectory-steps per second, batched-draw rollout (jax_*) and gymnax vmap(env.step) "
        "(gymnax_vmap_*) vs a NumPy loop (mbt_gym style)",
        "rows": rows,
        "notes": f"device: {jax.devices()[0].device_kind} x{len(jax.devices())}; sizes: "
        f"{size_class}; best of {repeats} runs after compile and a warm-up call; "
        f"cpu_tricks() {'on' if cpu_tricks() else 'off'}: the largest batch ran on {d} device(s) "
        f"in blocks of {block}. jax_* = batched draws (agents.rollout, one key per step for the "
        "batch); gymnax_vmap_* = lax.scan of jax.vmap(env.step) with a key per environment "
        "(auto-reset included); vmap_vs_batched = batched time / vmap time (1 = as fast). NumPy "
        "(single-threaded, up to 100,000 trajectories): `numpy` is the loop written the way "
        "mbt_gym computes (separate arrival and fill draws, per-trajectory fill probabilities, "
        "float64); `numpy_lean` the leanest loop (one float32 uniform per side, fill probability "
        "computed once). JAX runs in float32.",
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
