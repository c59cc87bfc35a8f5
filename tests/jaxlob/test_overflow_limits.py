"""The engine at the limits of int32: sides near ``MAX_SIDE_SHARES``, sizes near 2**31, prices near
the dummy prices, counters past 2**31, batch totals that saturate. Nothing wraps: each case is
exact or refused and counted, and the reference book agrees. One compiled function (4 slots per
side, 8 messages) serves every case."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref
from jaxlob.resync import resync_book
from jaxlob.wide import Wide, saturating_cumsum, wide_sum, wide_zero

CAPACITY, MAX_FILLS, NUM_TRADERS, PAD_TO = 4, 2, 2, 8
B, S = m.BUY, m.SELL
LIMIT, INT32_MAX = jl.MAX_SIDE_SHARES, jl.INT32_MAX
TOP = jl.DUMMY_ASK_PRICE - 1  # the highest price an order may have


@jax.jit
def _run(book, msgs):
    return jl.apply_messages(book, msgs, keep_fills=True)


def run(msgs, book=None, ref_book=None):
    """Apply the messages (padded with NOOPs) to both books; check orders, counters and batch
    totals agree; return the engine's book and record, and the reference book."""
    book = book if book is not None else jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    ref_book = (
        ref_book if ref_book is not None else ref.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    )
    rows = np.zeros((PAD_TO, m.NUM_FIELDS), np.int64)
    for i, msg in enumerate(msgs):
        rows[i, : len(msg)] = msg
    book, record = jax.device_get(_run(book, jnp.asarray(rows, jnp.int32)))
    ref_book, ref_record = ref.apply_messages(ref_book, rows)
    for side in ("bids", "asks"):
        for name, values in ref.book_orders(ref_book)[side].items():
            np.testing.assert_array_equal(jl.book_orders(book)[side][name], values)
    for name, value in ref_book.counters.items():
        assert int(getattr(book.counters, name)) == value, name
    for name in ("volume", "off_book_volume", "rested", "saturated"):
        assert int(getattr(record.totals, name)) == getattr(ref_record.totals, name), name
    return book, record, ref_book


def sub(direction, size, price, oid, trader=0):
    return (m.SUBMIT, direction, size, price, oid, trader)


def _quantities(book, side):
    return jl.book_orders(book)[side]["quantity"].tolist()


def test_a_side_never_holds_more_than_the_share_limit():
    """The issue's case: with 2.8e9 shares on the asks, a buy of 1 share traded 600,000,001 shares
    (a wrapped prefix sum) and left a zero-size order. The orders that would take the side past
    MAX_SIDE_SHARES are now refused and counted, and the buy trades its one share."""
    book, rec, _ = run(
        [
            sub(S, 600_000_000, 102, 1),
            sub(S, 600_000_000, 101, 2),  # 1.2e9 > MAX_SIDE_SHARES: refused
            sub(S, LIMIT, 101, 3),  # refused
            sub(S, 500_000_000, 100, 4),  # refused
            sub(B, 1, 102, 5),
        ]
    )
    assert rec.fills.quantity[4].tolist() == [1, 0] and rec.fills.price[4].tolist() == [102, 0]
    assert int(rec.fills.totals.volume[4]) == 1
    assert jl.book_orders(book)["asks"]["price"].tolist() == [102]
    assert _quantities(book, "asks") == [599_999_999]
    assert int(book.counters.over_limit_orders) == 3
    assert int(book.counters.over_limit_shares) == 1_100_000_000 + LIMIT
    assert int(rec.totals.rested) == 600_000_000


def test_the_limit_is_inclusive_and_a_sweep_of_a_full_side_is_exact():
    book, rec, _ = run(
        [
            sub(B, LIMIT - 1, 100, 1),
            sub(B, 1, 99, 2),  # exactly at the limit: rests
            sub(B, 1, 98, 3),  # one share beyond: refused
            (m.MARKET, S, INT32_MAX, 0, 4),  # sells everything, drops the rest
        ]
    )
    assert int(book.counters.over_limit_orders) == 1 and int(book.counters.over_limit_shares) == 1
    assert int(rec.fills.totals.volume[3]) == LIMIT
    assert int(book.counters.dropped_shares) == INT32_MAX - LIMIT
    assert _quantities(book, "bids") == [] and _quantities(book, "asks") == []


def test_share_counters_count_past_two_to_the_31():
    """HIDDEN and CROSS volumes of 2**31 - 1 shares each, cancellations of a full side: the
    counters (two int32 words) are exact where int32 wrapped to -2,147,483,639."""
    book, _, ref_book = run(
        [
            (m.HIDDEN, B, INT32_MAX, 100, 0),
            (m.HIDDEN, S, INT32_MAX, 100, 0),
            (m.HIDDEN, B, 9, 100, 0),
            (m.CROSS, B, INT32_MAX, 100, 0),
            (m.CROSS, B, INT32_MAX, 100, 0),
            sub(S, LIMIT, 200, 1),
            (m.CANCEL_ID, 0, 0, 0, 1),
            sub(S, LIMIT, 200, 2),
        ]
    )
    assert int(book.counters.hidden_volume) == 2 * INT32_MAX + 9
    assert int(book.counters.cross_volume) == 2 * INT32_MAX
    book, rec, _ = run(
        [(m.CANCEL_ID, 0, 0, 0, 2), sub(S, LIMIT, 200, 3), (m.DELETE, S, LIMIT, 200, 3)],
        book,
        ref_book,
    )
    assert int(book.counters.cancelled_shares) == 3 * LIMIT
    # the batch totals saturate and say so; the counters stay exact
    assert int(rec.totals.off_book_volume) == 0 and int(rec.totals.saturated) == 0
    _, rec, _ = run([(m.HIDDEN, B, INT32_MAX, 100, 0), (m.CROSS, S, 5, 100, 0)])
    assert int(rec.totals.off_book_volume) == INT32_MAX and int(rec.totals.saturated) == 1


