"""Market-making baselines on real GOOG windows: estimates from the data, Avellaneda-Stoikov quotes
that lean against inventory, and both baselines within the limits."""

from __future__ import annotations

import numpy as np
import pytest

from agents.replay import baselines, estimation
from jaxlob import messages as m


def test_estimates_from_the_data_are_sane(goog_days):
    est = estimation.estimate_market(goog_days[0], 100)
    assert est.sigma > 0 and est.intensity_a > 0 and est.intensity_k > 0
    assert est.median_spread >= 1
    curve = estimation.cumulative_volume_share(goog_days[0], 10)
    assert curve[0] == 0 and curve[-1] == pytest.approx(1.0) and np.all(np.diff(curve) >= 0)


def test_avellaneda_stoikov_quotes_lean_against_inventory(market_making):
    env, params = market_making.env, market_making.params
    policy = baselines.make_avellaneda_stoikov(env, params, gamma=1e-3)
    obs = np.zeros(env.obs_size, np.float32)
    flat = np.asarray(policy(None, obs))
    assert flat[0] == pytest.approx(flat[1])  # no inventory: symmetric around the mid
    obs[env.obs_index["inventory"]] = 100.0
    long = np.asarray(policy(None, obs))
    assert long[0] > flat[0] and long[1] < flat[1]  # long: bid deeper, ask closer
    obs[env.obs_index["time"]] = 1.0
    end = np.asarray(policy(None, obs))  # no time left: the inventory term vanishes
    est = estimation.estimate_market(params.data, 100)
    half = np.log1p(1e-3 / est.intensity_k) / 1e-3
    assert end[0] == pytest.approx(min(half, 20.0), rel=1e-5) and end[0] == pytest.approx(end[1])


def test_baselines_run_within_limits(market_making, goog_days):
    env, params = market_making.env, market_making.params
    for policy in (
        baselines.make_fixed_spread(env, params),
        baselines.make_avellaneda_stoikov(env, params),
    ):
        out = market_making.run(goog_days, policy=policy)
        assert np.all(np.abs(out[2]["state"].inventory) <= 200)
        assert np.sum(out[2]["info"]["agent_volume"]) > 0


def test_do_nothing_never_trades(market_making, goog_days):
    """`fixed_action` zeros (no quote) on market making: no agent message, no volume, no
    inventory, at every step of every window."""
    env, params = market_making.env, market_making.params
    action = np.asarray(baselines.make_baseline("fixed_action", env, params)(None, None))
    out = market_making.run(goog_days, actions=action)[2]
    agent = (out["msgs"][..., m.TRADER_ID] == 1) & (out["msgs"][..., m.TYPE] != m.NOOP)
    assert not agent.any()
    assert not np.any(out["info"]["agent_volume"]) and not np.any(out["state"].inventory)
    with pytest.raises(ValueError, match=r"fixed_action: action bid_depth=-1 outside"):
        baselines.make_baseline("fixed_action", env, params, action=(-1, 0, 0, 0))
