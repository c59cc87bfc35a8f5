"""The replay environment on real GOOG windows: pure replay against the plain-Python reference book
(every trade accounted once), no crossed book, re-synchronisation to the file, determinism, vmap over
windows and days, and the gymnax contract."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.interfaces import Market
from envs.metrics import METRICS, StepMetrics
from jaxlob import reference as ref
from jaxlob.state import SNAPSHOT_ID_BASE

AGENT = 1


def _orders(side) -> dict[str, np.ndarray]:
    """A (host) side's orders in priority order."""
    n = side.price.shape[0]
    idx = (int(side.head) + np.arange(int(side.count))) % n
    names = ("price", "quantity", "order_id", "trader_id", "arrival")
    return {name: np.asarray(getattr(side, name))[idx] for name in names}


def _random_actions(seed, shape=(2, 4, 8, 4), high=120.0):
    """Actions that make the agent trade: mostly zero, sometimes large at one of the four prices."""
    rng = np.random.default_rng(seed)
    actions = rng.uniform(0.0, high, shape).astype(np.float32)
    return np.where(rng.uniform(size=shape) < 0.5, 0.0, actions).astype(np.float32)


@pytest.fixture(scope="module")
def pure_run(execution, goog_days):
    actions = _random_actions(0)
    return actions, execution.run(goog_days, actions, resync=False, quantity=300)


def test_pure_replay_matches_the_reference_book(
    execution, goog_days, pure_run, at, replay_reference
):
    """Every message the environment applied, replayed through the independent Python book from the
    window's first row with the queue-true rule written in the tests (`conftest.reference_step`),
    gives the same trades (agent's, others', in total) and the same book."""
    _, out = pure_run
    obs0, state0, steps = out
    for d, day in enumerate(goog_days):
        for b in range(4):
            episode = at(steps, d, b)
            row = np.asarray(day.initial_row[b])
            book = ref.book_from_snapshot(row, 48, 10, 1, 2)
            arrival_mid = (int(row[0]) + int(row[2])) / 2
            bought = sold = 0
            bought_cash = 0
            done = False
            for t in range(8):
                book, tot = replay_reference(book, episode["msgs"][t])
                info = jax.tree.map(lambda x, t=t: np.asarray(x)[t], episode["info"])
                metrics = info[METRICS]
                if done:  # after the episode nothing happens
                    assert tot.volume == 0 and info["total_volume"] == 0
                    continue
                traded = metrics.fills + metrics.market_orders  # limit orders + deadline order
                assert traded.tolist() == [tot.bought_volume[AGENT], tot.sold_volume[AGENT]]
                assert info["total_volume"] == tot.volume + tot.off_book_volume
                agent = tot.bought_volume[AGENT] + tot.sold_volume[AGENT]
                assert info["agent_volume"] + info["other_volume"] == info["total_volume"]
                assert info["agent_volume"] == agent
                others = tot.notional - tot.bought_notional[AGENT] - tot.sold_notional[AGENT]
                others += tot.off_book_notional
                other_volume = tot.volume - agent + tot.off_book_volume
                vwap = others / other_volume if other_volume else arrival_mid
                assert float(info["step_vwap"]) == pytest.approx(vwap / 1e4, rel=1e-6)
                bought += tot.bought_volume[AGENT]
                sold += tot.sold_volume[AGENT]
                bought_cash += tot.bought_notional[AGENT]
                np.testing.assert_array_equal(episode["top"][t], ref.top_levels(book, 10))
                done = bool(episode["done"][t])
            assert sold == 0  # a buy task never sells
            final = jax.tree.map(lambda x: x[7], episode["state"])
            assert int(final.bought) == bought
            assert float(final.bought_notional) == pytest.approx(bought_cash, rel=1e-6)
            if bought:
                average = bought_cash / bought
                bps = (average - arrival_mid) / arrival_mid * 1e4
                shortfall = episode["info"]["shortfall_arrival_bps"][7]
                assert float(shortfall) == pytest.approx(bps, abs=0.01)  # float32 prices
            expected = ref.book_orders(book)
            for side in ("bids", "asks"):
                got = _orders(jax.tree.map(lambda x: x[7], getattr(episode["book"], side)))
                for name, values in got.items():
                    np.testing.assert_array_equal(values, expected[side][name])
            assert bought <= 300  # never overfilled
    assert np.sum(steps["info"]["queue_fills"]) > 0  # the rule was exercised


