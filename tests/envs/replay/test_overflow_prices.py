"""Prices above $107,374 (best bid + best ask > 2**31 - 1 price units): the replay markets' mids,
drifts, level offsets, arrival price and market-making quotes are still exact (computed from price
differences, never from the int32 sum ``bid + ask``)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlob import messages as m

BID = 1_500_000_000  # $150,000.00 in price units: BID + ASK overflows int32
ASK = BID + 100  # one tick (tick_size 100) above
LEVELS = [ASK, 100, BID, 100, ASK + 100, 200, BID - 100, 200]


def _obs(env, obs, name):
    return float(obs[env.obs_names.index(name)])


def test_execution_observation_and_arrival_price_at_high_prices(execution, make_synthetic, at):
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, steps=[[], []])
    out = execution.run([data, data], quantity=100, side=1)
    obs0 = at(out[0], 0, 0)
    env = execution.env
    assert _obs(env, obs0, "drift") == 0.0
    assert _obs(env, obs0, "spread") == 1.0
    assert _obs(env, obs0, "ask_offset_1") == 0.5 and _obs(env, obs0, "bid_offset_1") == -0.5
    assert _obs(env, obs0, "ask_offset_2") == 1.5 and _obs(env, obs0, "bid_offset_2") == -1.5
    step = at(out[2], 0, 0, 0)
    arrival = (BID + ASK) / 2 / m.PRICE_UNIT
    assert float(step["info"]["arrival_price"]) == pytest.approx(arrival, rel=1e-7)
    assert _obs(env, step["obs"], "drift") == 0.0


def test_market_making_quotes_around_a_high_mid(market_making, make_synthetic, at):
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, steps=[[], []])
    # depth 1 tick each side around the mid BID + 50: bid floor -> BID - 100, ask ceil -> BID + 200
    out = market_making.run([data, data], actions=[1.0, 1.0, 10.0, 10.0])
    msgs = np.asarray(at(out[2], 0, 0, 0)["msgs"])
    submits = msgs[(msgs[:, m.TYPE] == m.SUBMIT) & (msgs[:, m.TRADER_ID] == 1)]
    quotes = {int(d): int(p) for d, p in zip(submits[:, m.DIRECTION], submits[:, m.PRICE])}
    assert quotes == {m.BUY: BID - 100, m.SELL: BID + 200}
