"""``jaxlob.deep`` (a sorted front over an unsorted pool) against the plain-Python reference book.

The oracle is the reference book of the whole capacity, compared after every message (orders in
priority order, fills, counters, top levels). Fronts of 1 and 3 orders on 8-slot books move orders
between front and pool on almost every message and fill both sides, so that promotions, room
making, evictions (the whole-book path), snapshot fallbacks and sweeps into the pool all occur; a
64-slot book with a front of 4 gets sweeps of dozens of orders. A vmapped batch in which only some
books take the whole-book path checks the ``while_loop``'s per-book selection.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jaxlob as jl
from jaxlob import deep
from jaxlob import random_messages as rm
from jaxlob import reference as ref

LEVELS = 4
MIX = {**rm.STRESS_MIX, "passive": 0.5}
FALLBACK_MIX = {
    **rm.STRESS_MIX,
    "passive": 0.3,
    "crossing": 0.02,
    "market": 0.01,
    "unknown_id": 0.25,
}
DEEP_MIX = {"passive": 0.6, "crossing": 0.12, "market": 0.06, "delete": 0.17, "execute": 0.05}
SNAPSHOT_ROW = np.array(
    [10001, 50, 9999, 40, 10003, 30, 9998, 20, 10004, 10, 9990, 5] + [9999999999, 0, -9999999999, 0]
)


def _whole_book_needed(book: deep.DeepBook, raw) -> jax.Array:
    scans = (deep._scan_pool(book.bid_pool, raw, False), deep._scan_pool(book.ask_pool, raw, True))
    return deep._needs_whole_book(book, raw, scans, deep._context(book, raw, scans))


@jax.jit
def _replay(book: deep.DeepBook, msgs):
    """Every message's merged book, fills, top levels, and whether it took the whole-book path."""

    def step(book, msg):
        whole = _whole_book_needed(book, msg)
        book, fills = deep.apply_message(book, msg)
        merged = deep.to_book(book)
        return book, (merged, fills, jl.top_levels(merged, LEVELS), whole)

    return lax.scan(step, book, msgs)[1]


def _check(compare, book: deep.DeepBook, ref_book, msgs) -> int:
    """Compare after every message; return how many messages took the whole-book path."""
    books, fills, tops, whole = jax.device_get(_replay(book, jnp.asarray(msgs)))
    for i, msg in enumerate(msgs):
        ref_book, ref_fills = ref.apply_message(ref_book, msg)
        step = compare["at"]((books, fills, tops), i)
        problems = compare["step"](*step, ref_book, ref_fills, LEVELS)
        assert not problems, f"message {i} {msg.tolist()}: {problems[:4]}"
    return int(np.sum(whole))


@pytest.mark.parametrize("seed, front", [(0, 1), (1, 3), (2, 3)])
def test_random_streams_match_reference(compare, seed, front):
    ref_book = ref.empty_book(8, 3, 2)
    msgs = rm.random_stream(np.random.default_rng(seed), 300, ref_book, mix=MIX, max_size=30)
    whole = _check(compare, deep.empty_deep_book(8, front, 3, 2), ref.empty_book(8, 3, 2), msgs)
    counters = ref.apply_messages(ref.empty_book(8, 3, 2), msgs)[0].counters
    assert counters["evicted_orders"] > 0  # full sides: the whole-book path
    assert whole > 0


def test_snapshot_fallbacks_match_reference(compare):
    args = (SNAPSHOT_ROW, 8, 4, 3, 2)
    msgs = rm.random_stream(
        np.random.default_rng(100),
        300,
        ref.book_from_snapshot(*args),
        mix=FALLBACK_MIX,
        max_size=30,
    )
    book = deep.to_deep(jl.book_from_snapshot(*args), 3)
    _check(compare, book, ref.book_from_snapshot(*args), msgs)
    assert ref.apply_messages(ref.book_from_snapshot(*args), msgs)[0].counters["snapshot_fallbacks"]


def _deep_stream(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ref_book = ref.empty_book(64, 8, 2)
    warm = rm.random_stream(rng, 60, ref_book, mix={"passive": 1.0}, max_size=5)
    msgs = rm.random_stream(
        rng,
        250,
        ref.apply_messages(ref_book, warm)[0],
        mix=DEEP_MIX,
        max_size=5,
        first_id=10_000,
        sweep_scales=(1, 40),
    )
    return np.concatenate([warm, msgs])


def test_deep_sweeps_through_a_small_front_match_reference(compare):
    whole = _check(
        compare, deep.empty_deep_book(64, 4, 8, 2), ref.empty_book(64, 8, 2), _deep_stream(7)
    )
    assert whole > 0  # sweeps beyond the front went to the whole book


def test_vmapped_books_take_the_whole_book_path_one_by_one():
    """Four books, four streams, one vmapped program: each ends as the reference does alone."""
    streams = np.stack([_deep_stream(seed) for seed in (7, 8, 9, 10)])
    books = jax.tree.map(lambda x: jnp.stack([x] * 4), deep.empty_deep_book(64, 4, 8, 2))
    merged, _, _, needed = jax.device_get(jax.vmap(_replay)(books, jnp.asarray(streams)))
    assert 0 < needed.any(axis=0).sum() < needed.shape[1]  # some steps, not all
    assert (needed != needed.any(axis=0)).any()  # and not every book at those steps
    for k, stream in enumerate(streams):
        ref_book, _ = ref.apply_messages(ref.empty_book(64, 8, 2), stream)
        final = jax.tree.map(lambda x, k=k: x[k, -1], merged)
        orders = jl.book_orders(final)
        for side, fields in ref.book_orders(ref_book).items():
            for name, values in fields.items():
                np.testing.assert_array_equal(orders[side][name], values, err_msg=f"{k} {side}")
        for name, value in ref_book.counters.items():
            assert int(getattr(final.counters, name)) == value, name


def test_split_and_merge_round_trip():
    msgs = _deep_stream(11)
    book = jl.apply_messages(jl.empty_book(64, 8, 2), jnp.asarray(msgs))[0]
    split = deep.to_deep(book, 5)
    assert int(split.front.bids.count) == min(5, int(book.bids.count))
    assert split.capacity == 64 and split.front_capacity == 5
    back = deep.to_book(split)
    for side in ("bids", "asks"):
        for name, values in jl.book_orders(book)[side].items():
            np.testing.assert_array_equal(jl.book_orders(back)[side][name], values)


@pytest.mark.parametrize("front", [0, 8, 9, 2.5])
def test_front_capacity_out_of_range_is_a_one_line_error(front):
    with pytest.raises(ValueError, match="front_capacity must be an int in 1..capacity-1"):
        deep.empty_deep_book(8, front)
