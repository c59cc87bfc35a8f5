"""The JAX engine against the independent plain-Python reference book, message by message.

Seeded random streams exercise every path: passive and crossing orders of every size (sweeps of
many levels), market and IOC orders, partial and full cancels by id, deletes and executions with
matching and mismatched sizes, unknown ids (snapshot fallbacks and unmatched), cancel by id, hidden
and cross trades, halts, padding, unknown types, invalid fields, duplicate ids, and, in books of 8
slots with 3 fill rows and 2 traders, evictions, fill overflow and unattributed traders.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import random_messages as rm
from jaxlob import reference as ref

CAPACITY, MAX_FILLS, NUM_TRADERS, LEVELS = 8, 3, 2, 4
NUM_MESSAGES = 300
# Filled books (so that full sides evict), still with sweeps and every other kind of message.
MIX = {**rm.STRESS_MIX, "passive": 0.5}
SNAPSHOT_ROW = np.array(
    [10001, 50, 9999, 40, 10003, 30, 9998, 20, 10004, 10, 9990, 5] + [9999999999, 0, -9999999999, 0]
)


def _books(snapshot: bool):
    if snapshot:
        args = (SNAPSHOT_ROW, CAPACITY, 4, MAX_FILLS, NUM_TRADERS)
        return jl.book_from_snapshot(*args), ref.book_from_snapshot(*args)
    return (
        jl.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS),
        ref.empty_book(CAPACITY, MAX_FILLS, NUM_TRADERS),
    )


def _check_stream(replay, compare, seed: int, snapshot: bool, mix) -> dict:
    jax_book, ref_book = _books(snapshot)
    msgs = rm.random_stream(
        np.random.default_rng(seed), NUM_MESSAGES, ref_book, mix=mix, max_size=30
    )
    _, stacked = replay(jax_book, jnp.asarray(msgs), LEVELS)
    books, fills, tops = jax.device_get(stacked)
    for i, msg in enumerate(msgs):
        ref_book, ref_fills = ref.apply_message(ref_book, msg)
        step = compare["at"]((books, fills, tops), i)
        problems = compare["step"](*step, ref_book, ref_fills, LEVELS)
        assert not problems, f"seed {seed}, message {i} {msg.tolist()}: {problems[:4]}"
    return ref_book.counters


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_match_reference_after_every_message(replay, compare, seed):
    counters = _check_stream(replay, compare, seed, snapshot=bool(seed % 2), mix=MIX)
    # The streams must reach the paths they are meant to test.
    for name in ("evicted_orders", "unmatched_cancels", "size_mismatches", "invalid_messages"):
        assert counters[name] > 0, name


@pytest.mark.parametrize("seed", range(100, 103))
def test_snapshot_fallbacks_match_reference(replay, compare, streams, seed):
    counters = _check_stream(replay, compare, seed, snapshot=True, mix=streams["fallback_mix"])
    assert counters["snapshot_fallbacks"] > 0


def test_every_path_is_reached_over_the_seeds():
    """All counters and kinds are exercised somewhere by the streams of the tests above."""
    totals = dict.fromkeys(ref.COUNTER_NAMES, 0)
    for seed, snapshot in [(s, bool(s % 2)) for s in range(6)]:
        _, book = _books(snapshot)
        msgs = rm.random_stream(
            np.random.default_rng(seed), NUM_MESSAGES, book, mix=MIX, max_size=30
        )
        book, _ = ref.apply_messages(book, msgs)
        for name, value in book.counters.items():
            totals[name] += value
    missing = [
        name for name, value in totals.items() if value == 0 and name != "snapshot_fallbacks"
    ]
    assert not missing


def test_vmapped_batch_and_batch_totals_match_reference(compare):
    """apply_messages under vmap over 6 books: final orders, counters and batch totals."""
    streams, jax_books, ref_books = [], [], []
    for seed in range(6):
        jax_book, ref_book = _books(snapshot=bool(seed % 2))
        streams.append(
            rm.random_stream(np.random.default_rng(seed + 50), 200, ref_book, mix=MIX, max_size=30)
        )
        jax_books.append(jax_book)
        ref_books.append(ref_book)
    batched = jax.tree.map(lambda *xs: jnp.stack(xs), *jax_books)
    run = jax.jit(jax.vmap(jl.apply_messages))
    final, record = jax.device_get(run(batched, jnp.asarray(np.stack(streams))))
    for b, (ref_book, msgs) in enumerate(zip(ref_books, streams, strict=True)):
        ref_book, ref_record = ref.apply_messages(ref_book, msgs)
        book = compare["at"](final, b)
        assert compare["totals"](compare["at"](record.totals, b), ref_record.totals) == []
        assert record.fills is None
        jax_orders, ref_orders = jl.book_orders(book), ref.book_orders(ref_book)
        for side in ("bids", "asks"):
            for name, values in ref_orders[side].items():
                np.testing.assert_array_equal(jax_orders[side][name], values)
        for name, value in ref_book.counters.items():
            assert int(getattr(book.counters, name)) == value, name
