"""`envs.replay.queue.queue_fill` against a plain-Python reference of its documented rule, on random
books (snapshot aggregates, data orders, several agent orders per side, a ring moved off slot 0) and
random visible and hidden executions naming resting ids, unknown ids and aggregates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.replay.market import AGENT
from envs.replay.queue import queue_fill
from jaxlob import messages as m
from jaxlob.engine import apply_messages
from jaxlob.state import SNAPSHOT_ID_BASE, book_from_snapshot

CAPACITY = 16
PRICES = (10_000, 10_100, 10_200)  # bids at 10000 - ..., asks at 10100 + ...


def _msg(typ, direction, size, price, oid, trader=0):
    row = np.zeros(m.NUM_FIELDS, np.int32)
    row[[m.TYPE, m.DIRECTION, m.SIZE, m.PRICE, m.ORDER_ID, m.TRADER_ID]] = (
        typ,
        direction,
        size,
        price,
        oid,
        trader,
    )
    row[m.TIME_S] = 1
    return row


def _orders(side):
    """A side's orders in priority order: (price, quantity, order_id, trader_id) tuples."""
    n = side.price.shape[-1]
    head, count = int(side.head), int(side.count)
    slots = [(head + j) % n for j in range(count)]
    return [
        (int(side.price[s]), int(side.quantity[s]), int(side.order_id[s]), int(side.trader_id[s]))
        for s in slots
    ]


def _reference(orders, msg):
    """(orders after the fill, agent shares filled, the size left for the engine)."""
    typ, size, price, oid = (int(msg[k]) for k in (m.TYPE, m.SIZE, m.PRICE, m.ORDER_ID))
    on_bids = int(msg[m.DIRECTION]) == m.BUY
    better = [(p >= price) if on_bids else (p <= price) for p, _, _, _ in orders]
    by_id = [i for i, o in enumerate(orders) if o[0] == price and o[2] == oid]
    agg = [i for i, o in enumerate(orders) if o[0] == price and o[2] <= SNAPSHOT_ID_BASE]
    named = sum(better) if typ == m.HIDDEN else (by_id or agg or [sum(better)])[0]
    left, out, filled = size, [], 0
    for i, (p, q, o, t) in enumerate(orders):
        take = min(left, q) if (t == AGENT and i < named) else 0
        left, filled = left - take, filled + take
        if q - take > 0:
            out.append((p, q - take, o, t))
    return out, filled, size - filled


def _random_case(rng):
    row = np.array([10_100, 200, 10_000, 300, 10_200, 100, 9_900, 100], np.int32)
    msgs, oid = [], 1_000
    for _ in range(int(rng.integers(4, 12))):
        direction = m.BUY if rng.random() < 0.5 else m.SELL
        sign = -1 if direction == m.BUY else 1
        base = 10_000 if direction == m.BUY else 10_100
        price = base + sign * 100 * int(rng.integers(0, 3))
        trader = AGENT if rng.random() < 0.4 else 0
        msgs.append(_msg(m.SUBMIT, direction, int(rng.integers(1, 60)), price, oid, trader))
        oid += 1
    if rng.random() < 0.5:  # move the ring: delete part of the best bid aggregate's level
        msgs.append(_msg(m.EXECUTE, m.BUY, 300, 10_000, 0))
    direction = m.BUY if rng.random() < 0.5 else m.SELL
    sign = -1 if direction == m.BUY else 1
    base = 10_000 if direction == m.BUY else 10_100
    price = base + sign * 100 * int(rng.integers(0, 3))
    typ = m.HIDDEN if rng.random() < 0.3 else m.EXECUTE
    named = int(rng.integers(1_000, oid + 2)) if rng.random() < 0.7 else 0
    execution = _msg(typ, direction, int(rng.integers(1, 200)), price, named)
    return row, np.stack(msgs), execution


def test_queue_fill_matches_the_reference_on_random_books():
    build = jax.jit(lambda row, msgs: apply_messages(book_from_snapshot(row, CAPACITY, 2), msgs)[0])
    fill = jax.jit(lambda book, msg: queue_fill(book, msg, jnp.asarray(True)))
    rng = np.random.default_rng(11)
    agent_fills = 0
    for _ in range(60):
        row, msgs, execution = _random_case(rng)
        padded = np.zeros((14, m.NUM_FIELDS), np.int32)
        padded[: len(msgs)] = msgs
        book = build(jnp.asarray(row), jnp.asarray(padded))
        on_bids = int(execution[m.DIRECTION]) == m.BUY
        before = _orders(book.bids if on_bids else book.asks)
        other = _orders(book.asks if on_bids else book.bids)
        want, want_filled, want_rest = _reference(before, execution)
        out, data_msg, _, filled, _ = fill(book, jnp.asarray(execution))
        assert int(filled) == want_filled
        assert _orders(out.bids if on_bids else out.asks) == want
        assert _orders(out.asks if on_bids else out.bids) == other
        expected_size = want_rest if want_rest > 0 or want_filled == 0 else 0
        assert int(data_msg[m.SIZE]) == expected_size
        for side in (out.bids, out.asks):  # free slots hold zeros
            live = np.zeros(CAPACITY, bool)
            live[[(int(side.head) + j) % CAPACITY for j in range(int(side.count))]] = True
            assert not np.any(np.asarray(side.quantity)[~live])
            assert not np.any(np.asarray(side.order_id)[~live])
        agent_fills += want_filled > 0
    assert agent_fills >= 10  # the cases exercise the agent's fills
