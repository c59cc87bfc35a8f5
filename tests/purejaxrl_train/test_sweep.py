"""Sweep bookkeeping: member order, final returns weighted by episodes, per-configuration spread."""

import jax
import numpy as np
import pytest

from purejaxrl_train.config import TrainConfig
from purejaxrl_train.sweep import (
    SweepPlan,
    final_returns,
    format_table,
    member_config,
    summarize,
    sweep_env_params,
    sweep_inputs,
)


def test_members_are_configuration_major_and_share_seeds():
    plan = SweepPlan(grid=(("learning_rate", (1e-3, 1e-4)), ("ent_coef", (0.0, 0.01))), num_seeds=3)
    assert plan.num_members == 12
    assert plan.configurations[1] == {"learning_rate": 1e-3, "ent_coef": 0.01}
    keys, hp, members = sweep_inputs(TrainConfig(), plan)
    np.testing.assert_allclose(hp.learning_rate[:6], 1e-3)
    np.testing.assert_allclose(hp.learning_rate[6:], 1e-4)
    np.testing.assert_allclose(hp.ent_coef[3:6], 0.01)
    np.testing.assert_allclose(hp.gamma, TrainConfig().hparams.gamma)  # unswept: the default
    # configuration 0 and 2 use the same three seeds
    np.testing.assert_array_equal(jax.random.key_data(keys[:3]), jax.random.key_data(keys[6:9]))
    assert len({tuple(np.asarray(jax.random.key_data(k))) for k in keys[:3]}) == 3
    np.testing.assert_array_equal(members, np.arange(12))
    # seed index s uses the key of a single run with seed plan.seed + s (re-runnable alone)
    for s in range(3):
        np.testing.assert_array_equal(
            jax.random.key_data(keys[s]), jax.random.key_data(jax.random.key(plan.seed + s))
        )


def test_environment_grid_members_and_stacked_params():
    config = TrainConfig(env_name="CartPole-v1", env_overrides=(("max_steps_in_episode", 50),))
    plan = SweepPlan(
        grid=(("learning_rate", (1e-3, 1e-4)),),
        env_grid=(("gravity", (9.8, 12.0)),),
        num_seeds=2,
        seed=10,
    )
    assert plan.num_members == 8
    assert plan.member(7) == ({"learning_rate": 1e-4}, {"gravity": 12.0}, 11)
    member, seed = member_config(config, plan, 5)
    assert seed == 11 and float(member.hparams.learning_rate) == 1e-4
    assert member.env_overrides == (("gravity", 9.8), ("max_steps_in_episode", 50))
    params = sweep_env_params(config, plan)
    np.testing.assert_allclose(params.gravity, [9.8, 9.8, 12.0, 12.0] * 2, rtol=1e-6)
    np.testing.assert_array_equal(params.max_steps_in_episode, 50)
    assert sweep_env_params(config, SweepPlan(grid=())) is None
    with pytest.raises(ValueError, match="--member 8"):
        plan.member(8)
    with pytest.raises(ValueError, match="gravity: must be finite"):
        sweep_env_params(config, SweepPlan(grid=(), env_grid=(("gravity", (float("inf"),)),)))


def test_final_returns_weight_by_episodes_over_the_last_tenth():
    returns = np.full((2, 20), np.nan)
    counts = np.zeros((2, 20))
    returns[0, 18:], counts[0, 18:] = [1.0, 4.0], [3, 1]  # last two updates = last tenth
    returns[0, 10], counts[0, 10] = 100.0, 5  # outside the window
    metrics = {"episode_return": returns, "episodes": counts}
    got = final_returns(metrics)
    assert got[0] == pytest.approx((3 * 1.0 + 4.0) / 4)
    assert np.isnan(got[1])  # no episode ended in the window


def test_summary_mean_and_spread_over_seeds():
    plan = SweepPlan(grid=(("learning_rate", (1e-3, 1e-4)),), num_seeds=3)
    rows = summarize(plan, np.array([1.0, 2.0, 3.0, 5.0, np.nan, 7.0]))
    assert rows[0]["final_return_mean"] == 2.0 and rows[0]["final_return_std"] == 1.0
    assert rows[0]["final_return_stderr"] == pytest.approx(1 / np.sqrt(3))
    assert rows[1]["seeds"] == 2 and rows[1]["final_return_mean"] == 6.0
    table = format_table(rows).splitlines()
    assert table[0].split()[0] == "learning_rate" and table[1].split()[0] == "0.0001"  # best first


def test_bad_plans():
    with pytest.raises(ValueError, match="lr"):
        SweepPlan(grid=(("lr", (1.0,)),))
    with pytest.raises(ValueError, match="seeds"):
        SweepPlan(grid=(), num_seeds=0)
    with pytest.raises(ValueError, match="sigma is swept twice"):
        SweepPlan(grid=(), env_grid=(("sigma", (1.0,)), ("sigma", (2.0,))))
