"""Order and market-data latency (`envs.replay.latency`): zero latency compiled in is the replay
without it, bit for bit; on hand-built streams (every expected number worked out in the comments)
an order meets a quote or misses it by its latency, a batch that arrives after a step's data waits
for the next step, and the agent prices its orders from the book it sees; on GOOG windows with
latency the book never crosses, shares are conserved, the merged stream keeps time order and runs
are deterministic."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from envs.metrics import METRICS
from envs.replay.registry import make
from jaxlob import messages as m

ASK, BID = 10_100, 10_000
LEVELS = [ASK, 100, BID, 300, 10_200, 100, 9_900, 100]
START = 36_000  # the synthetic windows' start (the decision clock of step 0)
FAR = 0  # the four-price action's far touch: the ask, for a buy
US, MS = 1_000, 1_000_000


def _msg(typ, direction, size, price, order_id, time_s, time_ns=0):
    return [typ, direction, size, price, order_id, 0, time_s, time_ns]


def _far(sizes):
    actions = np.zeros((8, 4), np.float32)
    actions[: len(sizes), FAR] = sizes
    return actions


def _lat(order_ns=0, data_ns=0):
    return {"order_latency_ns": order_ns, "data_latency_ns": data_ns}


def _first(out, at, t):
    return at(out[2], 0, 0, t)


def _random_actions(seed, shape=(2, 4, 8, 4), high=150.0):
    rng = np.random.default_rng(seed)
    actions = rng.uniform(0.0, high, shape).astype(np.float32)
    return np.where(rng.uniform(size=shape) < 0.5, 0.0, actions).astype(np.float32)


@pytest.mark.parametrize("resync", [False, True])
def test_zero_latency_is_the_replay_without_latency(
    execution, execution_latency, goog_days, resync
):
    """Latency compiled in with both latencies 0: every observation, reward, book, info entry and
    applied message equals the replay without latency."""
    actions = _random_actions(5)
    plain = execution.run(goog_days, actions, resync=resync, quantity=600)
    lagged = execution_latency.run(goog_days, actions, resync=resync, quantity=600)
    np.testing.assert_array_equal(plain[0], lagged[0])
    a, b = plain[2], lagged[2]
    for name in ("obs", "reward", "done", "msgs", "top"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for x, y in zip(jax.tree.leaves(a["book"]), jax.tree.leaves(b["book"]), strict=True):
        np.testing.assert_array_equal(x, y)
    for key, value in a["info"].items():
        for x, y in zip(jax.tree.leaves(value), jax.tree.leaves(b["info"][key]), strict=True):
            np.testing.assert_array_equal(x, y, err_msg=key)
    extra = set(b["info"]) - set(a["info"])
    assert extra == {
        "latency_deferred",
        "latency_dropped",
        "latency_stale",
        "latency_in_flight",
        "latency_order_ns",
        "latency_replace_cut",
    }
    for key in extra:
        assert not np.any(b["info"][key])
    assert np.sum(a["info"][METRICS].fills) > 0  # the agent did trade


# Step 0 holds one data message, the deletion of the ask's 100 at 10100 five microseconds after the
# decision; step 1 a data sell of 50 at 10100 one second later. The agent buys 100 at the far touch
# in each step (it has 300 to buy).
ORDER_STEPS = [
    [_msg(m.DELETE, m.SELL, 100, ASK, 777, START, 5 * US)],
    [_msg(m.SUBMIT, m.SELL, 50, ASK, 600, START + 1)],
    [_msg(m.SUBMIT, m.BUY, 10, 9_500, 604, START + 2)],  # the deadline step
]


@pytest.mark.parametrize(
    "latency_ns, fills, in_flight, deferred",
    [
        # arrives before the deletion: takes the ask's 100 at 10100 (the deletion then finds
        # nothing); step 1 buys 100 at the next ask, 10200, before the sell arrives
        (0, [100, 100], [0, 0], [0, 0]),
        (1 * US, [100, 100], [0, 0], [0, 0]),
        # arrives after the deletion, and after step 0's last message: in flight over the step
        # end, so step 1's decision is not sent; it enters step 1 first, rests at 10100 (the ask
        # is now 10200) and the data sell of 50 at 10100 fills it
        (10 * US, [0, 50], [1, 0], [0, 1]),
    ],
)
def test_order_latency_decides_whether_an_order_meets_the_quote(
    execution_latency, make_synthetic, at, latency_ns, fills, in_flight, deferred
):
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, ORDER_STEPS)
    out = execution_latency.run(
        [data, data], actions=_far([100, 100]), resync=False, env_fields=_lat(latency_ns)
    )
    steps = [_first(out, at, t) for t in range(2)]
    assert [int(s["info"][METRICS].fills[0]) for s in steps] == fills
    assert [int(s["info"]["latency_in_flight"]) for s in steps] == in_flight
    assert [int(s["info"]["latency_deferred"]) for s in steps] == deferred
    if latency_ns == 10 * US:
        # the agent's 50 left rest at 10100, bought at the price it decided on
        assert int(steps[1]["state"].rest.sum()) == 50
        assert int(steps[1]["top"][2]) == ASK and int(steps[1]["top"][3]) == 50
        notional = float(steps[1]["state"].bought_notional)
        assert notional == 50 * ASK
    # the applied stream is in time order: the batch stamped with its arrival, among the data
    for s in steps:
        real = s["msgs"][s["msgs"][:, m.TYPE] != m.NOOP]
        clock = real[:, m.TIME_S].astype(np.int64) * 10**9 + real[:, m.TIME_NS]
        assert np.all(np.diff(clock) >= 0)


# Step 0: the ask's 100 at 10100 is deleted at 36001.5 s, a far bid arrives at 36002 s (the step's
# last message, so the step ends at 36002 s); step 1: one far bid at 36003 s; step 2: one at
# 36003.1 s. The agent does nothing in step 0 and buys 100 at the ask it sees in step 1.
DATA_STEPS = [
    [
        _msg(m.DELETE, m.SELL, 100, ASK, 777, START + 1, 500 * MS),
        _msg(m.SUBMIT, m.BUY, 10, 9_800, 601, START + 2),
    ],
    [_msg(m.SUBMIT, m.BUY, 10, 9_700, 602, START + 3)],
    [_msg(m.SUBMIT, m.BUY, 10, 9_600, 603, START + 3, 100 * MS)],
]


@pytest.mark.parametrize(
    "latency_ns, seen_ask, fills",
    [
        (0, 10_200, 100),  # sees the deletion: buys 100 at 10200
        (300 * MS, 10_200, 100),  # sees the book at 36001.7 s: the deletion too
        (800 * MS, ASK, 0),  # sees the book at 36001.2 s: a buy at 10100 that rests, unfilled
    ],
)
def test_the_agent_prices_its_orders_from_the_book_it_sees(
    execution_latency, make_synthetic, at, latency_ns, seen_ask, fills
):
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, DATA_STEPS)
    out = execution_latency.run(
        [data, data], actions=_far([0, 100, 0]), resync=False, env_fields=_lat(0, latency_ns)
    )
    steps = [_first(out, at, t) for t in range(3)]
    assert int(steps[0]["state"].latency.seen_ask) == seen_ask
    assert int(steps[0]["state"].last_ask) == 10_200  # the market's own ask
    assert int(steps[1]["info"][METRICS].fills[0]) == fills
    if not fills:
        assert int(steps[1]["top"][2]) == ASK  # the agent's stale-priced bid rests at 10100
    # step 2 ends at 36003.1 s: a cutoff 300 or 800 ms before lies before its start (36003 s),
    # so the view carried from step 1 is used, older than asked, and counted
    stale = [int(s["info"]["latency_stale"]) for s in steps]
    assert stale == [0, 0, int(latency_ns > 100 * MS)]


@pytest.mark.parametrize("resync", [False, True])
def test_invariants_with_latency_on_goog_windows(execution_latency, goog_days, resync):
    """1 ms each way on real windows: no crossed book, every share the engine traded is the
    agent's or the other traders', the merged stream is in time order, and the same inputs give
    the same run."""
    actions = _random_actions(6, high=400.0)
    fields = _lat(1 * MS, 1 * MS)
    out = execution_latency.run(goog_days, actions, resync=resync, env_fields=fields, quantity=2000)
    top, info = out[2]["top"], out[2]["info"]
    has_both = (top[..., 1] > 0) & (top[..., 3] > 0)
    assert np.all(np.where(has_both, top[..., 0] > top[..., 2], True))
    np.testing.assert_array_equal(info["agent_volume"] + info["other_volume"], info["total_volume"])
    assert np.sum(info["agent_volume"]) > 0
    msgs = out[2]["msgs"]
    clock = msgs[..., m.TIME_S].astype(np.int64) * 10**9 + msgs[..., m.TIME_NS]
    clock = np.where(msgs[..., m.TYPE] != m.NOOP, clock, -1)
    running = np.maximum.accumulate(clock, axis=-1)  # padding (-1) never lowers it
    before = np.concatenate([np.full_like(running[..., :1], -1), running[..., :-1]], axis=-1)
    real = msgs[..., m.TYPE] != m.NOOP
    assert np.all(np.where(real, clock >= before, True))
    again = execution_latency.run(
        goog_days, actions, resync=resync, env_fields=fields, quantity=2000
    )
    for x, y in zip(jax.tree.leaves(out), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(x, y)


def test_latency_options_are_checked(goog_days):
    env, params = make("lobster_execution", data=goog_days[0], order_latency_ns=2_000)
    assert env.config.latency and int(params.order_latency_ns) == 2_000
    env, _ = make("lobster_execution", data=goog_days[0])
    assert not env.config.latency
    with pytest.raises(ValueError, match="^data_latency_ns: must be in 0..1000000000"):
        make("lobster_execution", data=goog_days[0], data_latency_ns=-1)
    with pytest.raises(ValueError, match="^order_latency_ns: needs latency=True"):
        make("lobster_execution", data=goog_days[0], latency=False, order_latency_ns=5)
    with pytest.raises(ValueError, match="^order_latency_jitter_ns: order_latency_ns \\+ order_"):
        make(
            "lobster_execution",
            data=goog_days[0],
            order_latency_ns=6e8,
            order_latency_jitter_ns=6e8,
        )
    with pytest.raises(ValueError, match="^latency: must be true or false"):
        make("lobster_execution", data=goog_days[0], latency="sometimes")


def test_a_halt_drops_the_batch_in_flight(execution_latency, make_synthetic, at):
    """A bid of 100 at the near touch, arriving (10 us) after step 0's only message (5 us), is
    in flight when step 1 holds a halt: it is dropped (never reaches the book) and counted, and
    nothing of the agent's rests through the halt."""
    synthetic, _ = make_synthetic
    steps = [
        [_msg(m.SUBMIT, m.BUY, 10, 9_800, 601, START, 5 * US)],
        [_msg(m.HALT, 0, 0, m.HALT_CODE_HALT, 0, START + 1)],
        [_msg(m.HALT, 0, 0, m.HALT_CODE_RESUME_TRADING, 0, START + 2)],
    ]
    data = synthetic(LEVELS, steps)
    actions = np.zeros((8, 4), np.float32)
    actions[:3, 2] = 100  # the near touch: the best bid, passive
    out = execution_latency.run(
        [data, data], actions=actions, resync=False, env_fields=_lat(10 * US)
    )
    steps_out = [_first(out, at, t) for t in range(2)]
    assert [int(s["info"]["latency_in_flight"]) for s in steps_out] == [1, 0]
    assert [int(s["info"]["latency_dropped"]) for s in steps_out] == [0, 1]
    assert [int(s["state"].rest.sum()) for s in steps_out] == [0, 0]
    assert int(steps_out[1]["top"][2]) == BID and int(steps_out[1]["top"][3]) == 300


