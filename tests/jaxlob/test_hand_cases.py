"""Hand-built cases with hand-computed outcomes: priority, sweeps, partial fills, eviction, halts.

Every case also runs through the reference book, which must agree. Books have 4 slots per side,
2 fill rows per message and 2 traders, so one compiled function serves every case.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref

CAPACITY, MAX_FILLS, NUM_TRADERS, PAD_TO = 4, 2, 2, 10
B, S = m.BUY, m.SELL


def sub(direction, size, price, oid, trader=0):
    return (m.SUBMIT, direction, size, price, oid, trader)


@functools.partial(jax.jit)
def _run(book, msgs):
    return jl.apply_messages(book, msgs, keep_fills=True)


def run(msgs, book=None, ref_book=None):
    """Apply hand-written messages (padded with NOOPs); check the reference agrees; return both."""
    book = book if book is not None else jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    ref_book = (
        ref_book if ref_book is not None else ref.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS)
    )
    rows = np.zeros((PAD_TO, m.NUM_FIELDS), np.int32)
    for i, msg in enumerate(msgs):
        rows[i, : len(msg)] = msg
    book, record = jax.device_get(_run(book, jnp.asarray(rows)))
    ref_book, ref_record = ref.apply_messages(ref_book, rows, keep_fills=True)
    assert jl.book_orders(book)["bids"]["order_id"].tolist() == [
        o.order_id for o in ref_book.bids.orders()
    ]
    assert jl.book_orders(book)["asks"]["order_id"].tolist() == [
        o.order_id for o in ref_book.asks.orders()
    ]
    for name, value in ref_book.counters.items():
        assert int(getattr(book.counters, name)) == value, name
    return book, record


def orders(book, side):
    o = jl.book_orders(book)[side]
    return list(
        zip(
            o["price"].tolist(),
            o["quantity"].tolist(),
            o["order_id"].tolist(),
            o["trader_id"].tolist(),
            strict=True,
        )
    )


def fill_rows(record, i):
    f = record.fills
    return [
        (int(p), int(q), int(o), int(t))
        for p, q, o, t in zip(f.price[i], f.quantity[i], f.order_id[i], f.trader_id[i], strict=True)
        if q > 0
    ]


def test_price_then_time_priority():
    book, rec = run(
        [
            sub(S, 10, 101, 1),
            sub(S, 5, 101, 2),
            sub(S, 7, 100, 3),  # better price, later: trades first
            sub(B, 12, 101, 4, trader=1),
        ]
    )
    assert fill_rows(rec, 3) == [(100, 7, 3, 0), (101, 5, 1, 0)]
    assert orders(book, "asks") == [(101, 5, 1, 0), (101, 5, 2, 0)]
    assert orders(book, "bids") == []
    totals = jax.tree.map(lambda x: x[3], rec.fills.totals)
    assert int(totals.volume) == 12
    assert float(totals.notional) == 7 * 100 + 5 * 101
    assert totals.bought_volume.tolist() == [0, 12] and totals.sold_volume.tolist() == [12, 0]
    assert totals.bought_notional.tolist() == [0.0, 1205.0]


def test_sweep_of_several_levels_rests_the_remainder_uncrossed():
    book, rec = run(
        [
            sub(S, 3, 100, 1),
            sub(S, 4, 101, 2),
            sub(S, 5, 102, 3),
            sub(S, 1, 105, 4),
            sub(B, 15, 102, 5),
        ]
    )
    # Three orders traded, each at its own price; two fill rows shown, the third counted.
    assert fill_rows(rec, 4) == [(100, 3, 1, 0), (101, 4, 2, 0)]
    totals = jax.tree.map(lambda x: x[4], rec.fills.totals)
    assert int(totals.num_fills) == 3 and int(totals.fill_overflow) == 1
    assert int(totals.volume) == 12 and float(totals.notional) == 300 + 404 + 510
    assert int(totals.rested) == 3
    assert orders(book, "asks") == [(105, 1, 4, 0)]
    assert orders(book, "bids") == [(102, 3, 5, 0)]
    assert [int(x) for x in jl.best_bid_ask(book)] == [102, 105]
    assert int(book.counters.fill_overflow) == 1


def test_sell_sweep_trades_at_the_resting_prices():
    book, rec = run([sub(B, 5, 100, 1), sub(B, 5, 99, 2), sub(S, 7, 99, 3)])
    assert fill_rows(rec, 2) == [(100, 5, 1, 0), (99, 2, 2, 0)]
    assert orders(book, "bids") == [(99, 3, 2, 0)] and orders(book, "asks") == []


def test_partial_fill_keeps_queue_position():
    book, rec = run([sub(S, 10, 100, 1), sub(S, 10, 100, 2), sub(B, 4, 100, 3), sub(B, 8, 100, 4)])
    assert fill_rows(rec, 2) == [(100, 4, 1, 0)]
    assert fill_rows(rec, 3) == [(100, 6, 1, 0), (100, 2, 2, 0)]
    assert orders(book, "asks") == [(100, 8, 2, 0)]


def test_full_side_evicts_its_worst_order_and_counts_it():
    book, rec = run(
        [
            sub(B, 1, 100, 1),
            sub(B, 2, 99, 2),
            sub(B, 3, 98, 3),
            sub(B, 4, 97, 4),
            sub(B, 5, 101, 5, trader=1),  # better than the worst: order 4 is evicted
            sub(B, 6, 96, 6),  # worse than all: the new order itself is evicted
            sub(B, 7, 98, 7),  # same price as the worst, later: evicted itself
        ]
    )
    f = rec.fills
    assert [int(f.evicted_order_id[i]) for i in (4, 5, 6)] == [4, 6, 7]
    assert [int(f.evicted_quantity[i]) for i in (4, 5, 6)] == [4, 6, 7]
    assert orders(book, "bids") == [(101, 5, 5, 1), (100, 1, 1, 0), (99, 2, 2, 0), (98, 3, 3, 0)]
    assert int(book.counters.evicted_orders) == 3 and int(book.counters.evicted_shares) == 17
    assert int(rec.totals.rested) == 1 + 2 + 3 + 4 + 5


def test_halt_codes_set_the_flag_and_bad_codes_are_counted():
    codes = [m.HALT_CODE_HALT, 5, m.HALT_CODE_RESUME_QUOTING, m.HALT_CODE_RESUME_TRADING]
    states = []
    for k in range(1, len(codes) + 1):
        book, _ = run([(m.HALT, 0, 0, code, 0) for code in codes[:k]])
        states.append(int(book.halt_state))
    assert states == [m.HALTED, m.HALTED, m.QUOTING, m.TRADING]
    assert int(book.counters.invalid_messages) == 1


def test_market_order_drops_its_remainder_and_ioc_limit_is_respected():
    book, rec = run([sub(S, 3, 100, 1), sub(S, 2, 101, 2), (m.MARKET, B, 10, 0, 3)])
    assert int(rec.fills.totals.dropped[2]) == 5 and int(rec.fills.totals.volume[2]) == 5
    assert orders(book, "asks") == [] and orders(book, "bids") == []
    book, rec = run([sub(S, 3, 100, 1), sub(S, 2, 101, 2), (m.MARKET, B, 10, 100, 3)])
    assert int(rec.fills.totals.dropped[2]) == 7
    assert orders(book, "asks") == [(101, 2, 2, 0)] and orders(book, "bids") == []
    assert int(book.counters.dropped_shares) == 7


def test_unknown_types_and_bad_fields_change_nothing_but_counters():
    book, _ = run(
        [
            sub(B, 5, 100, 1),
            (12, B, 5, 100, 2),  # unknown type: never read as a submission
            (-1, S, 5, 100, 3),
            sub(0, 5, 100, 4),  # no direction
            sub(S, 0, 100, 5),  # no size
            (m.EXECUTE, 2, 1, 100, 1),  # bad direction
        ]
    )
    assert orders(book, "bids") == [(100, 5, 1, 0)] and orders(book, "asks") == []
    assert int(book.counters.unknown_types) == 2 and int(book.counters.invalid_messages) == 3


def test_execution_by_id_and_unmatched_ids():
    book, rec = run(
        [
            sub(B, 10, 100, 1, trader=1),
            (m.EXECUTE, B, 4, 100, 1),
            (m.EXECUTE, B, 4, 100, 77),  # unknown id, no snapshot: unmatched
            (m.EXECUTE, B, 4, 99, 1),  # known id at the wrong price: unmatched
            (m.CANCEL, B, 1, 100, 78),
        ]
    )
    assert fill_rows(rec, 1) == [(100, 4, 1, 1)]
    totals = jax.tree.map(lambda x: x[1], rec.fills.totals)
    assert totals.bought_volume.tolist() == [0, 4] and totals.sold_volume.tolist() == [4, 0]
    assert orders(book, "bids") == [(100, 6, 1, 1)]
    assert int(book.counters.unmatched_executions) == 2
    assert int(book.counters.unmatched_cancels) == 1


def test_orders_from_before_the_snapshot_reduce_the_snapshot_level():
    row = np.array([101, 50, 99, 40, 102, 10, 98, 10])
    snap = (jl.book_from_snapshot(row, CAPACITY, 2, MAX_FILLS, NUM_TRADERS),)
    ref_snap = ref.book_from_snapshot(row, CAPACITY, 2, MAX_FILLS, NUM_TRADERS)
    ask_id = jl.SNAPSHOT_ID_BASE  # best ask level's aggregate order
    book, rec = run(
        [
            (m.CANCEL, S, 20, 101, 555),
            (m.DELETE, B, 40, 99, 556),
            (m.EXECUTE, S, 5, 101, 557),
            (m.CANCEL, S, 1, 103, 558),  # no level there: unmatched
        ],
        book=snap[0],
        ref_book=ref_snap,
    )
    assert fill_rows(rec, 2) == [(101, 5, ask_id, 0)]
    assert [(p, q) for p, q, _, _ in orders(book, "asks")] == [(101, 25), (102, 10)]
    assert [(p, q) for p, q, _, _ in orders(book, "bids")] == [(98, 10)]
    assert int(book.counters.snapshot_fallbacks) == 3
    assert int(book.counters.unmatched_cancels) == 1
    assert int(book.counters.cancelled_shares) == 60


def test_cancel_by_id_and_duplicate_ids():
    book, _ = run(
        [
            sub(B, 5, 100, 1),
            sub(S, 5, 103, 2),
            sub(S, 9, 104, 2),  # duplicate id: rejected
            (m.CANCEL_ID, 0, 0, 0, 2),
            (m.CANCEL_ID, 0, 0, 0, 99),
        ]
    )
    assert orders(book, "asks") == [] and orders(book, "bids") == [(100, 5, 1, 0)]
    assert int(book.counters.duplicate_ids) == 1
    assert int(book.counters.unmatched_cancels) == 1
    assert int(book.counters.cancelled_shares) == 5


@pytest.mark.parametrize("typ", [m.HIDDEN, m.CROSS])
def test_hidden_and_cross_trades_are_recorded_off_book(typ):
    book, rec = run([sub(B, 5, 100, 1), (typ, S, 7, 100, 0)])
    assert orders(book, "bids") == [(100, 5, 1, 0)]
    assert int(rec.totals.off_book_volume) == 7 and float(rec.totals.off_book_notional) == 700
    assert int(rec.totals.volume) == 0


@pytest.mark.parametrize("typ", [m.CANCEL, m.DELETE, m.EXECUTE])
def test_a_resting_id_named_at_another_price_or_side_is_unmatched(typ):
    """The id rests, so the message names that order, at the wrong price (or side): it contradicts
    the book and changes nothing, even where a snapshot aggregate sits at the named price."""
    row = np.array([102, 50, 100, 40, 103, 10, 99, 10])
    snap = jl.book_from_snapshot(row, CAPACITY, 2, MAX_FILLS, NUM_TRADERS)
    ref_snap = ref.book_from_snapshot(row, CAPACITY, 2, MAX_FILLS, NUM_TRADERS)
    book, rec = run(
        [
            sub(B, 5, 101, 7),
            (typ, B, 5, 100, 7),  # id 7 rests at 101, not 100 (where the aggregate is)
            (typ, S, 5, 101, 7),  # nor on the ask side
        ],
        book=snap,
        ref_book=ref_snap,
    )
    assert orders(book, "bids")[:2] == [(101, 5, 7, 0), (100, 40, jl.SNAPSHOT_ID_BASE - 1, 0)]
    assert int(book.counters.snapshot_fallbacks) == 0
    unmatched = (
        book.counters.unmatched_executions if typ == m.EXECUTE else book.counters.unmatched_cancels
    )
    assert int(unmatched) == 2
    assert int(rec.totals.volume) == 0 and int(book.counters.cancelled_shares) == 0
