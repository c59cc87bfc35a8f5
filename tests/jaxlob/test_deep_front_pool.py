"""``jaxlob.deep`` (a sorted front over an unsorted pool) against the plain-Python reference book.

The oracle is the reference book of the whole capacity, compared after every message (orders in
priority order, fills, counters, top levels). Fronts of 1 and 3 orders on 8-slot books move orders
between front and pool on almost every message and fill both sides, so that promotions, room
making, evictions (the whole-book path), snapshot fallbacks and sweeps into the pool all occur; a
vmapped batch of 64-slot books with fronts of 4 gets sweeps of dozens of orders, and only some of
its books take the whole-book path at a step (the ``while_loop``'s per-book selection).
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jaxlob as jl
from jaxlob import deep
from jaxlob import messages as m
from jaxlob import random_messages as rm
from jaxlob import reference as ref

LEVELS = 4
MIX = {**rm.STRESS_MIX, "passive": 0.5}
SNAPSHOT_ROW = np.array(
    [10001, 50, 9999, 40, 10003, 30, 9998, 20, 10004, 10, 9990, 5] + [9999999999, 0, -9999999999, 0]
)


def _whole_book_needed(book: deep.DeepBook, raw) -> jax.Array:
    scans = (deep._scan_pool(book.bid_pool, raw), deep._scan_pool(book.ask_pool, raw))
    return deep._needs_whole_book(book, raw, scans, deep._context(book, raw, scans))


@jax.jit
def _replay(book: deep.DeepBook, msgs):
    """Every message's merged book, fills, top levels, whether it took the whole-book path, and
    the final deep book."""

    def step(book, msg):
        whole = _whole_book_needed(book, msg)
        book, fills = deep.apply_message(book, msg)
        merged = deep.to_book(book)
        return book, (merged, fills, jl.top_levels(merged, LEVELS), whole)

    final, out = lax.scan(step, book, msgs)
    return (*out, final)


def _check_summaries(pool: deep.Pool, is_ask: bool) -> None:
    """The pool's block summaries equal what its slots say (numpy, slot by slot)."""
    pool = jax.device_get(pool)
    blocks, block = pool.price.shape
    highest = np.iinfo(np.int32).max
    for b in range(blocks):
        usable = b * block + np.arange(block) < pool.size
        qty = pool.quantity[b]
        assert not qty[~usable].any(), f"block {b}: padding holds an order"
        assert pool.free[b] == np.sum(usable & (qty == 0)), f"block {b}: free"
        assert pool.shares[b] == qty.sum(), f"block {b}: shares"
        live = [s for s in range(block) if qty[s] > 0]
        if not live:
            assert pool.best_key[b] == highest, f"block {b}: empty best"
            continue
        keys = {s: (pool.price[b, s] * (1 if is_ask else -1), pool.arrival[b, s]) for s in live}
        best = min(live, key=keys.get)
        got = (pool.best_key[b], pool.best_arrival[b], pool.best_slot[b])
        assert got == (*keys[best], best), f"block {b}: best {got} != {(*keys[best], best)}"


def _check(compare, book: deep.DeepBook, ref_book, msgs) -> int:
    """Compare after every message (and the final pools' summaries with their slots); return how
    many messages took the whole-book path."""
    books, fills, tops, whole, final = jax.device_get(_replay(book, jnp.asarray(msgs)))
    _check_summaries(final.bid_pool, False)
    _check_summaries(final.ask_pool, True)
    for i, msg in enumerate(msgs):
        ref_book, ref_fills = ref.apply_message(ref_book, msg)
        step = compare["at"]((books, fills, tops), i)
        problems = compare["step"](*step, ref_book, ref_fills, LEVELS)
        assert not problems, f"message {i} {msg.tolist()}: {problems[:4]}"
    return int(np.sum(whole))


@pytest.mark.parametrize("seed, front, pool_block", [(0, 1, 2), (1, 3, 3), (2, 3, 3)])
def test_random_streams_match_reference(compare, seed, front, pool_block):
    """Pools of 7 slots in 4 blocks and of 5 in 2 blocks, both with padding (the second shape is
    the snapshot test's too: one compiled program for three tests)."""
    ref_book = ref.empty_book(8, 3, 2)
    msgs = rm.random_stream(np.random.default_rng(seed), 300, ref_book, mix=MIX, max_size=30)
    book = deep.empty_deep_book(8, front, 3, 2, pool_block)
    whole = _check(compare, book, ref.empty_book(8, 3, 2), msgs)
    counters = ref.apply_messages(ref.empty_book(8, 3, 2), msgs)[0].counters
    assert counters["evicted_orders"] > 0  # full sides: the whole-book path
    assert whole > 0


def test_snapshot_fallbacks_match_reference(compare, streams):
    args = (SNAPSHOT_ROW, 8, 4, 3, 2)
    msgs = rm.random_stream(
        np.random.default_rng(100),
        300,
        ref.book_from_snapshot(*args),
        mix=streams["fallback_mix"],
        max_size=30,
    )
    book = deep.to_deep(jl.book_from_snapshot(*args), 3, pool_block=3)
    _check(compare, book, ref.book_from_snapshot(*args), msgs)
    assert ref.apply_messages(ref.book_from_snapshot(*args), msgs)[0].counters["snapshot_fallbacks"]


