"""Property-based tests (hypothesis): random message streams through the engine and the reference
book, compared after every message, and the invariants the engine promises checked on its own.

A stream is a list of small tuples of codes (type, direction, size, price, id, trader) of drawn
length, so that hypothesis shrinks a failure to a short stream of simple messages (a buy SUBMIT of
1 share at the lowest price of the example, id 1, trader 0, unless the failure needs more). Prices sit at the bottom of the int32 range or at its
top (next to the dummy prices), sizes run from 1 share to 2**31 - 1 (past ``MAX_SIDE_SHARES``), ids
mix market data, the agent's id range and snapshot ids; every event type 1-9 appears, with unknown
types and invalid fields. Streams are padded with NOOPs to one length, and each capacity has one
compiled replay, so every example reuses it.

Profiles (``JAXLOB_HYPOTHESIS_PROFILE``): ``engine-ci`` (default: bounded, derandomised, no example
database) and ``engine-deep`` (many more examples, random).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax import lax

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref

# Registered alike in test_property_engine and test_property_resync (whichever loads first).
_PROFILE = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
settings.register_profile("engine-ci", max_examples=150, derandomize=True, **_PROFILE)
settings.register_profile("engine-deep", max_examples=2000, **_PROFILE)
PROFILE = settings.get_profile(os.environ.get("JAXLOB_HYPOTHESIS_PROFILE", "engine-ci"))

LENGTH, LEVELS, SNAPSHOT_LEVELS, MAX_FILLS, NUM_TRADERS = 24, 3, 2, 2, 2
CAPACITIES = (2, 5)
LIMIT = jl.MAX_SIDE_SHARES
TOP = jl.DUMMY_ASK_PRICE - 1
BASES = (1, TOP - 7)  # prices base + 0..7: the lowest valid price, or up to the highest
AGENT_ID_BASE = -900_000_000  # envs.replay.orders.AGENT_ID_BASE (jaxlob tests import no envs)
TYPES = tuple(range(m.NUM_TYPES)) + (10, -1)  # code 0 = NOOP; then 1..9; unknown types
DIRECTIONS = (m.BUY, m.SELL, 0)
SIZES = (1, 2, 3, 7, LIMIT // 2, LIMIT - 1, LIMIT, jl.INT32_MAX, 0)
IDS = (
    1,
    2,
    3,
    4,
    5,
    6,
    AGENT_ID_BASE,
    AGENT_ID_BASE + 1,
    jl.SNAPSHOT_ID_BASE,
    jl.SNAPSHOT_ID_BASE - 1,
)
# Counters that say a message (or part of it) was not applied as asked.
NOT_APPLIED = (
    "unmatched_cancels",
    "unmatched_executions",
    "duplicate_ids",
    "invalid_messages",
    "unknown_types",
    "evicted_orders",
    "over_limit_orders",
    "dropped_shares",
)


def _mostly(common, every):
    """Draw from ``common`` (small codes) or, as often, from ``every`` code; both shrink to 0."""
    return st.one_of(st.integers(0, common), st.integers(0, every))


# One message: type (mostly SUBMIT, cancels, executions, MARKET and CANCEL_ID), direction (now
# and then invalid), size (mostly small), price (now and then 0 or the dummy ask price), id, trader.
codes = st.tuples(
    st.one_of(st.sampled_from((1, 1, 1, 2, 3, 4, 8, 9)), st.integers(0, len(TYPES) - 1)),
    _mostly(1, len(DIRECTIONS) - 1),
    _mostly(3, len(SIZES) - 1),
    _mostly(7, 9),  # 0..7: base + code; 8: price 0; 9: the dummy ask price
    _mostly(5, len(IDS) - 1),
    st.integers(0, 2),  # trader 2 is outside 0..NUM_TRADERS-1
)
# Streams of uniformly drawn length (a shorter stream is a simpler one).
streams = st.integers(0, LENGTH).flatmap(lambda n: st.lists(codes, min_size=n, max_size=n))
# A snapshot: per side, price codes 0..3 (repeated ones are one level) and size codes.
price_codes = st.lists(st.integers(0, 3), min_size=SNAPSHOT_LEVELS, max_size=SNAPSHOT_LEVELS)
size_codes = st.lists(
    st.integers(0, len(SIZES) - 2), min_size=SNAPSHOT_LEVELS, max_size=SNAPSHOT_LEVELS
)
snapshots = st.tuples(price_codes, size_codes, price_codes, size_codes)
examples = st.fixed_dictionaries(
    {
        "capacity": st.sampled_from(CAPACITIES),
        "base": st.sampled_from(BASES),
        "snapshot": st.none() | snapshots,
        "stream": streams,
    }
)


def _price(code: int, base: int) -> int:
    return base + code if code < 8 else (0 if code == 8 else jl.DUMMY_ASK_PRICE)


def _messages(stream, base: int) -> np.ndarray:
    rows = np.zeros((LENGTH, m.NUM_FIELDS), np.int64)
    for i, (t, d, s, p, o, trader) in enumerate(stream):
        rows[i, :6] = (TYPES[t], DIRECTIONS[d], SIZES[s], _price(p, base), IDS[o], trader)
        rows[i, 6:] = (34_200 + i, 7 * i)
    return rows


def _snapshot_row(snapshot, base: int) -> np.ndarray:
    """Asks at base + 4..7, bids at base + 0..3 (never crossed), LOBSTER layout."""
    ask_prices, ask_sizes, bid_prices, bid_sizes = snapshot
    row = []
    for k in range(SNAPSHOT_LEVELS):
        row += [base + 4 + ask_prices[k], SIZES[ask_sizes[k]], base + bid_prices[k]]
        row += [SIZES[bid_sizes[k]]]
    return np.asarray(row, np.int64)


@functools.partial(jax.jit, static_argnames=("levels",))
def _replay(book, msgs, levels):
    def step(book, msg):
        book, fills = jl.apply_message(book, msg)
        return book, (book, fills, jl.top_levels(book, levels))

    return lax.scan(step, book, msgs)[1]


def _books(example):
    capacity = example["capacity"]
    if example["snapshot"] is None:
        args = (capacity, MAX_FILLS, NUM_TRADERS)
        return jl.empty_book(*args), ref.empty_book(*args)
    row = _snapshot_row(example["snapshot"], example["base"])
    args = (capacity, SNAPSHOT_LEVELS, MAX_FILLS, NUM_TRADERS)
    return jl.book_from_snapshot(jnp.asarray(row, jnp.int32), *args), ref.book_from_snapshot(
        row, *args
    )


def _orders_by_id(book) -> dict[int, tuple[int, int, bool]]:
    out = {}
    for side in ("bids", "asks"):
        o = jl.book_orders(book)[side]
        for oid, p, q in zip(o["order_id"].tolist(), o["price"].tolist(), o["quantity"].tolist()):
            out[oid] = (p, q, side == "asks")
    return out


def _resting(book) -> int:
    orders = jl.book_orders(book)
    return int(orders["bids"]["quantity"].sum()) + int(orders["asks"]["quantity"].sum())


def _counter(book, name) -> int:
    return int(getattr(book.counters, name))


def _left(book) -> int:
    """Shares that left the book other than by trading (or never entered it)."""
    names = ("cancelled_shares", "evicted_shares", "over_limit_shares")
    return sum(_counter(book, n) for n in names)


def _check_invariants(i, msg, before, book, fills, capacity, ledger) -> None:
    """The engine's promises for one message, from its own outputs (no reference)."""
    where = f"message {i} {msg.tolist()}"
    orders = jl.book_orders(book)
    # Never crossed; each side in priority order; quantities positive; free slots cleared;
    # at most MAX_SIDE_SHARES per side; order ids unique in the book.
    bid, ask = (int(x) for x in jl.best_bid_ask(book))
    if orders["bids"]["price"].size and orders["asks"]["price"].size:
        assert bid < ask, f"{where}: crossed {bid} >= {ask}"
    ids = []
    for side, sign in (("bids", -1), ("asks", 1)):
        o = orders[side]
        key = list(zip((sign * o["price"].astype(np.int64)).tolist(), o["arrival"].tolist()))
        assert key == sorted(key) and len(set(key)) == len(key), f"{where}: {side} unsorted"
        assert (o["quantity"] > 0).all(), f"{where}: {side} has an empty order"
        assert int(o["quantity"].astype(np.int64).sum()) <= LIMIT, f"{where}: {side} over the limit"
        raw = getattr(book, side)
        assert int((raw.quantity != 0).sum()) == int(raw.count) <= capacity
        ids += o["order_id"].tolist()
    assert len(set(ids)) == len(ids), f"{where}: repeated order ids"

    # Fills at the resting order's price, within the aggressor's limit.
    resting_before = _orders_by_id(before)
    typ, direction, size, price = (int(v) for v in msg[:4])
    for p, q, oid in zip(fills.price.tolist(), fills.quantity.tolist(), fills.order_id.tolist()):
        if q == 0:
            continue
        assert oid in resting_before, f"{where}: fill of an order that did not rest"
        assert resting_before[oid][0] == p and resting_before[oid][1] >= q, f"{where}: fill"
        if typ == m.SUBMIT or (typ == m.MARKET and price > 0):
            assert (p <= price) if direction == m.BUY else (p >= price), f"{where}: limit"

    # Shares conserved: what entered = resting + traded + cancelled + evicted + refused.
    volume = int(fills.totals.volume)
    accepted = (
        typ == m.SUBMIT
        and direction in (m.BUY, m.SELL)
        and size > 0
        and 0 < price < jl.DUMMY_ASK_PRICE
        and int(msg[m.ORDER_ID]) > jl.SNAPSHOT_ID_BASE
        and _counter(book, "duplicate_ids") == _counter(before, "duplicate_ids")
    )
    if accepted:
        ledger["added"] += size
        ledger["aggressor"] += volume
    ledger["resting"] += volume
    left = _left(book)
    assert ledger["added"] == _resting(book) + ledger["aggressor"] + ledger["resting"] + left, (
        f"{where}: shares not conserved"
    )

    # Every message that changed nothing is counted as such.
    changed = (
        _orders_by_id(book) != resting_before
        or volume > 0
        or int(fills.totals.off_book_volume) > 0
        or int(book.halt_state) != int(before.halt_state)
    )
    counted = any(_counter(book, n) > _counter(before, n) for n in NOT_APPLIED)
    if typ != m.NOOP and not (typ == m.HALT and price in (-1, 0, 1)):
        assert changed or counted, f"{where}: nothing happened and nothing was counted"


@settings(PROFILE)
@given(example=examples)
def test_engine_matches_reference_and_keeps_its_invariants(example, compare):
    book, ref_book = _books(example)
    msgs = _messages(example["stream"], example["base"])
    books, fills, tops = jax.device_get(_replay(book, jnp.asarray(msgs, jnp.int32), LEVELS))
    before = jax.device_get(book)
    ledger = {"added": _resting(before) + _left(before), "aggressor": 0, "resting": 0}
    for i in range(len(example["stream"])):
        ref_book, ref_fills = ref.apply_message(ref_book, msgs[i])
        step = compare["at"]((books, fills, tops), i)
        problems = compare["step"](*step, ref_book, ref_fills, LEVELS)
        assert not problems, f"message {i} {msgs[i].tolist()}: {problems[:4]}"
        _check_invariants(i, msgs[i], before, step[0], step[1], example["capacity"], ledger)
        before = step[0]
