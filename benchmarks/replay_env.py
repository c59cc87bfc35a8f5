"""Replay environment throughput: `lobster_execution` on the GOOG level-10 day (100 data messages per
step), environment steps per second with 1, 1,000 and 10,000 environments in parallel, beside
JAX-LOB's published figures and a plain-Python baseline timed in this process.

Each environment starts in a random 30-minute window and takes uniformly random four-price actions
through gymnax's `step` (auto-reset included), all steps of a batch in one jitted `lax.scan`. The
baseline applies the same kind of step (the agent's messages, 100 data messages, the deadline
order) to the plain-Python reference book (`jaxlob.reference`), one environment, no observation or
reward: a lower bound on what a Python environment step costs.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from agents.rollout import rollout
from benchmarks.scale import scale
from benchmarks.timing import best_and_median
from envs.replay.registry import make
from jaxlob import reference

# JAX-LOB (Frey et al. 2023), Table 6: time per environment step, gymnax execution environment on
# an Nvidia RTX 2080 Ti, 100 messages per step; their CPU gym environment on an Apple M1.
PUBLISHED = (
    ("JAX-LOB gymnax env, RTX 2080 Ti (published)", 10, 13.8),
    ("JAX-LOB gymnax env, RTX 2080 Ti (published)", 1000, 0.66),
    ("JAX-LOB gymnax env, RTX 2080 Ti (published)", 10000, 0.46),
    ("JAX-LOB CPU gym env, Apple M1 (published)", 1, 3.5),
    ("RL4MM env, Apple M1 (published)", 1, 5.9),
)


LATENCY = {"order_latency_ns": 100_000, "data_latency_ns": 100_000}
LATENCY_LABEL = "latency 100 us each way"


def _rollout_fn(env, params, num_envs: int, num_steps: int):
    """jit: ``num_envs`` episodes of ``num_steps`` random-action steps through `agents.rollout`
    (the project's one episode loop: `step_env`, no auto-reset), split across devices."""
    space = env.action_space(params)

    def random_action(key, obs):
        return space.sample(key)

    def local(keys):
        per_device = keys.shape[0]
        episodes = rollout(env, params, random_action, keys[0], per_device, num_steps)
        return episodes.returns, episodes.lengths

    devices = jax.devices()
    if len(devices) > 1 and num_envs % len(devices) == 0:
        mesh = jax.sharding.Mesh(np.asarray(devices), ("envs",))
        spec = jax.sharding.PartitionSpec("envs")
        local = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return jax.jit(local)


def _env_rows(env, params, sizes, repeats, label) -> list[dict]:
    rows = []
    for num_envs, num_steps in sizes:
        keys = jax.random.split(jax.random.PRNGKey(num_envs), num_envs)
        start = time.perf_counter()
        compiled = _rollout_fn(env, params, num_envs, num_steps).lower(keys).compile()
        compile_s = time.perf_counter() - start
        jax.block_until_ready(compiled(keys))  # warm-up
        best, median = best_and_median(
            lambda c=compiled, k=keys: jax.block_until_ready(c(k)), repeats
        )
        env_steps = num_envs * num_steps
        rows.append(
            {
                "implementation": label,
                "num_envs": num_envs,
                "steps_per_env": num_steps,
                "compile_s": round(compile_s, 2),
                "best_s": round(best, 4),
                "median_s": round(median, 4),
                "env_steps_per_s": round(env_steps / best, 1),
                "ms_per_env_step": round(1000 * best / env_steps, 4),
            }
        )
    return rows


def _python_baseline(env, params, num_steps: int, repeats: int) -> dict:
    """The messages of ``num_steps`` steps of one environment, applied to the reference book."""
    obs, state = env.reset(jax.random.PRNGKey(1), params.replace(window=2))
    step = jax.jit(env.step_detail)
    space = env.action_space(params)
    batches = []
    for t in range(num_steps):
        key = jax.random.PRNGKey(100 + t)
        obs, state, _, _, _, msgs = step(key, state, space.sample(key), params.replace(window=2))
        batches.append(np.asarray(msgs))
    row = np.asarray(params.data.initial_row[2])

    def replay():
        book = reference.book_from_snapshot(row, env.config.capacity, 10, 1, 2)
        for msgs in batches:
            reference.apply_messages(book, msgs)

    best, median = best_and_median(replay, repeats)
    return {
        "implementation": "Python reference book, messages of a step only (this machine)",
        "num_envs": 1,
        "steps_per_env": num_steps,
        "compile_s": "",
        "best_s": round(best, 4),
        "median_s": round(median, 4),
        "env_steps_per_s": round(num_steps / best, 1),
        "ms_per_env_step": round(1000 * best / num_steps, 4),
    }


def run(quick: bool = False) -> dict:
    env, params = make("lobster_execution")
    pure_env, pure_params = make("lobster_execution", resync=False)
    lag_env, lag_params = make("lobster_execution", **LATENCY)
    repeats = 2 if quick else 3
    size_class = scale(quick)
    if size_class == "quick":
        sizes = ((1, 50), (1000, 3))
        pure_sizes = ()
    elif size_class == "cpu":
        sizes = ((1, 200), (1000, 5), (10000, 2))
        pure_sizes = ((1000, 5),)
    else:
        sizes = ((1, 200), (1000, 5), (10000, 5), (100000, 2))
        pure_sizes = ((10000, 5),)
    device = jax.devices()[0]
    where = f"{device.platform} x{len(jax.devices())}"
    rows = _env_rows(env, params, sizes, repeats, f"this repo, re-synchronised ({where})")
    rows += _env_rows(
        lag_env,
        lag_params,
        sizes[:2],
        repeats,
        f"this repo, re-synchronised, {LATENCY_LABEL} ({where})",
    )
    rows += _env_rows(
        pure_env, pure_params, pure_sizes, repeats, f"this repo, pure replay ({where})"
    )
    rows.append(_python_baseline(env, params, 20 if quick else 100, repeats))
    for label, num_envs, ms in PUBLISHED:
        rows.append(
            {
                "implementation": label,
                "num_envs": num_envs,
                "steps_per_env": "",
                "compile_s": "",
                "best_s": "",
                "median_s": "",
                "env_steps_per_s": round(1000 / ms, 1),
                "ms_per_env_step": ms,
            }
        )
    return {
        "name": "replay_env",
        "description": "lobster_execution (GOOG 2012-06-21, level 10, 30-minute windows, 100 data "
        "messages per step, 256 orders per side, four-price random actions, `agents.rollout`): "
        "environment steps per second by number of parallel environments, without and with "
        "order and market-data latency (envs.replay.latency)",
        "rows": rows,
        "notes": f"device: {device.device_kind} ({where}); best and median of {repeats} repeats "
        "after a warm-up call; compile time by ahead-of-time lowering; ms_per_env_step = wall "
        "time / (envs x steps). Published rows: JAX-LOB (Frey et al. 2023) Table 6, time per "
        "step on an RTX 2080 Ti (gymnax) and an Apple M1 (CPU gym, RL4MM); not run here. With more "
        "than one XLA device (python -m benchmarks starts one per core) the environments are "
        "split across devices with shard_map.",
    }


def compare(variants: list[dict], repeats: int = 10) -> list[tuple[dict, int, float]]:
    """Environment steps per second of ``lobster_execution`` made with each of ``variants``
    (override dicts), at 1 x 200 and 1,000 x 5 steps: all compiled first, then timed alternately
    (best of ``repeats``), so that the machine's drift hits every variant alike."""
    sizes = ((1, 200), (1000, 5))
    calls = {}
    for v, overrides in enumerate(variants):
        env, params = make("lobster_execution", **overrides)
        for num_envs, num_steps in sizes:
            keys = jax.random.split(jax.random.PRNGKey(num_envs), num_envs)
            fn = _rollout_fn(env, params, num_envs, num_steps).lower(keys).compile()
            jax.block_until_ready(fn(keys))
            calls[(v, num_envs, num_steps)] = (fn, keys)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for k, (fn, keys) in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(keys))
            best[k] = min(best[k], time.perf_counter() - start)
    return [(variants[v], n, n * s / best[(v, n, s)]) for (v, n, s) in calls]


if __name__ == "__main__":
    import json
    import sys

    if (
        "--compare" in sys.argv
    ):  # python -m benchmarks.replay_env --compare '{}' '{"latency": true}'
        given = [json.loads(a) for a in sys.argv[sys.argv.index("--compare") + 1 :]]
        for overrides, num_envs, rate in compare(given or [{}]):
            print(f"{json.dumps(overrides)}  {num_envs} envs  {rate:,.0f} env steps/s")
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