def test_vmapped_deep_sweeps_match_reference(compare, streams):
    """Four 64-slot books with fronts of 4, four deep-sweep streams, one vmapped program: the first
    book after every message and every book at the end equal the reference; only some books take
    the whole-book turn at a step. The final books survive a split and merge unchanged; the
    pools (60 slots in blocks of 8, the last block half padding) keep their summaries true."""
    msgs = np.stack([streams["deep_sweep_stream"](seed) for seed in (7, 8, 9, 10)])
    books = jax.tree.map(lambda x: jnp.stack([x] * 4), deep.empty_deep_book(64, 4, 8, 2, 8))
    out = jax.device_get(jax.vmap(_replay)(books, jnp.asarray(msgs)))
    merged, fills, tops, needed, final_deep = out
    for k in range(len(msgs)):
        for pool, is_ask in ((final_deep.bid_pool, False), (final_deep.ask_pool, True)):
            _check_summaries(jax.tree.map(lambda x, k=k: x[k], pool), is_ask)
    assert 0 < needed.any(axis=0).sum() < needed.shape[1]  # some steps, not all
    assert (needed != needed.any(axis=0)).any()  # and not every book at those steps
    ref_book = ref.empty_book(64, 8, 2)
    first = compare["at"]((merged, fills, tops), 0)
    for i, msg in enumerate(msgs[0]):
        ref_book, ref_fills = ref.apply_message(ref_book, msg)
        problems = compare["step"](*compare["at"](first, i), ref_book, ref_fills, LEVELS)
        assert not problems, f"message {i} {msg.tolist()}: {problems[:4]}"
    for k, stream in enumerate(msgs):
        ref_book, _ = ref.apply_messages(ref.empty_book(64, 8, 2), stream)
        final = jax.tree.map(lambda x, k=k: x[k, -1], merged)
        again = deep.to_book(deep.to_deep(final, 5))
        expected = ref.book_orders(ref_book)
        for book in (final, again):
            orders = jl.book_orders(book)
            for side, fields in expected.items():
                for name, values in fields.items():
                    np.testing.assert_array_equal(orders[side][name], values, err_msg=f"{k} {side}")
        for name, value in ref_book.counters.items():
            assert int(getattr(final.counters, name)) == value, name


def test_a_front_below_capacity_takes_pool_orders_behind_its_last(compare):
    """A sweep of two front orders is refilled by one (one top-up per step), so the front is below
    its capacity while the pool holds orders. A deletion, a partial cancellation and an execution
    of pool orders (the pool's best among them, whose block's best must then be recomputed before
    the top-up) then append them behind the front's last."""
    buy, sell = m.BUY, m.SELL
    rows = [(m.SUBMIT, buy, 10, 100 - k, k + 1) for k in range(8)]  # ids 1..8 at 100..93
    rows += [
        (m.MARKET, sell, 20, 0, 50),  # takes ids 1 and 2: front [98], topped up to [98, 97]
        (m.DELETE, buy, 10, 96, 5),  # the pool's best, appended, then deleted
        (m.CANCEL, buy, 4, 94, 7),  # a pool order that is not the best: appended behind 97
        (m.MARKET, sell, 25, 0, 51),  # 98, 97 and half of 95: the front below capacity again
        (m.EXECUTE, buy, 3, 93, 8),  # the pool's best, appended, partly executed
        (m.DELETE, buy, 6, 94, 7),
        (m.SUBMIT, buy, 10, 99, 9),
        (m.SUBMIT, buy, 10, 92, 10),
    ]
    msgs = np.zeros((len(rows), m.NUM_FIELDS), np.int64)
    for i, row in enumerate(rows):
        msgs[i, : len(row)] = row
        msgs[i, m.TIME_S] = i + 1
    book = deep.empty_deep_book(8, 3, 3, 2, 3)
    assert _check(compare, book, ref.empty_book(8, 3, 2), msgs) == 0  # all on the fast path


def _pool_copies_in_loops(books: int = 4) -> int:
    """Copies of a pool field's array inside the compiled message scan of a vmapped batch."""
    book = deep.empty_deep_book(40, 4, pool_block=8)
    book = jax.tree.map(lambda x: jnp.broadcast_to(x, (books, *x.shape)), book)
    msgs = jnp.zeros((books, 10, m.NUM_FIELDS), jnp.int32)
    text = jax.jit(jax.vmap(deep.apply_messages)).lower(book, msgs).compile().as_text()
    field = re.escape(f"s32[{books},{book.bid_pool.price.shape[-2]},8]")
    loops = [c for c in re.split(r"\n(?=\S)", text) if not c.startswith("ENTRY")]
    return sum(len(re.findall(field + r"\S* copy\(", c)) for c in loops)


def test_vmapped_pool_writes_are_not_copies():
    """Every read of the pool's slots comes before its writes by data dependence (``deep._after``),
    so XLA updates the carried pool in place. With ``_after`` returning its index unchanged the
    count is 20 (each of the ten pool arrays copied twice per message; checked by hand)."""
    assert _pool_copies_in_loops() == 0


@pytest.mark.parametrize("front", [0, 8, 9, 2.5])
def test_front_capacity_out_of_range_is_a_one_line_error(front):
    with pytest.raises(ValueError, match="front_capacity must be an int in 1..capacity-1"):
        deep.empty_deep_book(8, front)


@pytest.mark.parametrize("pool_block", [0, -1, 1.5])
def test_pool_block_not_positive_is_a_one_line_error(pool_block):
    with pytest.raises(ValueError, match="pool_block must be a positive int"):
        deep.empty_deep_book(8, 3, pool_block=pool_block)
