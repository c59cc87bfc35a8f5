"""Queue-true fills, hidden executions, halts, self-trade prevention, reserved ids and the price of
unfilled shares, on hand-built LOBSTER streams of a few rows (every expected number worked out by
hand in the comments), through the suite's compiled execution harness."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.metrics import METRICS
from envs.replay.environment import make_params
from envs.replay.orders import AGENT_ID_BASE, Slots, Targets
from envs.replay.orders import order_messages as _order_messages
from jaxlob import messages as m
from jaxlob.engine import apply_messages as _apply_messages
from jaxlob.state import book_from_snapshot

ASK, BID = 10_100, 10_000
LEVELS = [ASK, 100, BID, 300, 10_200, 100, 9_900, 100]  # the bid at 10000 is one aggregate of 300
NEAR = 2  # the four-price action's near-touch slot (the best bid for a buy)
apply_messages = jax.jit(_apply_messages)
order_messages = jax.jit(_order_messages)


def _first(out, at, t=None):
    return at(out[2], 0, 0, t)


def _near(sizes):
    """Four-price actions: ``sizes[t]`` shares at the near touch in step t, nothing else."""
    actions = np.zeros((8, 4), np.float32)
    actions[: len(sizes), NEAR] = sizes
    return actions


def _bid_level(step):
    """(price, size) of the best bid after a step."""
    return int(step["top"][2]), int(step["top"][3])


@pytest.mark.parametrize("resync", [False, True])
def test_execution_fills_the_agent_ahead_and_not_behind(execution, make_synthetic, at, resync):
    """The agent's 100 at 10000 rest behind the 300 of the snapshot and ahead of Y (50, submitted
    after it). An execution naming an order of the snapshot (unknown id 777: the aggregate, ahead)
    does not reach the agent; executions naming Y do, the agent first: 30 of 30, then 70 of 80
    with the remaining 10 taken from Y (the split)."""
    synthetic, msg = make_synthetic
    steps = [
        [msg(m.SUBMIT, m.BUY, 50, BID, 500)],  # Y joins behind the agent
        [msg(m.EXECUTE, m.BUY, 100, BID, 777), msg(m.EXECUTE, m.BUY, 30, BID, 500)],
        [msg(m.EXECUTE, m.BUY, 80, BID, 500)],
    ]
    # The file (no agent): 350 at 10000, then 350 - 130 = 220, then 220 - 80 = 140.
    rows = [[ASK, 100, BID, size, 10_200, 100, 9_900, 100] for size in (350, 220, 140)]
    data = synthetic(LEVELS, steps, rows)
    out = execution.run([data, data], actions=_near([100, 100, 70]), resync=resync, quantity=100)
    filled = [int(_first(out, at, t)["info"][METRICS].fills[0]) for t in range(3)]
    assert filled == [0, 30, 70]
    queued = [int(_first(out, at, t)["info"]["queue_fills"]) for t in range(3)]
    assert queued == filled
    # The book: 300 - 100 of the aggregate, and Y with 50 - 10; the agent's order is used up. The
    # re-synchronisation keeps it so: Y's 40 shares the agent's fills left are the agent's impact.
    assert _bid_level(_first(out, at, 1)) == (BID, 200 + 50 + 70)
    assert _bid_level(_first(out, at, 2)) == (BID, 200 + 40)
    step = _first(out, at, 2)
    assert int(step["state"].bought) == 100 and bool(step["done"])
    # Shares conserved: every share the data executed went to the agent or to a data order.
    total = sum(int(_first(out, at, t)["info"]["total_volume"]) for t in range(3))
    assert total == 100 + 30 + 80


def test_hidden_execution_follows_displayed_priority(execution, make_synthetic, at):
    """Hidden executions (type 5): the agent's displayed bid at 10000 fills first when the hidden
    order was at its price or worse (the aggressor met the agent's bid on its way); one inside the
    spread at 10050, better than the agent's bid, does not reach it. The remainder is off-book."""
    synthetic, msg = make_synthetic
    steps = [
        [],
        [msg(m.HIDDEN, m.BUY, 40, 10_050, 0)],  # better than the agent's bid: not the agent's
        [msg(m.HIDDEN, m.BUY, 50, BID, 0)],  # at its price: the agent's 50 of its 100
        [msg(m.HIDDEN, m.BUY, 80, 9_900, 0)],  # below it: the agent's last 50, 30 off-book
    ]
    data = synthetic(LEVELS, steps)
    out = execution.run([data, data], actions=_near([100, 100, 100, 50]), quantity=100)
    filled = [int(_first(out, at, t)["info"][METRICS].fills[0]) for t in range(4)]
    assert filled == [0, 0, 50, 50]
    other = [int(_first(out, at, t)["info"]["other_volume"]) for t in range(4)]
    assert other == [0, 40, 0, 30]
    # the data's aggregate at 10000 was never touched: 300 displayed shares remain
    assert _bid_level(_first(out, at, 3)) == (BID, 300)


def test_nothing_trades_during_a_halt(execution, make_synthetic, at):
    """A step that holds a halt (or starts halted) withdraws the agent's orders and sends none; the
    agent trades again from the first step that starts with trading resumed and holds no halt."""
    synthetic, msg = make_synthetic
    hidden = msg(m.HIDDEN, m.BUY, 30, BID, 0)  # would fill the agent's bid (displayed priority)
    steps = [
        [],
        [msg(m.HALT, 0, 0, m.HALT_CODE_HALT, 0), hidden],
        [hidden],
        [msg(m.HALT, 0, 0, m.HALT_CODE_RESUME_TRADING, 0)],
        [hidden],
    ]
    data = synthetic(LEVELS, steps)
    out = execution.run([data, data], actions=_near([50] * 5), quantity=100)
    filled = [int(_first(out, at, t)["info"][METRICS].fills[0]) for t in range(5)]
    assert filled == [0, 0, 0, 0, 30]
    # trading resumed before the deadline: the market order buys the 70 left
    assert int(_first(out, at, 4)["info"]["liquidated"]) == 70
    rest = [int(_first(out, at, t)["state"].rest.sum()) for t in range(5)]
    assert rest == [50, 0, 0, 0, 20]


def test_halted_deadline_charges_every_share(execution, make_synthetic, at):
    """Halted at the deadline: no market order, all 250 shares unfilled, charged at the highest ask
    the book or the file shows (10200) plus 5 ticks (unfilled_ticks), in the reward and the info."""
    synthetic, msg = make_synthetic
    data = synthetic(LEVELS, [[msg(m.HALT, 0, 0, m.HALT_CODE_HALT, 0)]])
    out = execution.run([data, data], quantity=250)
    step = _first(out, at, 0)
    assert bool(step["done"]) and int(step["info"]["liquidated"]) == 0
    charged = 10_200 + 5 * 100
    arrival = (ASK + BID) / 2
    assert int(step["info"]["unfilled"]) == 250
    assert float(step["info"]["unfilled_price"]) == pytest.approx(charged / 1e4)
    cost = 250 * (charged - arrival) / 1e4
    assert float(step["info"]["unfilled_cost"]) == pytest.approx(cost, rel=1e-5)
    # no trades: the VWAP is the arrival price, so the charge is the whole reward (a buy: s = -1)
    assert float(step["reward"]) == pytest.approx(-cost, rel=1e-5)
    assert float(step["info"]["unfilled_charge"]) == pytest.approx(-cost, rel=1e-5)


def test_unfilled_shares_cost_more_than_any_fill(execution, make_synthetic, at):
    """The deadline order buys the 200 shares the book holds (100 @ 10100, 100 @ 10200); the other
    300 are charged at 10200 + 5 ticks, above every price paid, so doing nothing costs more than
    the same shares bought."""
    synthetic, _ = make_synthetic
    data = synthetic(LEVELS, [[]])
    out = execution.run([data, data], quantity=500)
    step = _first(out, at, 0)
    assert int(step["info"]["liquidated"]) == 200 and int(step["info"]["unfilled"]) == 300
    arrival = (ASK + BID) / 2
    charged = 10_700
    paid = 100 * ASK + 100 * 10_200
    reward = -(paid - 200 * arrival) / 1e4 - 300 * (charged - arrival) / 1e4
    assert float(step["reward"]) == pytest.approx(reward, rel=1e-5)
    assert charged > 10_200
    bps = ((paid + 300 * charged) / 500 - arrival) / arrival * 1e4
    assert float(step["info"]["shortfall_charged_bps"]) == pytest.approx(bps, rel=1e-4)


def test_data_ids_never_reach_agent_orders(execution, make_synthetic, at):
    """A data deletion naming the agent's id (its first near-touch order: AGENT_ID_BASE + 2) is
    refused and counted; the agent's order stays."""
    synthetic, msg = make_synthetic
    steps = [[], [msg(m.DELETE, m.BUY, 100, BID, AGENT_ID_BASE + NEAR)], []]
    data = synthetic(LEVELS, steps)
    out = execution.run([data, data], actions=_near([100, 100, 100]), quantity=100)
    step = _first(out, at, 1)
    assert int(step["info"]["data_id_refused"]) == 1
    assert int(step["state"].rest[NEAR]) == 100
    assert int(step["state"].slots.order_id[NEAR]) == AGENT_ID_BASE + NEAR


def test_make_params_refuses_data_ids_in_the_agent_range(execution, make_synthetic):
    synthetic, msg = make_synthetic
    data = synthetic(LEVELS, [[msg(m.CANCEL, m.BUY, 10, BID, AGENT_ID_BASE + 5)]])
    env = execution.env
    with pytest.raises(ValueError, match=r"window 0, step 0, message 0.*agent"):
        make_params(env.config, data, execution.params.task)


def test_self_trade_prevention_cancels_the_resting_order():
    """A new buy at 10000 meets the agent's own resting sell at 10000: the sell is cancelled first
    (cancel resting). Of two new orders that would cross, the earlier slot's is not sent."""
    book = book_from_snapshot(np.array(LEVELS + [0, 0, 0, 0] * 8), 16, 10, 1, 2)
    resting = Slots(
        order_id=jnp.asarray([0, AGENT_ID_BASE + 1], jnp.int32),
        direction=jnp.asarray([1, -1], jnp.int32),
        price=jnp.asarray([0, BID + 50], jnp.int32),
    )
    place, _, _, _ = order_messages(
        Slots(*(jnp.zeros(2, jnp.int32),) * 3),
        jnp.zeros(2, jnp.int32),
        Targets(
            direction=jnp.asarray([1, -1], jnp.int32),
            price=jnp.asarray([0, BID + 50], jnp.int32),
            quantity=jnp.asarray([0, 40], jnp.int32),
        ),
        jnp.zeros((), jnp.int32),
        jnp.asarray(True),
        0,
        0,
    )
    book, _ = apply_messages(book, place)  # the agent's sell of 40 rests at 10050
    targets = Targets(
        direction=jnp.asarray([1, -1], jnp.int32),
        price=jnp.asarray([BID + 50, BID + 50], jnp.int32),
        quantity=jnp.asarray([30, 40], jnp.int32),
    )
    msgs, _, _, prevented = order_messages(
        resting, jnp.asarray([0, 40]), targets, jnp.asarray(2), jnp.asarray(True), 0, 0
    )
    assert int(prevented) == 1
    book, record = apply_messages(book, msgs)
    assert int(record.totals.volume) == 0  # the agent never trades with itself
    assert int(record.totals.bought_volume[1] + record.totals.sold_volume[1]) == 0
    # two new orders crossing each other: the earlier slot (the buy) is not sent
    msgs, _, _, prevented = order_messages(
        Slots(*(jnp.zeros(2, jnp.int32),) * 3),
        jnp.zeros(2, jnp.int32),
        targets,
        jnp.asarray(4),
        jnp.asarray(True),
        0,
        0,
    )
    sent = np.asarray(msgs)
    assert int(prevented) == 1
    assert [int(d) for d in sent[sent[:, m.TYPE] == m.SUBMIT][:, m.DIRECTION]] == [m.SELL]
