"""Message layout, book construction from LOBSTER snapshots, and the read-out views."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref
from jaxlob.views import mid_price, twice_from_mid, twice_mid_change

# A LOBSTER level-3 row with an empty third ask level (LOBSTER's dummy values) and an unsorted order
# of columns exactly as in the files: ask price, ask size, bid price, bid size per level.
LOBSTER_ROW = np.array(
    [5802300, 100, 5794000, 496, 5804300, 200, 5787000, 400, 9999999999, 0, 5785000, 500],
    dtype=np.int64,
)


def test_message_layout_is_fixed():
    assert m.NUM_FIELDS == 8
    assert (m.TYPE, m.DIRECTION, m.SIZE, m.PRICE, m.ORDER_ID) == (0, 1, 2, 3, 4)
    assert (m.TRADER_ID, m.TIME_S, m.TIME_NS) == (5, 6, 7)
    assert (m.NOOP, m.SUBMIT, m.CANCEL, m.DELETE, m.EXECUTE) == (0, 1, 2, 3, 4)
    assert (m.HIDDEN, m.CROSS, m.HALT, m.MARKET, m.CANCEL_ID) == (5, 6, 7, 8, 9)
    msg = m.make_message(m.SUBMIT, m.SELL, 100, 5802300, 42, trader_id=1, time_s=34200, time_ns=7)
    assert msg.dtype == jnp.int32
    assert msg.tolist() == [1, -1, 100, 5802300, 42, 1, 34200, 7]
    traced = jax.jit(lambda size: m.make_message(m.MARKET, m.BUY, size, 0, 3))(jnp.int32(5))
    assert traced.tolist() == [8, 1, 5, 0, 3, 0, 0, 0]


def test_snapshot_has_one_aggregate_order_per_level():
    book = jl.book_from_snapshot(LOBSTER_ROW, 4, 3)
    orders = jl.book_orders(book)
    assert orders["asks"]["price"].tolist() == [5802300, 5804300]
    assert orders["asks"]["quantity"].tolist() == [100, 200]
    assert orders["bids"]["price"].tolist() == [5794000, 5787000, 5785000]
    assert orders["bids"]["quantity"].tolist() == [496, 400, 500]
    ids = np.concatenate([orders["asks"]["order_id"], orders["bids"]["order_id"]])
    assert (ids <= jl.SNAPSHOT_ID_BASE).all() and len(set(ids.tolist())) == ids.size
    assert (orders["bids"]["trader_id"] == 0).all()
    # The view gives the row back, the empty level as the int32 dummy price.
    expected = LOBSTER_ROW.copy()
    expected[8] = jl.DUMMY_ASK_PRICE
    np.testing.assert_array_equal(np.asarray(jl.top_levels(book, 3)), expected)
    np.testing.assert_array_equal(
        ref.top_levels(ref.book_from_snapshot(LOBSTER_ROW, 4, 3), 3), expected
    )
    assert [int(x) for x in jl.best_bid_ask(book)] == [5794000, 5802300]


def test_snapshot_beyond_capacity_counts_evicted_levels():
    book = jl.book_from_snapshot(LOBSTER_ROW, 2, 3)
    assert jl.book_orders(book)["bids"]["price"].tolist() == [5794000, 5787000]
    assert int(book.counters.evicted_orders) == 1 and int(book.counters.evicted_shares) == 500


def test_snapshot_under_jit_and_vmap_with_int32_sentinels():
    rows = np.stack([jl.lobster_row_to_int32(LOBSTER_ROW), jl.lobster_row_to_int32(LOBSTER_ROW)])
    rows[1, 0:2] = [jl.DUMMY_ASK_PRICE, 0]  # second book: no best ask either
    assert rows.dtype == np.int32 and rows[0, 8] == jl.DUMMY_ASK_PRICE
    build = jax.jit(jax.vmap(lambda r: jl.book_from_snapshot(r, 4, 3)))
    books = build(jnp.asarray(rows))
    assert books.asks.count.tolist() == [2, 1]
    tops = jax.vmap(lambda b: jl.top_levels(b, 3))(books)
    assert tops[1, 0:4].tolist() == [5804300, 200, 5794000, 496]


def test_lobster_rows_with_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match="row 7, column 2"):
        jl.lobster_row_to_int32([5802300, 1.5, 5794000, 4], "row 7")
    with pytest.raises(ValueError, match="column 3: 3000000000 does not fit int32"):
        jl.lobster_row_to_int32([5802300, 1, 3_000_000_000, 4])
    with pytest.raises(ValueError, match="4 columns per level"):
        jl.lobster_row_to_int32([1, 2, 3])
    with pytest.raises(ValueError, match="expected 8 values for 2 levels"):
        jl.book_from_snapshot(LOBSTER_ROW, 4, 2)


def test_empty_book_views():
    book = jl.empty_book(5)
    assert [int(x) for x in jl.best_bid_ask(book)] == [jl.DUMMY_BID_PRICE, jl.DUMMY_ASK_PRICE]
    assert jl.top_levels(book, 2).tolist() == [jl.DUMMY_ASK_PRICE, 0, jl.DUMMY_BID_PRICE, 0] * 2
    with pytest.raises(ValueError, match="capacity"):
        jl.empty_book(0)
    with pytest.raises(ValueError, match="capacity"):
        jl.empty_book(jl.MAX_CAPACITY + 1)


def test_top_levels_aggregate_orders_at_a_price_across_the_ring_wrap():
    """Levels sum every order at a price, also when the side's orders wrap around its slots."""
    book = jl.empty_book(4)
    step = jax.jit(jl.apply_message)
    msgs = [
        (m.SUBMIT, m.SELL, 5, 101, 1),
        (m.SUBMIT, m.SELL, 6, 102, 2),
        (m.SUBMIT, m.SELL, 7, 102, 3),
        (m.MARKET, m.BUY, 5, 0, 4),  # head moves past slot 0
        (m.SUBMIT, m.SELL, 8, 103, 5),
        (m.SUBMIT, m.SELL, 9, 103, 6),  # written into slot 0: the orders wrap
    ]
    for msg in msgs:
        book, _ = step(book, m.make_message(*msg))
    assert int(book.asks.head) == 1 and int(book.asks.count) == 4
    assert jl.top_levels(book, 3).tolist()[0::4] == [102, 103, jl.DUMMY_ASK_PRICE]
    assert jl.top_levels(book, 3).tolist()[1::4] == [13, 17, 0]