def test_task_completes_by_the_deadline(pure_run, at):
    _, (_, _, steps) = pure_run
    for d in range(2):
        for b in range(4):
            episode = at(steps, d, b)
            done = np.asarray(episode["done"])
            assert done[-1]  # every window here ends within its 8 steps
            last = int(np.argmax(done))
            assert int(episode["info"]["executed"][last]) == 300
            assert int(episode["info"]["unfilled"][last]) == 0
            assert not np.any(episode["reward"][last + 1 :])


@pytest.mark.parametrize("resync", [False, True])
def test_the_book_never_crosses(execution, goog_days, resync):
    out = execution.run(goog_days, _random_actions(1, high=400.0), resync=resync, quantity=2000)
    top = out[2]["top"]
    has_both = (top[..., 1] > 0) & (top[..., 3] > 0)
    assert np.all(np.where(has_both, top[..., 0] > top[..., 2], True))


def test_resync_without_agent_orders_reproduces_the_file(execution, goog_days):
    """Zero actions (nothing but the deadline order, which comes after a step's data): after each
    step before the deadline the book's 10 levels equal the orderbook file's row."""
    out = execution.run(goog_days, np.zeros(4), resync=True, quantity=300)
    steps = out[2]
    for d, day in enumerate(goog_days):
        rows = np.asarray(day.step_rows)
        num_steps = np.asarray(day.num_steps)
        for b in range(4):
            for t in range(int(num_steps[b]) - 1):
                np.testing.assert_array_equal(steps["top"][d, b, t], rows[b, t])


def test_resync_keeps_other_volume_equal_to_the_file(execution, goog_days):
    """With the agent's orders in the book, the other traders' volume at each visible price equals
    the file's less the agent's displacement (`envs.replay.impact`, 0 where it took nothing;
    where the price does not cross the agent's quotes), and each price has at most one order the
    engine's unknown-id fallback can reduce."""
    out = execution.run(goog_days, _random_actions(2), resync=True, quantity=600)
    steps = out[2]
    checked = displaced = 0
    for d, day in enumerate(goog_days):
        rows = np.asarray(day.step_rows)
        for b in range(4):
            for t in range(int(np.asarray(day.num_steps)[b]) - 1):
                row = rows[b, t]
                books = {
                    side: _orders(
                        jax.tree.map(
                            lambda x, i=(d, b, t): x[i], steps["book"].__getattribute__(side)
                        )
                    )
                    for side in ("asks", "bids")
                }
                agent_bid = max(
                    [
                        int(p)
                        for p, tr in zip(books["bids"]["price"], books["bids"]["trader_id"])
                        if tr == AGENT
                    ],
                    default=-(2**31),
                )
                impact = steps["state"].impact
                for side, offset, k in (("asks", 0, 1), ("bids", 2, 0)):
                    price, qty = books[side]["price"], books[side]["quantity"]
                    mine = books[side]["trader_id"] == AGENT
                    d_price = np.asarray(impact.price[d, b, t, k])
                    d_amount = np.asarray(impact.amount[d, b, t, k])
                    for p, size in zip(row[offset::4], row[offset + 1 :: 4]):
                        if size <= 0 or (side == "asks" and p <= agent_bid):
                            continue  # empty, or through the agent's bid (left out)
                        owed = int(d_amount[(d_price == p) & (d_amount != 0)].sum())
                        assert int(qty[(price == p) & ~mine].sum()) == max(size - owed, 0)
                        displaced += owed != 0
                        checked += 1
                    fallback = books[side]["order_id"] <= SNAPSHOT_ID_BASE
                    for p in np.unique(price):
                        assert np.sum((price == p) & fallback) <= 1
                if steps["done"][d, b, t]:
                    break  # the book stays as it is once the task is done
    assert checked > 500 and displaced > 0


def test_same_key_same_result_and_draws_stay_in_range(execution, goog_days):
    keys = jax.random.split(jax.random.PRNGKey(7), 8).reshape(2, 4, -1)
    windows = -np.ones((2, 4), np.int32)  # draw at reset
    first = execution.run(goog_days, _random_actions(3), windows=windows, keys=keys)
    second = execution.run(goog_days, _random_actions(3), windows=windows, keys=keys)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)
    drawn = np.asarray(first[1].window)
    assert np.all((drawn >= 0) & (drawn < 4))


def test_vmap_over_windows_and_days_is_per_episode(execution, goog_days, at):
    """The same (day, window, actions) gives the same episode wherever it sits in the batch."""
    actions = _random_actions(4)
    base = execution.run(goog_days, actions, resync=True)
    swapped_days = [goog_days[1], goog_days[0]]
    order = np.array([2, 0, 3, 1])
    windows = np.tile(order, (2, 1))
    moved = execution.run(swapped_days, actions[::-1][:, order], windows=windows, resync=True)
    for d in range(2):
        for b in range(4):
            a = at(base[2], d, b)
            m = at(moved[2], 1 - d, int(np.argsort(order)[b]))
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(m), strict=True):
                np.testing.assert_array_equal(x, y)


