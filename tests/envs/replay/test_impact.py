"""On the shipped GOOG day: liquidity the agent takes stays taken through re-synchronisation until
the file refills the level, and doing nothing is charged for every share it leaves unfilled."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlob import messages as m

AGENT = 1


def _other_volume(book, d, b, t, side, price):
    s = getattr(book, side)
    n = s.price.shape[-1]
    head, count = int(s.head[d, b, t]), int(s.count[d, b, t])
    idx = (head + np.arange(count)) % n
    prices = np.asarray(s.price[d, b, t])[idx]
    qty = np.asarray(s.quantity[d, b, t])[idx]
    mine = np.asarray(s.trader_id[d, b, t])[idx] == AGENT
    return int(qty[(prices == price) & ~mine].sum())


def test_a_consumed_level_returns_only_as_the_file_refills_it(execution, goog_days):
    """Step 0 buys exactly the best ask level of the window's first row (T0 shares at p0). The
    re-synchronised book then holds at p0 only what the file added there, max(T1 - T0, 0), where
    the step's data neither cancel nor execute shares at p0 (those pay the displacement off); at
    most T1 everywhere; with zero actions the file's T1 (the old resync restored T1 in both)."""
    actions = np.zeros((2, 4, 8, 4), np.float32)
    for d, day in enumerate(goog_days):
        actions[d, :, 0, 0] = np.asarray(day.initial_row)[:, 1]  # far touch = the best ask size
    out = execution.run(goog_days, actions, resync=True, quantity=5000)
    idle = execution.run(goog_days, np.zeros(4), resync=True, quantity=5000)
    exact = worse = 0
    for d, day in enumerate(goog_days):
        for b in range(4):
            row0 = np.asarray(day.initial_row[b])
            p0, t0 = int(row0[0]), int(row0[1])
            assert int(out[2]["info"]["agent_volume"][d, b, 0]) == t0
            row1 = np.asarray(day.step_rows[b, 0])
            asks, sizes = row1[0::4], row1[1::4]
            t1 = int(sizes[asks == p0].sum())
            after = _other_volume(out[2]["book"], d, b, 0, "asks", p0)
            assert after <= t1
            assert _other_volume(idle[2]["book"], d, b, 0, "asks", p0) == t1
            msgs = np.asarray(day.messages[b, 0])
            reduced = (
                np.isin(msgs[:, m.TYPE], (m.CANCEL, m.DELETE, m.EXECUTE))
                & (msgs[:, m.DIRECTION] == m.SELL)
                & (msgs[:, m.PRICE] == p0)
            )
            if not reduced.any():
                assert after == max(t1 - t0, 0)
                exact += 1
            worse += after < t1
    assert exact > 0 and worse > 0


def test_doing_nothing_is_charged_for_every_unfilled_share(execution, goog_days):
    """Zero actions with more shares than the deadline order can find: each window's unfilled
    shares appear in the info and cost at least the deadline order's average price each."""
    out = execution.run(goog_days, np.zeros(4), resync=True, quantity=20_000)
    steps = out[2]
    checked = 0
    for d in range(2):
        for b in range(4):
            done = np.asarray(steps["done"][d, b])
            last = int(np.argmax(done))
            info = {
                k: np.asarray(v[d, b, last]) for k, v in steps["info"].items() if k != "metrics"
            }
            unfilled, executed = int(info["unfilled"]), int(info["executed"])
            assert unfilled + executed == 20_000
            if unfilled == 0:
                continue
            checked += 1
            price = float(info["unfilled_price"])
            assert price > float(info["average_price"]) > 0
            arrival = float(info["arrival_price"])
            assert float(info["unfilled_cost"]) == pytest.approx(
                unfilled * (price - arrival), rel=1e-4
            )
            vwap = float(info["step_vwap"])
            assert float(info["unfilled_charge"]) == pytest.approx(
                -unfilled * (price - vwap), rel=1e-4
            )
    assert checked > 0
