"""Shared compiled functions and comparisons for the order-book tests (compile once, reuse shapes)."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from jax import lax

import jaxlob as jl
from jaxlob import random_messages as rm
from jaxlob import reference as ref

SIDE_FIELDS = ("price", "quantity", "order_id", "trader_id", "arrival")
ROW_FIELDS = ("price", "quantity", "order_id", "trader_id")
EVICTED_FIELDS = ("evicted_order_id", "evicted_trader_id", "evicted_quantity")


@functools.partial(jax.jit, static_argnames=("levels",))
def _replay(book, msgs, levels):
    """Apply ``msgs`` one at a time; stack the book, fills and top levels after every message."""

    def step(book, msg):
        book, fills = jl.apply_message(book, msg)
        return book, (book, fills, jl.top_levels(book, levels))

    return lax.scan(step, book, msgs)


@pytest.fixture(scope="session")
def replay():
    """``replay(book, msgs, levels) -> (final book, (books, fills, tops) stacked per message)``."""
    return _replay


def at(tree, i):
    """Element ``i`` of every leaf of a stacked pytree (host arrays)."""
    return jax.tree.map(lambda x: x[i], tree)


def compare_step(jax_book, jax_fills, jax_top, ref_book, ref_fills, levels) -> list[str]:
    """Differences between the engine after one message and the reference book (empty if none)."""
    problems = []
    jax_orders, ref_orders = jl.book_orders(jax_book), ref.book_orders(ref_book)
    for side in ("bids", "asks"):
        for name in SIDE_FIELDS:
            a, b = jax_orders[side][name], ref_orders[side][name]
            if not np.array_equal(a, b):
                problems.append(f"{side}.{name}: engine {a.tolist()} reference {b.tolist()}")
    expected_top = ref.top_levels(ref_book, levels)
    if not np.array_equal(np.asarray(jax_top), expected_top):
        problems.append(f"top levels: engine {np.asarray(jax_top)} reference {expected_top}")
    for name, value in ref_book.counters.items():
        if int(getattr(jax_book.counters, name)) != value:
            problems.append(
                f"counter {name}: engine {getattr(jax_book.counters, name)} ref {value}"
            )
    if int(jax_book.halt_state) != ref_book.halt_state:
        problems.append("halt state")
    if (int(jax_book.time_s), int(jax_book.time_ns)) != (ref_book.time_s, ref_book.time_ns):
        problems.append("time")
    problems += compare_fills(jax_fills, ref_fills)
    return problems


def compare_fills(jax_fills, ref_fills) -> list[str]:
    problems = []
    rows = ref_fills.rows()
    for name in ROW_FIELDS:
        if np.asarray(getattr(jax_fills, name)).tolist() != rows[name]:
            problems.append(f"fill {name}: engine {getattr(jax_fills, name)} ref {rows[name]}")
    for name in EVICTED_FIELDS:
        if int(getattr(jax_fills, name)) != getattr(ref_fills, name):
            problems.append(
                f"{name}: engine {getattr(jax_fills, name)} ref {getattr(ref_fills, name)}"
            )
    problems += compare_totals(jax_fills.totals, ref_fills.totals)
    return problems


def compare_totals(jax_totals, ref_totals) -> list[str]:
    """Exact for volumes; float32 notionals within 1e-6 relative of the exact integer sums."""
    problems = []
    for name, value in vars(ref_totals).items():
        if name == "num_traders":
            continue
        got = np.asarray(getattr(jax_totals, name))
        want = np.asarray(value, dtype=np.float64)
        exact = np.issubdtype(got.dtype, np.integer)
        same = np.array_equal(got, want) if exact else np.allclose(got, want, rtol=1e-6, atol=0)
        if not same:
            problems.append(f"totals {name}: engine {got} reference {want}")
    return problems


@pytest.fixture(scope="session")
def compare():
    """The comparison helpers, for test modules (which cannot import this file)."""
    return {"step": compare_step, "fills": compare_fills, "totals": compare_totals, "at": at}


# Few sweeps and many unknown ids, so that snapshot levels live long enough to be named.
FALLBACK_MIX = {
    **rm.STRESS_MIX,
    "passive": 0.3,
    "crossing": 0.02,
    "market": 0.01,
    "unknown_id": 0.25,
}
# Deep sweeps: many small resting orders near the touch and aggressors of up to 40 orders' size.
DEEP_MIX = {"passive": 0.6, "crossing": 0.12, "market": 0.06, "delete": 0.17, "execute": 0.05}


def deep_sweep_stream(seed: int) -> np.ndarray:
    """60 small passive orders, then 250 messages of ``DEEP_MIX`` (64-slot books, 8 fill rows)."""
    rng = np.random.default_rng(seed)
    book = ref.empty_book(64, 8, 2)
    warm = rm.random_stream(rng, 60, book, mix={"passive": 1.0}, max_size=5)
    msgs = rm.random_stream(
        rng,
        250,
        ref.apply_messages(book, warm)[0],
        mix=DEEP_MIX,
        max_size=5,
        first_id=10_000,
        sweep_scales=(1, 40),
    )
    return np.concatenate([warm, msgs])


@pytest.fixture(scope="session")
def streams():
    """Shared stress streams: ``fallback_mix`` and ``deep_sweep_stream(seed)``."""
    return {"fallback_mix": FALLBACK_MIX, "deep_sweep_stream": deep_sweep_stream}