def test_a_random_order_latency_decides_each_episode(execution_latency, make_synthetic):
    """Jitter: each batch's latency is drawn from 0..10 us. In `ORDER_STEPS` (the ask deleted 5 us
    after the decision) every one of the 8 episodes (all windows hold the stream) fills the buy of
    step 0 exactly when its drawn latency is at most 5 us, and the draws lie in 0..10 us and differ."""
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, ORDER_STEPS)
    messages = np.repeat(np.asarray(data.messages)[:1], data.messages.shape[0], axis=0)
    data = data.replace(messages=messages, num_steps=np.full_like(data.num_steps, 3))
    fields = {"order_latency_jitter_ns": 10 * US}
    out = execution_latency.run(
        [data, data], actions=_far([100, 100]), resync=False, env_fields=fields
    )
    drawn = out[2]["info"]["latency_order_ns"][..., 0]
    filled = out[2]["info"][METRICS].fills[..., 0, 0]
    assert np.all((drawn >= 0) & (drawn <= 10 * US)) and len(np.unique(drawn)) == drawn.size
    np.testing.assert_array_equal(filled == 100, drawn <= 5 * US)
    assert np.any(filled == 100) and np.any(filled == 0)  # both outcomes with these keys


# The agent bids 100 at the near touch (10000) in step 0, ahead of a data bid (id 602) there; a
# data bid at 10050 then becomes the best, so step 1's decision moves the agent's bid to 10050
# (cancel and replace). 5 us into step 1 an execution of 30 names id 602 at 10000.
REPLACE_STEPS = [
    [
        _msg(m.SUBMIT, m.BUY, 20, BID, 602, START, 500 * MS),
        _msg(m.SUBMIT, m.BUY, 50, 10_050, 601, START + 1),
    ],
    [
        _msg(m.EXECUTE, m.BUY, 30, BID, 602, START + 1, 5 * US),
        _msg(m.SUBMIT, m.BUY, 10, 9_700, 603, START + 2),
    ],
    [_msg(m.SUBMIT, m.BUY, 10, 9_600, 604, START + 3)],
]


@pytest.mark.parametrize(
    "latency_ns, fills, cut, rest",
    [
        # the replacement arrives first: the execution (a sell at 10000) meets the agent's new,
        # better bid at 10050 first, 30 of its 100
        (0, 30, 0, 70),
        # the execution arrives first: the old bid (ahead of 602) fills 30 of it; the replacement
        # then rests 100 - 30 = 70 (the cancel-replace rule), so the agent never works 130
        (10 * US, 30, 30, 70),
    ],
)
def test_a_replacement_never_overfills(
    execution_latency, make_synthetic, at, latency_ns, fills, cut, rest
):
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, REPLACE_STEPS)
    actions = np.zeros((8, 4), np.float32)
    actions[:2, 2] = 100  # the near touch
    out = execution_latency.run(
        [data, data], actions=actions, resync=False, env_fields=_lat(latency_ns)
    )
    step = _first(out, at, 1)
    assert int(step["info"][METRICS].fills[0]) == fills
    assert int(step["info"]["latency_replace_cut"]) == cut
    assert int(step["state"].rest.sum()) == rest
    assert int(step["top"][2]) == 10_050 and int(step["top"][3]) == 50 + rest
