"""Sweep bookkeeping: member order, final returns weighted by episodes, per-configuration spread."""

import jax
import numpy as np
import pytest

from purejaxrl_train.config import TrainConfig
from purejaxrl_train.sweep import SweepPlan, final_returns, format_table, summarize, sweep_inputs


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
