"""Property-based test (hypothesis) of re-synchronisation between messages: random agent and data
messages interleaved with random file rows through ``jaxlob.resync.resync_book``; after every step
the book keeps its invariants (priority order, positive quantities, at most ``MAX_SIDE_SHARES`` a
side, never crossed) and every resting order id is unique, so that a cancel by id (which the stream
aims at resting orders, resync-created ones included) reduces exactly one order.

The profiles are those of ``test_property_engine`` (``JAXLOB_HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxlob as jl
from jaxlob import messages as m
from jaxlob.resync import resync_book

# Registered alike in test_property_engine and test_property_resync (whichever loads first).
_PROFILE = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
settings.register_profile("engine-ci", max_examples=150, derandomize=True, **_PROFILE)
settings.register_profile("engine-deep", max_examples=2000, **_PROFILE)
PROFILE = settings.get_profile(os.environ.get("JAXLOB_HYPOTHESIS_PROFILE", "engine-ci"))

CAPACITY, LEVELS, MAX_FILLS, NUM_TRADERS, LENGTH = 6, 3, 2, 2, 16
LIMIT = jl.MAX_SIDE_SHARES
BASE = 1000  # asks at BASE + 1..6 (file) or anywhere near; bids at BASE - 1..-6
SIZES = (1, 5, 20, LIMIT // 2, LIMIT)
AGENT = 1

_apply = jax.jit(jl.apply_message)
_resync = jax.jit(resync_book)


def _row(asks, bids) -> np.ndarray:
    """A LEVELS-level file row from distinct price codes and size codes (missing levels empty)."""
    row = []
    for k in range(LEVELS):
        ask = (
            (BASE + 1 + asks[k][0], SIZES[asks[k][1]]) if k < len(asks) else (jl.DUMMY_ASK_PRICE, 0)
        )
        bid = (
            (BASE - 1 - bids[k][0], SIZES[bids[k][1]]) if k < len(bids) else (jl.DUMMY_BID_PRICE, 0)
        )
        row += [*ask, *bid]
    return np.asarray(row, np.int32)


def _side(n):
    """Up to ``n`` file levels: distinct price codes, sorted best first."""
    return st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, len(SIZES) - 1)),
        max_size=n,
        unique_by=lambda level: level[0],
    ).map(sorted)


ops = st.one_of(
    # a message: (type, buy, size code, price offset -3..3 from BASE, trader, target)
    st.tuples(
        st.just("msg"),
        st.sampled_from((m.SUBMIT, m.CANCEL_ID, m.MARKET, m.DELETE)),
        st.booleans(),
        st.integers(0, len(SIZES) - 1),
        st.integers(-3, 3),
        st.integers(0, 1),
        st.integers(0, 2 * CAPACITY),
    ),
    st.tuples(st.just("resync"), _side(LEVELS), _side(LEVELS)),
)


def _message(op, book, next_id) -> np.ndarray:
    _, typ, buy, size, offset, trader, target = op
    direction = m.BUY if buy else m.SELL
    resting = [
        (side, oid, p, q)
        for side in ("bids", "asks")
        for oid, p, q in zip(
            *(jl.book_orders(book)[side][k].tolist() for k in ("order_id", "price", "quantity"))
        )
    ]
    if typ in (m.CANCEL_ID, m.DELETE) and resting:
        side, oid, price, quantity = resting[target % len(resting)]
        direction = m.BUY if side == "bids" else m.SELL
        return np.asarray([typ, direction, quantity, price, oid, 0, 0, 0], np.int32)
    oid = (-900_000_000 if trader == AGENT else 0) + next_id
    return np.asarray([typ, direction, SIZES[size], BASE + offset, oid, trader, 0, 0], np.int32)


def _check(book, where) -> None:
    orders = jl.book_orders(book)
    ids = []
    for side, sign in (("bids", -1), ("asks", 1)):
        o = orders[side]
        key = list(zip((sign * o["price"].astype(np.int64)).tolist(), o["arrival"].tolist()))
        assert key == sorted(key), f"{where}: {side} unsorted"
        assert (o["quantity"] > 0).all(), f"{where}: {side} quantities {o['quantity']}"
        assert int(o["quantity"].astype(np.int64).sum()) <= LIMIT, f"{where}: {side} over the limit"
        ids += o["order_id"].tolist()
    assert len(set(ids)) == len(ids), f"{where}: repeated ids {sorted(ids)}"
    if orders["bids"]["price"].size and orders["asks"]["price"].size:
        assert orders["bids"]["price"][0] < orders["asks"]["price"][0], f"{where}: crossed"


@settings(PROFILE)
@given(st.lists(ops, max_size=LENGTH))
def test_resync_keeps_ids_unique_and_the_book_sound(steps):
    book = jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    for i, op in enumerate(steps):
        if op[0] == "msg":
            msg = _message(op, jax.device_get(book), next_id=i + 1)
            book, _ = _apply(book, msg)
            where = f"step {i}: message {msg.tolist()}"
        else:
            row = _row(op[1], op[2])
            book, _ = _resync(book, row)
            where = f"step {i}: resync {row.tolist()}"
        _check(jax.device_get(book), where)