def test_unattributed_volume_of_a_full_side_fits():
    """Both parties outside 0..num_traders-1: twice the volume, up to 2 * MAX_SIDE_SHARES."""
    book, rec, _ = run([sub(S, LIMIT, 100, 1, trader=7), (m.MARKET, B, LIMIT, 0, 2, 9)])
    assert int(rec.fills.totals.unattributed_volume[1]) == 2 * LIMIT
    assert int(book.counters.unattributed_volume) == 2 * LIMIT


def test_prices_at_the_int32_limits():
    book, rec, _ = run(
        [
            sub(S, 5, TOP, 1),
            sub(S, 5, jl.DUMMY_ASK_PRICE, 2),  # the dummy ask price is not a price: invalid
            sub(B, 3, TOP, 3),  # trades at the top price
            sub(B, 4, 1, 4),  # the lowest price
            sub(S, 6, 1, 5),  # sweeps the bid at 1, rests 2 at 1, below the ask at TOP
            (m.MARKET, B, 10, 0, 6),  # no limit: takes 2 at 1, then 2 at TOP
        ]
    )
    assert int(book.counters.invalid_messages) == 1
    assert rec.fills.price[2].tolist() == [TOP, 0] and rec.fills.price[5].tolist() == [1, TOP]
    assert float(rec.fills.totals.notional[2]) == pytest.approx(3.0 * TOP, rel=1e-7)
    assert _quantities(book, "asks") == [] and _quantities(book, "bids") == []
    assert int(book.counters.dropped_shares) == 6
    book, _, _ = run([sub(S, 5, TOP, 1), sub(B, 5, TOP - 1, 2)])
    assert [int(x) for x in jl.best_bid_ask(book)] == [TOP - 1, TOP]
    np.testing.assert_array_equal(
        np.asarray(jl.top_levels(book, 2)),
        [TOP, 5, TOP - 1, 5, jl.DUMMY_ASK_PRICE, 0, jl.DUMMY_BID_PRICE, 0],
    )


def test_snapshot_levels_past_the_share_limit_are_refused():
    row = np.array([101, 600_000_000, 99, LIMIT, 102, 600_000_000, 98, 1, 103, 1, 97, 1])
    args = (row, CAPACITY, 3, MAX_FILLS, NUM_TRADERS)
    msgs = [sub(B, 1, 101, 1), sub(B, 1, 98, 2)]  # the first trades, the second is refused
    book, _, _ = run(msgs, jl.book_from_snapshot(*args), ref.book_from_snapshot(*args))
    # asks: 101 fits, 102 would pass the limit, and 103 is behind it; bids: 99 alone fills it
    assert jl.book_orders(book)["asks"]["price"].tolist() == [101]
    assert _quantities(book, "asks") == [599_999_999]
    assert _quantities(book, "bids") == [LIMIT]
    assert int(book.counters.over_limit_orders) == 5  # 2 asks, 2 bids, and the new bid
    assert int(book.counters.over_limit_shares) == 600_000_000 + 1 + 1 + 1 + 1


def test_a_resync_never_takes_a_side_past_the_limit():
    book = jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    book, _, _ = run([sub(S, 10, 105, 1, trader=1)], book)
    row = jnp.asarray([101, LIMIT - 5, 90, 7, 102, 6, 89, 8], jnp.int32)
    book, stats = jax.jit(resync_book)(book, row)
    asks = jl.book_orders(book)["asks"]
    assert asks["price"].tolist() == [101] and asks["quantity"].tolist() == [LIMIT - 5]
    # refused: the level at 102 (6 shares) and the agent's 10 at 105, from the worst end
    assert int(stats.over_limit_orders) == 2 and int(stats.over_limit_shares) == 16
    assert int(stats.dropped_kept) == 10
    assert int(book.counters.over_limit_orders) == 2 and int(book.counters.over_limit_shares) == 16
    # and the engine still matches exactly against that side
    sweep = np.zeros((PAD_TO, m.NUM_FIELDS), np.int32)
    sweep[0, :5] = (m.MARKET, B, INT32_MAX, 0, 9)
    book, rec = jax.device_get(_run(book, jnp.asarray(sweep)))
    assert int(rec.totals.volume) == LIMIT - 5


def test_wide_counts_and_saturating_sums_are_exact():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**31, 200)
    values[:5] = INT32_MAX

    @jax.jit
    def totals(x):
        def step(w, v):
            return w.add(v), None

        one_by_one, _ = jax.lax.scan(step, wide_zero(), x)
        return one_by_one, wide_sum(x), one_by_one.plus(wide_sum(x)), saturating_cumsum(x)

    one, summed, twice, capped = totals(jnp.asarray(values, jnp.int32))
    exact = int(values.sum())
    assert int(one) == int(summed) == exact and int(twice) == 2 * exact
    np.testing.assert_array_equal(capped, np.minimum(np.cumsum(values), INT32_MAX))
    assert isinstance(one, Wide) and 0 <= int(one.lo) <= INT32_MAX
