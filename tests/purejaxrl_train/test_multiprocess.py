"""Several hosts: two JAX processes (one CPU device each, `jax.distributed.initialize` on
localhost, gloo collectives) train the same run as one process with two devices.

This is the multi-host path of `purejaxrl_train` (the mesh spans the processes' devices, the
environment states and the batch are sharded across processes, only process 0 writes the run
directory) exercised on one machine. Oracle: the one-process two-device run, which
`test_parallel.py` checks against one device; the metrics must agree to float rounding.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import io, sys
from pathlib import Path
import jax
mode, port, out = sys.argv[1], sys.argv[2], sys.argv[3]
if mode != "single":
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=int(mode))
from purejaxrl_train.presets import default_config
from purejaxrl_train.run import run_training

config = default_config(
    "CartPole-v1", env_overrides=(("max_steps_in_episode", 12),), num_envs=8, num_steps=10,
    num_minibatches=2, update_epochs=2, total_timesteps=160, hidden_sizes=(8,), log_interval=0,
    normalize_obs=True, scale_rewards=True, num_devices=2, eval_episodes=0, checkpoint_every=1,
)
summary = run_training(config, 3, Path(out), stream=io.StringIO())
print("RESULT", jax.process_count(), jax.device_count(), summary["num_devices"])
"""

_FLAGS = (
    "--xla_cpu_enable_concurrency_optimized_scheduler=false "
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(mode: str, port: int, out: Path, devices: int):
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices} {_FLAGS}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode, str(port), str(out)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process) -> str:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return next(line for line in stdout.splitlines() if line.startswith("RESULT"))


def test_two_processes_train_the_run_of_one_process_with_two_devices(tmp_path):
    port = _free_port()
    single = _start("single", port, tmp_path / "single", devices=2)
    hosts = [_start(str(i), port, tmp_path / "multi", devices=1) for i in range(2)]
    assert _finish(single) == "RESULT 1 2 2"
    assert [_finish(p) for p in hosts] == ["RESULT 2 2 2"] * 2
    a = pd.read_csv(tmp_path / "single" / "metrics.csv")
    b = pd.read_csv(tmp_path / "multi" / "metrics.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 2
    x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
    assert np.array_equal(np.isnan(x), np.isnan(y))
    ok = ~np.isnan(x)
    assert np.allclose(x[ok], y[ok], rtol=1e-5, atol=1e-7)
    assert (tmp_path / "multi" / "config.json").exists()  # written once, by process 0
