"""Training steps per second over 1 and 2 devices: data-parallel PPO on `cartea_jaimungal_mm`, the
same run (same total batch) with ``TrainConfig.num_devices`` 1 and 2.

Each device count runs in a fresh subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (on a CPU: two XLA host devices, one per
core of the development machine; on a GPU machine the visible GPUs instead). The program is
`purejaxrl_train.parallel.make_device_program` (what `python -m purejaxrl_train` runs): compiled
once, then best and median of repeated calls of all updates, each blocking until done. Skipped,
with the reason in the table's notes, when the trainer does not accept ``num_devices`` > 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.scale import scale
from benchmarks.timing import run_measure_subprocess

ENV = "cartea_jaimungal_mm"
DEVICE_COUNTS = (1, 2)
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900
SIZES = {"quick": (64, 2, 2), "cpu": (256, 5, 3), "gpu": (4096, 10, 3)}  # envs, updates, repeats


def measure(num_devices: int, num_envs: int, updates: int, repeats: int) -> dict:
    """In the subprocess: time the compiled run on ``num_devices`` devices."""
    import time

    import jax
    import jax.numpy as jnp

    from benchmarks.timing import best_and_median
    from purejaxrl_train.parallel import make_device_program
    from purejaxrl_train.presets import default_config
    from purejaxrl_train.trainer import build

    base = default_config(ENV, log_interval=0, num_envs=num_envs)
    config = base.replace(
        total_timesteps=updates * num_envs * base.num_steps, num_devices=num_devices
    )
    env, env_params, _ = build(config)
    program = make_device_program(config, env, env_params, length=config.num_updates)
    if program.num_devices != num_devices:
        raise ValueError(f"asked for {num_devices} devices, the trainer used {program.num_devices}")
    hp = config.hparams.as_arrays()
    state = program.init(jax.random.key(0), hp, env_params)
    start = time.perf_counter()
    compiled = program.chunk.lower(state, jnp.int32(0), hp, env_params).compile()
    compile_s = time.perf_counter() - start
    best, median = best_and_median(
        lambda: jax.block_until_ready(compiled(state, jnp.int32(0), hp, env_params)), repeats
    )
    steps = config.num_updates * config.batch_size
    return {
        "devices": num_devices,
        "device_kind": jax.devices()[0].device_kind,
        "num_envs": config.num_envs,
        "num_steps": config.num_steps,
        "updates": config.num_updates,
        "env_steps": steps,
        "compile_s": round(compile_s, 2),
        "best_s": round(best, 4),
        "median_s": round(median, 4),
        "steps_per_s": round(steps / best),
    }


def _subprocess(num_devices: int, sizes: tuple[int, int, int]) -> dict:
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join(
        [*flags, f"--xla_force_host_platform_device_count={max(DEVICE_COUNTS)}"]
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return run_measure_subprocess(
        "benchmarks.training_scaling",
        (num_devices, *sizes),
        env,
        f"training_scaling subprocess ({num_devices} devices)",
        TIMEOUT_S,
    )


def run(quick: bool = False) -> dict:
    sizes = SIZES[scale(quick)]
    description = __doc__.split("\n\n")[0].replace("\n", " ")
    rows, skipped = [], ""
    for devices in DEVICE_COUNTS:
        try:
            row = _subprocess(devices, sizes)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            skipped = f"skipped {devices} device(s): the trainer refused or failed ({error})"
            print(f"training_scaling: {skipped}", flush=True)
            break
        if rows:
            row["speedup_vs_1"] = round(row["steps_per_s"] / rows[0]["steps_per_s"], 2)
        else:
            row["speedup_vs_1"] = 1.0
        rows.append(row)
    notes = (
        "PPO preset settings (100-step rollouts, 10 epochs, 4 minibatches), the same total batch "
        "split across the devices; steps_per_s = env_steps / best_s, updates included; each "
        "device count in its own process with two forced host devices."
    )
    return {
        "name": "training_scaling",
        "description": description,
        "rows": rows,
        "notes": f"{notes} {skipped}".strip(),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
