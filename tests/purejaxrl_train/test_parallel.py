"""Data-parallel PPO and recurrent PPO: 1, 2 and 4 devices give the same run for a seed.

One subprocess with 4 forced host devices (`--xla_force_host_platform_device_count=4`) runs the same
config (same seed, same total batch of environments; observation normalisation and reward scaling
on) on meshes of 1, 2 and 4 devices, feed-forward and recurrent, and a sweep spread over 4 devices
with `shard_members`. Oracle: the one-device run (for the sweep, the one-device run its member 0
stands for); the only allowed difference is the float rounding of cross-device sums (observation
statistics, advantage normalisation, the gradient mean) grown over 2 updates: 1e-3 relative, while
a device-dependent shuffle or key gives differences of order one. XLA's backend optimisations are
off in the subprocess to halve its compile time (CI); the numbers compared come from one setting.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from purejaxrl_train.parallel import make_device_program, shard_members
from purejaxrl_train.presets import default_config
from purejaxrl_train.sweep import SweepPlan, sweep_inputs
from purejaxrl_train.trainer import build, make_train

assert len(jax.devices()) == 4, jax.devices()
base = dict(
    env_overrides=(("max_steps_in_episode", 12),), num_envs=8, num_steps=10, num_minibatches=2,
    update_epochs=2, total_timesteps=160, hidden_sizes=(8,), gru_size=4, log_interval=0,
    normalize_obs=True, scale_rewards=True,
)
cases = {
    "feedforward": default_config("CartPole-v1", **base),
    "recurrent": default_config("CartPole-v1", recurrent=True, **base),
}

def max_rel(a, b):
    worst = 0.0
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        assert x.shape == y.shape
        ok = np.isfinite(x) & np.isfinite(y)
        assert (np.isnan(x) == np.isnan(y)).all()
        scale = np.maximum(np.abs(y[ok]), 1e-3)
        worst = max(worst, float((np.abs(x[ok] - y[ok]) / scale).max(initial=0.0)))
    return worst

out = {}
for name, config in cases.items():
    env, env_params, _ = build(config)
    hp = config.hparams.as_arrays()
    runs = {}
    for devices in (1, 2, 4):
        program = make_device_program(config, env, env_params, num_devices=devices)
        state = program.init(jax.random.key(3), hp, env_params)
        state, metrics = program.chunk(state, jnp.int32(0), hp, env_params)
        assert program.num_devices == devices
        assert state.env.carry.sharding.num_devices == devices
        runs[devices] = jax.device_get(
            (state.learner.params, state.env.obs_rms, state.env.episode_return, metrics)
        )
    if name == "feedforward":
        runs_ff_metrics = runs[1][3]
    out[name] = {str(d): max_rel(runs[d], runs[1]) for d in (2, 4)}
    out[name + "_metrics"] = sorted(runs[1][3])
    out[name + "_episodes"] = int(np.sum(runs[1][3]["episodes"]))

# 4 members (learning rate x 2 seeds) on 4 devices; member 0 is the feed-forward run above.
config = cases["feedforward"]
lr = float(config.hparams.learning_rate)
plan = SweepPlan(grid=(("learning_rate", (lr, 2 * lr)),), num_seeds=2, seed=3)
keys, hparams, members = sweep_inputs(config, plan)
_, spread = jax.jit(shard_members(make_train(config)))(keys, hparams, members)
out["members_devices"] = spread["episodes"].sharding.num_devices
member0 = jax.device_get(jax.tree.map(lambda x: x[0], spread))
out["members"] = max_rel(member0, runs_ff_metrics)
out["members_differ"] = bool(np.any(spread["value_loss"][0] != spread["value_loss"][1]))

# A checkpointed run on 2 devices, stopped after 1 update and resumed (sharded orbax state), with
# live evaluation: its metrics are the one-device run's.
import csv, io, tempfile
from pathlib import Path
from purejaxrl_train.run import resume_training, run_training

config = cases["feedforward"].replace(
    num_devices=2, checkpoint_every=1, eval_every=1, live_eval_episodes=4, eval_episodes=0
)
folder = Path(tempfile.mkdtemp())
first = run_training(config, 3, folder, stream=io.StringIO(), max_updates=1)
last = resume_training(folder, stream=io.StringIO())
rows = list(csv.DictReader((folder / "metrics.csv").open()))
got = {k: np.asarray([float(r[k]) for r in rows]) for k in runs_ff_metrics}
out["resumed_devices"] = [first["num_devices"], last["num_devices"]]
out["resumed"] = max_rel(got, runs_ff_metrics)
out["resumed_eval"] = [float(r["eval_return"]) for r in rows]
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def result():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=4 "
        "--xla_cpu_enable_concurrency_optimized_scheduler=false "
        "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    )
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize("name", ["feedforward", "recurrent"])
def test_one_two_and_four_devices_agree(result, name):
    assert result[name]["2"] < 1e-3 and result[name]["4"] < 1e-3, result[name]
    assert result[name + "_episodes"] > 0  # episodes ended: resets were crossed
    for metric in ("learning_rate", "grad_norm", "explained_variance"):
        assert metric in result[name + "_metrics"]


def test_checkpointed_run_on_two_devices_resumes(result):
    assert result["resumed_devices"] == [2, 2]
    assert result["resumed"] < 1e-3
    assert all(r > 0 for r in result["resumed_eval"])  # CartPole: every episode earns > 0


def test_sweep_members_spread_over_devices_equal_single_runs(result):
    assert result["members_devices"] == 4
    assert result["members"] < 1e-3 and result["members_differ"]
