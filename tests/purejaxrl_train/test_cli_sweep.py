"""Sweeps over environment parameters and hyperparameters in one program, and member re-runs.

Oracle: the single training run of the same config and seed (`sweep ... --member K`, which builds
the environment with `--set`-style overrides as constants, not as traced stacked params): a sweep
member's curve and greedy evaluation equal it up to float32 rounding (vmapped and traced vs
single and constant programs may round differently in the last bits). The swept parameter must
matter: members differing only in sigma differ.
"""

import csv
import json

import numpy as np
import pytest

from purejaxrl_train.cli import main

TINY = [
    "--env", "cartea_jaimungal_mm",
    "--set", "max_steps_in_episode=10",
    "--set", "terminal_time=0.1",
    "--total-timesteps", "800",
    "--num-envs", "8",
    "--num-steps", "10",
    "--num-minibatches", "2",
    "--hidden", "8",
    "--eval-episodes", "50",
    "--log-interval", "0",
    "--seed", "4",
]  # fmt: skip
SWEEP = ["sweep", *TINY, "--lr", "1e-3,3e-3", "--set-grid", "sigma=1,3", "--seeds", "2"]
MEMBER = 7  # lr 3e-3, sigma 3, second seed (4 + 1)
CURVES = ("episode_return", "value_loss", "policy_loss", "entropy")


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    assert main([*SWEEP, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def member_dir(tmp_path_factory, sweep_dir):
    out = tmp_path_factory.mktemp("member")
    assert main([*SWEEP, "--member", str(MEMBER), "--out", str(out)]) == 0
    return out


def test_members_table_and_curves(sweep_dir):
    members = _rows(sweep_dir / "members.csv")
    assert [(float(r["learning_rate"]), float(r["sigma"]), int(r["seed"])) for r in members] == [
        (lr, sigma, seed) for lr in (1e-3, 3e-3) for sigma in (1, 3) for seed in (4, 5)
    ]
    assert all(np.isfinite(float(r["greedy_return"])) for r in members)
    assert members[MEMBER]["command"].endswith(f"members/{MEMBER}/config.json")
    curves = _rows(sweep_dir / "metrics.csv")
    assert len(curves) == 8 * 10 and {r["member"] for r in curves} == {str(m) for m in range(8)}
    assert len(_rows(sweep_dir / "sweep.csv")) == 4


def test_the_swept_environment_parameter_is_used(sweep_dir):
    curves = _rows(sweep_dir / "metrics.csv")

    def returns(member):
        return [float(r["episode_return"]) for r in curves if r["member"] == str(member)]

    # members 5 and 7: same learning rate and seed, sigma 1 vs 3
    assert not np.allclose(returns(5), returns(7))


def test_member_rerun_alone_equals_the_sweep_member(sweep_dir, member_dir):
    config = json.loads((member_dir / "config.json").read_text())
    written = json.loads((sweep_dir / "members" / str(MEMBER) / "config.json").read_text())
    assert config["run"]["seed"] == written["run"]["seed"] == 5
    written.pop("run"), config.pop("run")
    assert config == written  # `--config members/K/config.json` is the same run
    assert (
        dict(config["env_overrides"])["sigma"] == 3 and config["hparams"]["learning_rate"] == 3e-3
    )
    alone = _rows(member_dir / "metrics.csv")
    swept = [r for r in _rows(sweep_dir / "metrics.csv") if r["member"] == str(MEMBER)]
    for name in CURVES:
        np.testing.assert_allclose(
            [float(r[name]) for r in swept],
            [float(r[name]) for r in alone],
            rtol=1e-5,
            atol=1e-6,
            err_msg=name,
        )
    single = json.loads((member_dir / "evaluation.json").read_text())["evaluation"]["return"]
    member = _rows(sweep_dir / "members.csv")[MEMBER]
    assert float(member["greedy_return"]) == pytest.approx(single["mean"], rel=1e-5, abs=1e-6)
