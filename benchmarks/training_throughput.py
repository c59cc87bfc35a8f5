"""Training throughput of PPO and recurrent PPO on `cartea_jaimungal_mm`, and of vmapped sweeps.

Each row times one compiled training program (rollout + GAE + PPO epochs, the preset's settings:
100-step rollouts, 10 epochs, 4 minibatches) after compiling it once: compile time apart, then
best and median wall time of repeated calls (each call blocks until done). Environment steps per
second = steps collected / best time; the update's gradient work is included in the time.

The sweep rows compare a grid of 16 hyperparameter configurations x 4 seeds run as one vmapped
program with the same 64 runs made one after another by a single compiled program (compiled once,
so the sequential side pays no extra compile). Quick mode: 4 configurations x 2 seeds.
On a GPU machine the smallest configurations are also timed on the CPU in the same process.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from benchmarks.scale import scale
from benchmarks.timing import best_and_median
from purejaxrl_train.presets import default_config
from purejaxrl_train.sweep import SweepPlan, sweep_inputs
from purejaxrl_train.trainer import make_train

ENV = "cartea_jaimungal_mm"


def _config(num_envs: int, updates: int, recurrent: bool):
    base = default_config(ENV, recurrent=recurrent, log_interval=0, num_envs=num_envs)
    return base.replace(
        num_minibatches=min(base.num_minibatches, num_envs),
        total_timesteps=updates * num_envs * base.num_steps,
    )


def _time_training(config, repeats: int, device) -> dict:
    with jax.default_device(device):
        train = jax.jit(make_train(config))
        key = jax.random.key(0)
        start = time.perf_counter()
        compiled = train.lower(key).compile()
        compile_s = time.perf_counter() - start
        best, median = best_and_median(lambda: jax.block_until_ready(compiled(key)[1]), repeats)
    steps = config.num_updates * config.batch_size
    return {
        "benchmark": "recurrent PPO" if config.recurrent else "PPO",
        "device": device.platform,
        "num_envs": config.num_envs,
        "num_steps": config.num_steps,
        "updates": config.num_updates,
        "env_steps": steps,
        "compile_s": round(compile_s, 3),
        "best_s": round(best, 4),
        "median_s": round(median, 4),
        "steps_per_s": round(steps / best),
    }


def _time_sweep(num_configs: int, num_seeds: int, repeats: int, device) -> list[dict]:
    config = _config(num_envs=16, updates=3, recurrent=False)
    learning_rates = tuple(float(x) for x in jnp.geomspace(1e-4, 3e-3, num_configs // 2))
    plan = SweepPlan(
        grid=(("learning_rate", learning_rates), ("ent_coef", (0.0, 0.01))), num_seeds=num_seeds
    )
    runs = plan.num_members
    steps = runs * config.num_updates * config.batch_size
    with jax.default_device(device):
        keys, hparams, members = sweep_inputs(config, plan)
        train = make_train(config)
        start = time.perf_counter()
        vmapped = jax.jit(jax.vmap(train)).lower(keys, hparams, members).compile()
        vmapped_compile = time.perf_counter() - start
        v_best, v_median = best_and_median(
            lambda: jax.block_until_ready(vmapped(keys, hparams, members)[1]), repeats
        )
        single_inputs = [
            (keys[m], jax.tree.map(lambda x, m=m: x[m], hparams), members[m]) for m in range(runs)
        ]
        start = time.perf_counter()
        single = jax.jit(train).lower(*single_inputs[0]).compile()
        single_compile = time.perf_counter() - start

        def sequential():
            for inputs in single_inputs:
                jax.block_until_ready(single(*inputs)[1])

        s_best, s_median = best_and_median(sequential, repeats)
    common = {
        "device": device.platform,
        "num_envs": config.num_envs,
        "num_steps": config.num_steps,
        "updates": config.num_updates,
        "env_steps": steps,
    }
    label = f"sweep {len(plan.configurations)} configs x {num_seeds} seeds"
    return [
        {
            "benchmark": f"{label}: vmapped, one program",
            **common,
            "compile_s": round(vmapped_compile, 3),
            "best_s": round(v_best, 4),
            "median_s": round(v_median, 4),
            "steps_per_s": round(steps / v_best),
            "speedup_vs_sequential": round(s_best / v_best, 2),
        },
        {
            "benchmark": f"{label}: {runs} sequential runs",
            **common,
            "compile_s": round(single_compile, 3),
            "best_s": round(s_best, 4),
            "median_s": round(s_median, 4),
            "steps_per_s": round(steps / s_best),
            "speedup_vs_sequential": 1.0,
        },
    ]


def run(quick: bool) -> dict:
    default = jax.devices()[0]
    env_counts = {
        "quick": [16, 64],
        "cpu": [16, 64, 256, 1024],
        "gpu": [16, 64, 256, 1024, 4096, 16384],
    }[scale(quick)]
    updates = 2 if quick else 5
    repeats = 2 if quick else 3
    rows = []
    for recurrent in (False, True):
        for num_envs in env_counts:
            rows.append(_time_training(_config(num_envs, updates, recurrent), repeats, default))
        if default.platform != "cpu":  # the same program on this machine's CPU, smallest sizes
            cpu = jax.devices("cpu")[0]
            for num_envs in env_counts[:2]:
                rows.append(_time_training(_config(num_envs, updates, recurrent), repeats, cpu))
    sweep_shape = (4, 2) if quick else (16, 4)
    rows += _time_sweep(*sweep_shape, repeats=repeats, device=default)
    preset = default_config(ENV)
    gru = default_config(ENV, recurrent=True).gru_size  # the recurrent preset's own GRU
    return {
        "name": "training_throughput",
        "description": (
            f"PPO / recurrent PPO training on {ENV} (preset settings: {preset.num_steps}-step"
            f" rollouts, {preset.update_epochs} epochs, {preset.num_minibatches} minibatches,"
            f" MLP {'x'.join(map(str, preset.hidden_sizes))}, GRU {gru}): environment"
            " steps per second including the updates; vmapped sweep vs sequential runs of one"
            " compiled program."
        ),
        "rows": rows,
        "notes": (
            "compile_s: jit lower + compile, once per program. best_s / median_s over repeats of"
            " the compiled call, block_until_ready. steps_per_s = env_steps / best_s. Sweep:"
            " 16 envs per run, 3 updates; learning rate (geometric grid) x entropy coefficient"
            " (0, 0.01) x seeds."
        ),
    }
