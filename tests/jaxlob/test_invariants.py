"""Invariants after every message of random streams: never crossed, sorted, shares conserved,
trades at the resting order's price within the aggressor's limit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import random_messages as rm
from jaxlob import reference as ref

CAPACITY, MAX_FILLS, NUM_TRADERS, LEVELS, NUM_MESSAGES = 8, 3, 2, 4, 300
MIX = {**rm.STRESS_MIX, "passive": 0.5}
SNAPSHOT_ROW = np.array(
    [10001, 50, 9999, 40, 10003, 30, 9998, 20, 10004, 10, 9990, 5, 10006, 7, 9988, 9]
)


def _stream(seed):
    if seed % 2:
        args = (SNAPSHOT_ROW, CAPACITY, 4, MAX_FILLS, NUM_TRADERS)
        book, ref_book = jl.book_from_snapshot(*args), ref.book_from_snapshot(*args)
    else:
        book = jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
        ref_book = ref.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    msgs = rm.random_stream(
        np.random.default_rng(seed), NUM_MESSAGES, ref_book, mix=MIX, max_size=30
    )
    return book, msgs


def _resting(book) -> int:
    orders = jl.book_orders(book)
    return int(orders["bids"]["quantity"].sum() + orders["asks"]["quantity"].sum())


def _accepted_submit(msg) -> bool:
    typ, direction, size, price, oid = (int(v) for v in msg[:5])
    return (
        typ == m.SUBMIT
        and direction in (m.BUY, m.SELL)
        and size > 0
        and 0 < price < jl.DUMMY_ASK_PRICE
        and oid > jl.SNAPSHOT_ID_BASE
    )


@pytest.mark.parametrize("seed", range(200, 204))
def test_invariants_after_every_message(replay, seed):
    book0, msgs = _stream(seed)
    _, (books, fills, _) = jax.device_get(replay(book0, jnp.asarray(msgs), LEVELS))
    previous = jax.device_get(book0)
    added = _resting(previous)  # shares that entered the book: snapshot, then accepted submits
    aggressor_volume = 0  # submits' own shares that traded on arrival
    resting_volume = 0  # shares taken from resting orders
    for i, msg in enumerate(msgs):
        book = jax.tree.map(lambda x, i=i: x[i], books)
        f = jax.tree.map(lambda x, i=i: x[i], fills)
        orders = jl.book_orders(book)

        # Never crossed.
        bid, ask = (int(x) for x in jl.best_bid_ask(book))
        if orders["bids"]["price"].size and orders["asks"]["price"].size:
            assert bid < ask, f"message {i}: crossed book {bid} >= {ask}"

        # Each side in price-time priority, positive quantities, free slots cleared.
        for side, sign in (("bids", -1), ("asks", 1)):
            o = orders[side]
            key = list(zip((sign * o["price"]).tolist(), o["arrival"].tolist(), strict=True))
            assert key == sorted(key) and len(set(key)) == len(key), f"message {i}: {side} unsorted"
            assert (o["quantity"] > 0).all()
            raw = getattr(book, side)
            assert int((raw.quantity > 0).sum()) == int(raw.count) <= CAPACITY

        # Trades at the resting order's price, within the aggressor's limit.
        before = {
            int(oid): (int(p), int(q))
            for side in ("bids", "asks")
            for oid, p, q in zip(
                *(jl.book_orders(previous)[side][k] for k in ("order_id", "price", "quantity")),
                strict=True,
            )
        }
        typ, direction, size, price = (int(v) for v in msg[:4])
        for p, q, oid in zip(
            f.price.tolist(), f.quantity.tolist(), f.order_id.tolist(), strict=True
        ):
            if q == 0:
                continue
            assert oid in before and before[oid][0] == p and before[oid][1] >= q
            if typ == m.SUBMIT or (typ == m.MARKET and price > 0):
                assert (p <= price) if direction == m.BUY else (p >= price)

        # Shares conserved: added = resting + traded + cancelled + evicted + refused.
        volume = int(f.totals.volume)
        if _accepted_submit(msg) and int(book.counters.duplicate_ids) == int(
            previous.counters.duplicate_ids
        ):
            added += size
            aggressor_volume += volume
        resting_volume += volume
        c = book.counters
        leaving = (
            aggressor_volume
            + resting_volume
            + int(c.cancelled_shares)
            + int(c.evicted_shares)
            + int(c.over_limit_shares)
        )
        assert added == _resting(book) + leaving, f"message {i}: shares not conserved"
        previous = book
