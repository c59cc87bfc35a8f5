"""The market-making task on real GOOG windows: quotes are never marketable (every agent trade is a
replayed order reaching its quote), inventory limits hold, the pnl adds up."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from envs.metrics import METRICS
from jaxlob import reference as ref

AGENT = 1


def _random_quotes(seed, shape=(2, 4, 8)):
    rng = np.random.default_rng(seed)
    depths = rng.uniform(0.0, 6.0, shape + (2,))
    sizes = rng.uniform(0.0, 100.0, shape + (2,))
    return np.concatenate([depths, sizes], axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def quoting(market_making, goog_days):
    return market_making.run(goog_days, _random_quotes(0))


def test_inventory_stays_within_its_limits(quoting, market_making):
    limit = int(market_making.params.task.max_inventory)
    inventory = quoting[2]["state"].inventory
    assert np.all(np.abs(inventory) <= limit)
    assert np.any(inventory != 0)  # the quotes did trade


def test_quotes_trade_only_when_replayed_flow_reaches_them(
    market_making, goog_days, at, replay_reference
):
    """Pure replay through the reference book with the queue-true rule of the tests: the agent is
    never the aggressor (its messages trade nothing), and its trades are those the reference book
    finds, most of them executions that reach its quote in the queue."""
    out = market_making.run(goog_days, _random_quotes(1), resync=False)
    traded = queued = 0
    for d, day in enumerate(goog_days):
        for b in range(4):
            episode = at(out[2], d, b)
            book = ref.book_from_snapshot(np.asarray(day.initial_row[b]), 48, 10, 1, 2)
            for t in range(8):
                msgs = np.asarray(episode["msgs"][t])
                step_volume = 0
                for msg in msgs[msgs[:, 5] == AGENT].tolist():
                    book, fills = ref.apply_message(book, msg)
                    assert fills.totals.volume == 0  # post-only quotes
                book, totals = replay_reference(book, msgs[msgs[:, 5] != AGENT])
                step_volume = totals.bought_volume[AGENT] + totals.sold_volume[AGENT]
                assert int(episode["info"]["agent_volume"][t]) == step_volume
                traded += step_volume
                queued += int(episode["info"]["queue_fills"][t])
    assert traded > 0 and queued > 0


def test_pnl_is_cash_plus_inventory_at_the_mid(quoting, market_making, at):
    for d in range(2):
        for b in range(4):
            episode = at(quoting[2], d, b)
            state = jax.tree.map(lambda x: x[-1], episode["state"])
            mid = (int(state.last_bid) + int(state.last_ask)) / 2
            cash = float(state.sold_notional) - float(state.bought_notional)
            position = int(state.bought) - int(state.sold)
            expected = (cash + position * mid) / 1e4  # from cash 0 and no inventory
            total = float(np.sum(episode["info"][METRICS].pnl))
            assert total == pytest.approx(expected, abs=1e-3 + 1e-6 * abs(cash) / 1e4)


def test_penalties_enter_the_reward(market_making, goog_days, at):
    out = market_making.run(
        goog_days, _random_quotes(2), running_penalty=1e-4, terminal_penalty=1e-3
    )
    episode = at(out[2], 0, 0)
    metrics = episode["info"][METRICS]
    q = episode["state"].inventory
    running = 1e-4 * q**2
    np.testing.assert_allclose(metrics.inventory_penalty, running, rtol=1e-5)
    last = int(np.argmax(episode["done"]))
    assert float(metrics.terminal_penalty[last]) == pytest.approx(1e-3 * q[last] ** 2)
    reward = metrics.pnl - running - metrics.terminal_penalty
    np.testing.assert_allclose(episode["reward"], reward, rtol=1e-5, atol=1e-6)
    assert market_making.env.penalised


def test_metrics_and_summary_of_a_quoting_episode(quoting, market_making, at):
    """The metrics record agrees with the state: fills are the agent's trades (no market orders),
    the inventory is the position; the episode summary is pnl, terminal inventory and traded."""
    env, params = market_making.env, market_making.params
    episode = at(quoting[2], 0, 1)
    metrics, state = episode["info"][METRICS], episode["state"]
    np.testing.assert_array_equal(metrics.market_orders, 0.0)
    np.testing.assert_array_equal(np.cumsum(metrics.fills[:, 0]), state.bought)
    np.testing.assert_array_equal(np.cumsum(metrics.fills[:, 1]), state.sold)
    np.testing.assert_array_equal(metrics.inventory, state.bought - state.sold)
    assert np.all(metrics.both_quoted == (metrics.quoted[:, 0] & metrics.quoted[:, 1]))
    assert np.all(np.where(metrics.both_quoted, metrics.spread >= 0.01, metrics.spread == 0.0))
    final = jax.tree.map(lambda x: x[-1], state)
    summary = env.episode_summary(final, params)
    assert set(summary) == {"pnl", "terminal_inventory", "traded"}
    assert float(summary["pnl"]) == pytest.approx(float(np.sum(metrics.pnl)), abs=1e-4)
    assert float(summary["terminal_inventory"]) == float(final.inventory)
    assert int(summary["traded"]) == int(final.bought + final.sold)
