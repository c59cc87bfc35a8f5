"""Random messages drawn on the device from a book's own state, for the soak (``jaxlob.soak``).

The device analogue of ``jaxlob.random_messages`` (which draws on the host against a reference
book): one jit/vmap-able function draws each message from the book it is about to be applied to, so
that cancels, deletes and executions name resting orders. Every path of the engine is reached:
passive and crossing orders, sweeps of many levels, market and IOC orders, cancels, deletes and
executions by id with matching and mismatched sizes, unknown ids (snapshot fallbacks, unmatched),
resting ids at the wrong price, cancel by id, hidden and cross trades (some of 2**31 - 1 shares),
halts, padding, unknown types, invalid fields, duplicate ids, orders at the share limit and, in
small books, evictions. ``KINDS`` and ``WEIGHTS`` give the mix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlob import messages as m
from jaxlob.priority import slot_of_rank
from jaxlob.state import MAX_SIDE_SHARES, SNAPSHOT_ID_BASE, BookState
from jaxlob.views import best_bid_ask
from jaxlob.wide import INT32_MAX

_I32 = jnp.int32
KINDS = (
    "passive",
    "crossing",
    "market",
    "cancel",
    "delete",
    "execute",
    "cancel_id",
    "unknown_id",
    "wrong_price",
    "hidden",
    "cross",
    "halt",
    "noop",
    "unknown_type",
    "invalid",
    "duplicate",
    "huge",
)
WEIGHTS = (
    0.34,
    0.07,
    0.04,
    0.08,
    0.11,
    0.08,
    0.05,
    0.05,
    0.02,
    0.03,
    0.02,
    0.01,
    0.02,
    0.02,
    0.03,
    0.02,
    0.01,
)
_THRESHOLDS = np.round(np.cumsum(WEIGHTS)[:-1] / np.sum(WEIGHTS) * 2**32).astype(np.uint32)
TRADERS = (0, 0, 0, 1, 2)
_NUM_DRAWS = 12


class _Draws:
    """Uniform draws from one key: ``below(i, n)`` in 0..n-1, ``chance(i, p)``."""

    def __init__(self, key):
        self.bits = jax.random.bits(key, (_NUM_DRAWS,), jnp.uint32)

    def below(self, i: int, n) -> jax.Array:
        n = jnp.maximum(jnp.asarray(n, _I32), 1).astype(jnp.uint32)
        return (self.bits[i] % n).astype(_I32)

    def chance(self, i: int, p: float) -> jax.Array:
        return self.bits[i] < jnp.uint32(int(p * 2**32))

    def pick(self, i: int, values) -> jax.Array:
        return jnp.asarray(values, _I32)[self.below(i, len(values))]


def draw_message(key, book: BookState, base, next_id, step, max_size: int = 100):
    """One message for ``book`` (int32, ``messages`` layout) and the next fresh id.

    ``base`` is the book's reference price (used while a side is empty), ``next_id`` the next
    fresh order id (positive, like LOBSTER's), ``step`` the message's index (its time: a
    millisecond apart from 09:30 on).
    """
    r = _Draws(key)
    kind = jnp.sum(r.bits[0] >= jnp.asarray(_THRESHOLDS), dtype=_I32)
    buy = r.chance(1, 0.5)
    d = jnp.where(buy, m.BUY, m.SELL)
    trader = r.pick(2, TRADERS)
    size = 1 + r.below(3, max_size)
    best_bid, best_ask = best_bid_ask(book)
    has_bid, has_ask = book.bids.count > 0, book.asks.count > 0
    bid = jnp.where(has_bid, best_bid, jnp.where(has_ask, best_ask - 1, base - 1))
    ask = jnp.where(has_ask, best_ask, bid + 1)
    fresh = next_id

    # A resting order, drawn uniformly from a side with orders (the drawn side, if it has any).
    want_ask = r.chance(4, 0.5)
    on_ask = jnp.where(want_ask, has_ask | ~has_bid, ~has_bid)
    side = jax.tree.map(lambda a, b: jnp.where(on_ask, a, b), book.asks, book.bids)
    n = book.capacity
    slot = slot_of_rank(side.head, r.below(5, side.count), n)
    live = has_bid | has_ask
    o_price, o_qty, o_id = (
        side.price[slot],
        jnp.maximum(side.quantity[slot], 1),
        side.order_id[slot],
    )
    o_dir = jnp.where(on_ask, m.SELL, m.BUY)
    o_msg_id = jnp.where(o_id <= SNAPSHOT_ID_BASE, fresh, o_id)  # a snapshot order's id is unknown

    depth = r.below(6, 6)
    inside = r.chance(7, 0.3) & (ask - bid > 1)
    passive_price = jnp.where(buy, bid - depth, ask + depth)
    passive_price = jnp.maximum(
        jnp.where(inside, bid + 1 + r.below(8, ask - bid - 1), passive_price), 1
    )
    extra = r.below(6, 4)
    sweep = 1 + r.below(8, r.pick(9, (1, 5, 40)) * max_size)
    crossing_price = jnp.where(buy, ask + extra, jnp.maximum(bid - extra, 1))
    ioc_limit = jnp.where(r.chance(7, 0.5), 0, jnp.where(buy, ask + 1, jnp.maximum(bid - 1, 1)))
    cancel_size = r.pick(10, (0, 1, 2, 3)).astype(_I32)
    cancel_size = jnp.where(
        cancel_size == 0,
        1 + r.below(11, o_qty),
        jnp.where(
            cancel_size == 1, o_qty, jnp.where(cancel_size == 2, o_qty + 1 + r.below(11, 4), 1)
        ),
    )
    delete_size = jnp.where(r.chance(10, 0.85), o_qty, 1 + r.below(11, o_qty + 4))
    exec_size = jnp.where(r.chance(10, 0.9), 1 + r.below(11, o_qty), o_qty + 1 + r.below(11, 4))
    reduce_type = r.pick(9, (m.CANCEL, m.DELETE, m.EXECUTE))
    near_price = bid - 5 + r.below(10, ask - bid + 11)
    off_book_size = jnp.where(r.chance(11, 0.1), INT32_MAX, size)
    halt_code = r.pick(9, (-1, 0, 1, 1, 5))
    invalid = r.below(9, 5)
    invalid_msg = (
        jnp.where(invalid == 4, m.EXECUTE, m.SUBMIT),
        jnp.where(invalid == 0, r.pick(10, (0, 2)), jnp.where(invalid == 4, 0, d)),
        jnp.where(invalid == 1, r.pick(10, (0, -3)), size),
        jnp.where(invalid == 2, r.pick(10, (0, -5)), bid),
        jnp.where(invalid == 3, SNAPSHOT_ID_BASE - 7, fresh),
        0,
    )
    huge = MAX_SIDE_SHARES - r.below(10, 3)

    fallback = (m.SUBMIT, d, size, passive_price, fresh, trader)  # when no order rests
    with_live = lambda msg: tuple(jnp.where(live, a, b) for a, b in zip(msg, fallback))  # noqa: E731
    candidates = {
        "passive": fallback,
        "crossing": (m.SUBMIT, d, sweep, crossing_price, fresh, trader),
        "market": (m.MARKET, d, sweep, ioc_limit, fresh, trader),
        "cancel": with_live((m.CANCEL, o_dir, cancel_size, o_price, o_msg_id, 0)),
        "delete": with_live((m.DELETE, o_dir, delete_size, o_price, o_msg_id, 0)),
        "execute": with_live((m.EXECUTE, o_dir, exec_size, o_price, o_msg_id, trader)),
        "cancel_id": (m.CANCEL_ID, 0, 0, 0, jnp.where(live & r.chance(10, 0.8), o_id, fresh), 0),
        "unknown_id": (
            reduce_type,
            jnp.where(live, o_dir, d),
            jnp.where(live, 1 + r.below(11, 2 * o_qty + 1), size),
            jnp.where(live & r.chance(10, 0.7), o_price, near_price),
            fresh,
            0,
        ),
        "wrong_price": with_live((reduce_type, o_dir, 1, o_price + 1, o_id, 0)),
        "hidden": (m.HIDDEN, d, off_book_size, near_price, 0, 0),
        "cross": (m.CROSS, d, off_book_size, near_price, 0, 0),
        "halt": (m.HALT, 0, 0, halt_code, 0, 0),
        "noop": (m.NOOP, 0, 0, 0, 0, 0),
        "unknown_type": (r.pick(10, (10, 11, -1, 99)), d, size, bid, fresh, 0),
        "invalid": invalid_msg,
        "duplicate": with_live((m.SUBMIT, d, size, jnp.where(buy, bid, ask), o_id, 0)),
        "huge": (m.SUBMIT, d, huge, passive_price, fresh, trader),
    }
    table = jnp.stack([jnp.stack([jnp.asarray(v, _I32) for v in candidates[k]]) for k in KINDS])
    fields = table[kind]
    step = jnp.asarray(step, _I32)
    time = jnp.stack([34_200 + step // 1000, (step % 1000) * 1_000_000])
    return jnp.concatenate([fields, time]).astype(_I32), next_id + 1
