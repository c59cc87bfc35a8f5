"""Real data: the GOOG 2012-06-21 LOBSTER sample (level 10), first few thousand messages.

Two oracles. (1) LOBSTER itself: a book built from orderbook row k-1 plus message k must give row
k, except where a level below the tenth becomes visible (the file does not show it, so the engine
cannot know it). (2) The reference book: a full replay from the first row gives identical orders
and top levels after every message, and is never crossed.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref

NUM_MESSAGES = 2000
LEVELS = 10
STEM = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz"
_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [
    _ROOT / "data",
    _ROOT / "data" / "lobster",
    _ROOT.parent / "shared" / "data" / "lobster",
]


def _data_dir() -> Path:
    for folder in _CANDIDATES:
        if (folder / STEM.format("message")).exists():
            return folder
    pytest.skip(f"GOOG LOBSTER sample not found in {[str(c) for c in _CANDIDATES]}")


@pytest.fixture(scope="module")
def goog():
    """Messages 1..NUM_MESSAGES as engine messages, and orderbook rows 0..NUM_MESSAGES (int32)."""
    folder = _data_dir()
    names = ["time", "type", "order_id", "size", "price", "direction"]
    msg = pd.read_csv(
        folder / STEM.format("message"), header=None, names=names, nrows=NUM_MESSAGES + 1
    )
    book = pd.read_csv(folder / STEM.format("orderbook"), header=None, nrows=NUM_MESSAGES + 1)
    seconds = np.floor(msg["time"].to_numpy())
    nanos = np.round((msg["time"].to_numpy() - seconds) * 1e9)
    fields = {
        m.TYPE: msg["type"],
        m.DIRECTION: msg["direction"],
        m.SIZE: msg["size"],
        m.PRICE: msg["price"],
        m.ORDER_ID: msg["order_id"],
        m.TIME_S: seconds,
        m.TIME_NS: nanos,
    }
    msgs = np.zeros((NUM_MESSAGES + 1, m.NUM_FIELDS), np.int32)
    for index, column in fields.items():
        msgs[:, index] = np.asarray(column, dtype=np.int64)
    rows = np.stack(
        [jl.lobster_row_to_int32(r, f"orderbook row {i}") for i, r in enumerate(book.to_numpy())]
    )
    return msgs[1:], rows


def test_one_message_from_each_file_row_gives_the_next_row(goog):
    msgs, rows = goog

    def one_step(row, msg):
        book = jl.book_from_snapshot(row, 16, LEVELS)
        book, _ = jl.apply_message(book, msg)
        return jl.top_levels(book, LEVELS), book.counters.unmatched_cancels

    tops, unmatched = jax.device_get(
        jax.jit(jax.vmap(one_step))(jnp.asarray(rows[:-1]), jnp.asarray(msgs))
    )
    expected = rows[1:]
    differs = tops != expected
    # Only the tenth level may differ, and only where the engine shows it empty (unseen depth).
    ask_unseen = tops[:, 4 * (LEVELS - 1) + 1] == 0
    bid_unseen = tops[:, 4 * (LEVELS - 1) + 3] == 0
    allowed = np.zeros_like(differs)
    allowed[:, 4 * (LEVELS - 1) : 4 * (LEVELS - 1) + 2] = ask_unseen[:, None]
    allowed[:, 4 * (LEVELS - 1) + 2 :] = bid_unseen[:, None]
    bad = np.flatnonzero((differs & ~allowed).any(axis=1))
    assert bad.size == 0, f"messages {bad[:5] + 1} disagree with the file"
    assert (~differs).all(axis=1).mean() > 0.5  # most rows match in full
    assert unmatched.sum() == 0  # every cancel names a visible order or a snapshot level


def test_replay_matches_reference_after_every_message(goog, compare):
    msgs, rows = goog
    book = jl.book_from_snapshot(rows[0], 200, LEVELS)
    ref_book = ref.book_from_snapshot(rows[0], 200, LEVELS)

    @jax.jit
    def replay(book, msgs):
        def step(book, msg):
            book, _ = jl.apply_message(book, msg)
            return book, (book, jl.top_levels(book, LEVELS), jnp.stack(jl.best_bid_ask(book)))

        return jax.lax.scan(step, book, msgs)[1]

    books, tops, best = jax.device_get(replay(book, jnp.asarray(msgs)))
    bid, ask = best[:, 0], best[:, 1]
    assert (bid < ask).all()
    for i, msg in enumerate(msgs):
        ref_book, _ = ref.apply_message(ref_book, msg)
        np.testing.assert_array_equal(
            tops[i], ref.top_levels(ref_book, LEVELS), err_msg=f"message {i}"
        )
        jax_orders, ref_orders = jl.book_orders(compare["at"](books, i)), ref.book_orders(ref_book)
        for side in ("bids", "asks"):
            for name, values in ref_orders[side].items():
                np.testing.assert_array_equal(
                    jax_orders[side][name], values, err_msg=f"message {i}"
                )
    final = compare["at"](books, len(msgs) - 1)
    for name, value in ref_book.counters.items():
        assert int(getattr(final.counters, name)) == value, name
    assert (
        ref_book.counters["hidden_executions"] > 0 and ref_book.counters["snapshot_fallbacks"] > 0
    )