MARKET_INFO = {
    "agent_volume",
    "other_volume",
    "total_volume",
    "step_vwap",
    "resync_added",
    "resync_removed",
    "resync_dropped",
    "evicted_orders",
    "unmatched_messages",
    "queue_fills",
    "self_trade_cancels",
    "data_id_refused",
    "impact_displaced",
    "impact_overflow",
}
EXECUTION_INFO = {
    "advantage",
    "drift",
    "executed",
    "average_price",
    "arrival_price",
    "market_vwap",
    "shortfall_arrival_bps",
    "shortfall_vwap_bps",
    "unfilled",
    "liquidated",
    "unfilled_charge",
    "unfilled_price",
    "unfilled_cost",
    "shortfall_charged_bps",
}
GYMNAX_INFO = {"terminated", "truncated", "final_observation"}


SUMMARIES = {
    "execution": EXECUTION_INFO - {"advantage", "drift", "unfilled_charge"},
    "market_making": {"pnl", "terminal_inventory", "traded"},
}


@pytest.mark.parametrize(
    ("harness", "task_info"), [("execution", EXECUTION_INFO), ("market_making", set())]
)
def test_gymnax_contract(request, harness, task_info):
    """Shapes and dtypes of reset and step, the fixed info key set with the typed metrics record,
    and the declared market interface."""
    h = request.getfixturevalue(harness)
    env, params = h.env, h.params
    assert isinstance(env, Market) and env.penalised is (harness == "market_making")
    key = jax.random.PRNGKey(0)
    obs, state = jax.eval_shape(env.reset, key, params)
    space = env.observation_space(params)
    assert obs.shape == space.shape == (env.obs_size,) and obs.dtype == jnp.float32
    assert len(env.obs_names) == env.obs_size
    action = env.action_space(params).sample(key)
    out = jax.eval_shape(env.step, key, state, action, params)
    obs2, state2, reward, terminated, truncated, info = out
    assert jax.tree.structure(state2) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(state2), strict=True):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
    assert obs2.shape == obs.shape and reward.shape == () and terminated.dtype == jnp.bool_
    assert set(info) == {METRICS} | MARKET_INFO | task_info | GYMNAX_INFO
    metrics = info[METRICS]
    assert isinstance(metrics, StepMetrics)
    for name in ("pnl", "inventory_penalty", "terminal_penalty", "spread", "inventory"):
        assert (getattr(metrics, name).shape, getattr(metrics, name).dtype) == ((), jnp.float32)
    for name in ("fills", "market_orders"):
        assert (getattr(metrics, name).shape, getattr(metrics, name).dtype) == ((2,), jnp.float32)
    assert (metrics.quoted.shape, metrics.quoted.dtype) == ((2,), jnp.bool_)
    assert set(jax.eval_shape(env.episode_summary, state2, params)) == SUMMARIES[harness]


@pytest.mark.parametrize("harness", ["execution", "market_making"])
def test_the_deadline_is_a_termination(request, harness):
    """Through gymnax's `step` with zero actions: terminated exactly at the window's last step,
    never truncated; the auto-reset then starts a new episode."""
    h = request.getfixturevalue(harness)
    env, params = h.env, h.params.replace(window=1)
    num_steps = int(np.asarray(params.data.num_steps)[1])
    key = jax.random.PRNGKey(3)
    _, state = env.reset(key, params)
    action = jnp.zeros((h.num_actions,), jnp.float32)
    for t in range(num_steps):
        _, state, _, terminated, truncated, info = env.step(
            jax.random.fold_in(key, t), state, action, params
        )
        assert bool(terminated) == (t == num_steps - 1)
        assert not bool(truncated) and not bool(info["truncated"])
    assert int(state.time) == 0 and not bool(state.done)  # reset after the terminal step


def test_observations_lie_in_the_space(execution, goog_days, pure_run):
    _, out = pure_run
    space = execution.env.observation_space(execution.params)
    obs = np.concatenate(
        [out[0].reshape(-1, space.shape[0]), out[2]["obs"].reshape(-1, space.shape[0])]
    )
    assert np.all(np.isfinite(obs))
    assert bool(jax.vmap(space.contains)(jnp.asarray(obs)).all())
