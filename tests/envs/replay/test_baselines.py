"""Execution baselines (TWAP, VWAP, all at once) on real windows, their evaluation through
`agents.evaluate`, and the per-window report."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from agents.replay import baselines
from agents.replay.windows import add_window_vwap, evaluate_windows, summary
from jaxlob import messages as m

QUANTITY = 300


@pytest.fixture(scope="module")
def schedules(execution, goog_days):
    env, params = execution.env, execution.params
    out = {}
    for name in ("twap", "vwap", "all_at_once"):
        policy = baselines.make_baseline(name, env, params)
        out[name] = execution.run(goog_days, policy=policy, quantity=QUANTITY)
    return out


def test_every_baseline_completes_the_task(schedules):
    for out in schedules.values():
        executed = out[2]["info"]["executed"]
        assert np.all(executed[..., -1] == QUANTITY)
        assert np.all(np.diff(executed, axis=-1) >= 0)


def test_twap_follows_the_clock_and_all_at_once_goes_first(schedules, goog_days):
    twap = schedules["twap"][2]
    state = twap["state"]
    # after each step TWAP has bought about quantity * elapsed time (one step ahead at most, plus
    # what the far touch could not fill yet)
    time = twap["obs"][..., 0]
    done = state.bought / QUANTITY
    live = ~twap["done"]
    assert np.all(np.where(live, done <= np.minimum(time + 0.35, 1.0) + 1e-6, True))
    first = schedules["all_at_once"][2]["state"].bought[..., 0]
    assert np.all(first > 0) and np.all(first >= twap["state"].bought[..., 0])


def test_schedule_targets_by_hand(execution):
    env, params = execution.env, execution.params
    twap = baselines.make_twap(env, params)
    obs = np.zeros(env.obs_size, np.float32)
    obs[env.obs_index["time"]] = 0.5
    obs[env.obs_index["remaining"]] = 0.75  # 75 of 300 done
    action = np.asarray(twap(None, obs))
    target = QUANTITY * (0.5 + float(twap.dt))
    assert action[0] == pytest.approx(np.ceil(target - 75.0))
    assert np.all(action[1:] == 0)
    everything = np.asarray(baselines.make_all_at_once(env, params)(None, obs))
    assert everything[0] == pytest.approx(225.0)  # all that is left
    curve = np.linspace(0.0, 1.0, 11) ** 2  # cumulative share done; the agent takes its buckets
    vwap = baselines.make_vwap(env, params, volume_curve=tuple(np.diff(curve)))
    target = QUANTITY * (0.5 + float(vwap.dt)) ** 2
    assert np.asarray(vwap(None, obs))[0] == pytest.approx(np.ceil(target - 75.0), abs=1.0)


def test_agents_evaluate_runs_the_replay_environment(execution, schedules):
    """`agents.evaluate_policy` (one episode per fixed window) agrees with the harness's returns."""
    from agents import evaluate_policy as evaluate

    env, params = execution.env, execution.params
    policy = baselines.make_twap(env, params)
    harness_returns = schedules["twap"][2]["reward"][0].sum(axis=-1)
    for window in (0, 3):
        result = evaluate(env, params.replace(window=window), policy, 1, jax.random.PRNGKey(0))
        assert result["return"]["mean"] == pytest.approx(float(harness_returns[window]), rel=1e-5)
        assert result["terminal_inventory"]["mean"] == 0.0


def test_evaluate_windows_reports_each_window(execution, goog_days, schedules):
    """`evaluate_windows` (the report's path) gives the harness's returns and executions, and the
    shortfall against the window VWAP follows from the window's trades, computed here by hand."""
    env, params = execution.env, execution.params
    rows = evaluate_windows(env, params, baselines.make_twap(env, params))
    rows = add_window_vwap(rows, params, 1)
    harness = schedules["twap"][2]
    day = goog_days[0]
    for row in rows:
        w = row["window"]
        assert row["return"] == pytest.approx(float(harness["reward"][0, w].sum()), rel=1e-5)
        assert row["executed"] == QUANTITY
        msgs = np.asarray(day.messages[w]).reshape(-1, 8)
        trades = msgs[(msgs[:, 0] == 4) | (msgs[:, 0] == 5)]
        vwap = (trades[:, 2] * trades[:, 3].astype(np.float64)).sum() / trades[:, 2].sum() / 1e4
        assert row["window_vwap"] == pytest.approx(vwap, rel=1e-12)
        bps = (row["average_price"] - vwap) / vwap * 1e4
        assert row["shortfall_window_vwap_bps"] == pytest.approx(bps, rel=1e-9)


def test_summary_statistics():
    rows = [{"window": i, "x": float(v)} for i, v in enumerate([1.0, 2.0, 3.0, 6.0])]
    s = summary(rows)["x"]
    assert s["mean"] == 3.0
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 6], ddof=1))
    assert s["stderr"] == pytest.approx(s["std"] / 2)


def test_do_nothing_sends_no_order_before_the_deadline(execution, goog_days):
    """`fixed_action` with its default (zeros) on the execution task: the agent's only message in
    an episode is the deadline order of its last step."""
    env, params = execution.env, execution.params
    action = np.asarray(baselines.make_baseline("fixed_action", env, params)(None, None))
    assert action.tolist() == [0.0, 0.0, 0.0, 0.0]
    out = execution.run(goog_days, actions=action)[2]  # fixed actions: the compiled rollout
    agent = (out["msgs"][..., m.TRADER_ID] == 1) & (out["msgs"][..., m.TYPE] != m.NOOP)
    per_step = agent.sum(-1)
    last = np.argmax(out["done"], axis=-1)  # the step at which each episode ended
    steps = np.arange(per_step.shape[-1])
    assert np.all(per_step[steps < last[..., None]] == 0)
    assert np.all(np.take_along_axis(per_step, last[..., None], -1) == 1)