def test_engine_boundaries_reject_arrays_of_the_wrong_shape_or_dtype():
    """Trace-time checks (free under jit): a float message or row would be truncated silently."""
    book = jl.empty_book(4)
    good = np.zeros((3, m.NUM_FIELDS), np.int32)
    jl.apply_messages(book, good)
    with pytest.raises(AssertionError, match="type"):
        jl.apply_messages(book, good.astype(np.float32))
    with pytest.raises(AssertionError):
        jl.apply_messages(book, good[:, :-1])
    with pytest.raises(AssertionError):
        jl.apply_messages(book, good[0])
    with pytest.raises(AssertionError):
        jl.apply_message(book, good[0, :-1])
    with pytest.raises(AssertionError, match="type"):
        jl.book_from_snapshot(jnp.asarray(LOBSTER_ROW[:4], jnp.float32), 4, 1)


def test_mid_arithmetic_never_forms_bid_plus_ask():
    """Above $107,374 a price's double does not fit int32; the mid helpers use differences."""
    top = jl.DUMMY_ASK_PRICE - 1
    bid, ask = jnp.int32(top - 100), jnp.int32(top)
    assert float(mid_price(bid, ask)) == pytest.approx(top - 50, rel=1e-7)
    assert float(twice_from_mid(ask, bid, ask)) == 100.0
    assert float(twice_from_mid(jnp.int32(top - 300), bid, ask)) == -500.0
    assert float(twice_mid_change(bid, ask, bid - 7, ask - 3)) == 10.0
    # a small book too: exact integers in float32
    assert float(mid_price(jnp.int32(10_000), jnp.int32(10_101))) == 10_050.5


def test_snapshot_levels_at_one_price_are_one_level():
    row = np.array([101, 5, 99, 7, 101, 6, 99, 8, 102, 1, 98, 1])
    book = jl.book_from_snapshot(row, 4, 3)
    ref_book = ref.book_from_snapshot(row, 4, 3)
    orders = jl.book_orders(book)
    assert orders["asks"]["price"].tolist() == [101, 102]
    assert orders["asks"]["quantity"].tolist() == [11, 1]
    assert orders["bids"]["quantity"].tolist() == [15, 1]
    for side in ("bids", "asks"):
        for name, values in ref.book_orders(ref_book)[side].items():
            np.testing.assert_array_equal(orders[side][name], values)
