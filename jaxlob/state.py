"""Book state: two sides of fixed-size arrays kept in priority order, plus counters.

Each side is a ring buffer of ``capacity`` slots. Logical slot ``j`` (0 = best priority) lives in
physical slot ``(head + j) % capacity``; the first ``count`` logical slots hold orders, sorted by
price (best first) and, within a price, by arrival sequence. A ring buffer makes the removal of the
filled prefix after a sweep a move of ``head`` instead of a shift of every array; an insert or a
single removal shifts part of the side by one slot towards the back (one static roll and a select;
a removal then advances ``head``). ``jaxlob.priority`` holds the arithmetic of this layout (ranks,
slots, prefix sums in priority order); use ``jaxlob.views`` to read the book rather than the raw
arrays. Free slots hold zeros.

Prices are LOBSTER integers (``messages.PRICE_UNIT`` to the dollar) in int32. LOBSTER marks empty
levels of its orderbook files with the dummy prices +9999999999 (asks) and -9999999999 (bids), which
do not fit int32; the engine uses ``DUMMY_ASK_PRICE = 2**31 - 1`` and
``DUMMY_BID_PRICE = -(2**31 - 1)`` instead, and ``lobster_row_to_int32`` maps LOBSTER's values to
them.

Limits, and what happens at them (never a silent wrap):

- capacity up to ``MAX_CAPACITY`` orders per side; a full side evicts (counted in ``evicted_*``);
- at most ``MAX_SIDE_SHARES`` (2**30 - 1) shares resting on one side, so that every int32 sum over
  a side (the prefix sums of matching, level sizes) and the volume of one message (at most one side,
  twice that for unattributed volume) are exact. A SUBMIT remainder, a snapshot level or a
  re-synchronised order that would take its side above it is refused and counted in
  ``over_limit_orders`` and ``over_limit_shares``; no real book comes near (a LOBSTER side holds
  well under 10**8 shares);
- share totals and fill counts in ``Counters`` are ``jaxlob.wide.Wide`` (two int32 words, exact to
  2**61; ``int(counter)`` reads one), since a liquid day can cancel more than 2**31 shares;
- the other counters count messages or orders in int32, like the arrival sequence: exact for up to
  2**31 - 1 messages per book (a LOBSTER day has well under 10**9).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxlob.priority import price_sort_key
from jaxlob.wide import Wide, saturating_cumsum, saturating_sum, wide_sum, wide_zero

DUMMY_ASK_PRICE = 2**31 - 1
DUMMY_BID_PRICE = -(2**31 - 1)
LOBSTER_DUMMY_ASK_PRICE = 9999999999
LOBSTER_DUMMY_BID_PRICE = -9999999999
# Orders created from a snapshot get ids SNAPSHOT_ID_BASE, SNAPSHOT_ID_BASE - 1, ...; LOBSTER's ids
# are positive and agents must use ids above SNAPSHOT_ID_BASE, so the two can never collide.
SNAPSHOT_ID_BASE = -1_000_000_000
DEFAULT_MAX_FILLS = 8
MAX_CAPACITY = 2**15 - 1  # the engine packs per-message counts of orders into 16 bits
MAX_SIDE_SHARES = 2**30 - 1  # shares resting on one side (see the module docstring)
DEFAULT_NUM_TRADERS = 2


@struct.dataclass
class Side:
    """One side of the book: order fields per slot, in ring-buffer priority order."""

    price: jax.Array  # (capacity,) int32
    quantity: jax.Array  # (capacity,) int32, > 0 for every order
    order_id: jax.Array  # (capacity,) int32
    trader_id: jax.Array  # (capacity,) int32
    arrival: jax.Array  # (capacity,) int32, the book's message sequence number at arrival
    head: jax.Array  # () int32, physical slot of the best order
    count: jax.Array  # () int32, number of resting orders


@struct.dataclass
class Counters:
    """Everything the engine could not apply as asked, and the shares that left the book.

    Fields named in ``WIDE_COUNTERS`` are ``Wide`` (exact beyond 2**31); the others int32.
    """

    messages: jax.Array  # messages applied, padding included
    evicted_orders: jax.Array  # orders dropped from a full side (the worst one, or the newcomer)
    evicted_shares: Wide
    cancelled_shares: Wide  # shares removed by CANCEL, DELETE and CANCEL_ID
    dropped_shares: Wide  # unfilled remainders of MARKET (IOC) orders
    unmatched_cancels: jax.Array  # CANCEL/DELETE/CANCEL_ID with no order (nor snapshot level)
    unmatched_executions: jax.Array  # EXECUTE with no order (nor snapshot level)
    snapshot_fallbacks: jax.Array  # CANCEL/DELETE/EXECUTE applied to a snapshot aggregate order
    size_mismatches: jax.Array  # reductions larger than the order, DELETE of a different size
    duplicate_ids: jax.Array  # SUBMIT whose order id is already resting (rejected)
    invalid_messages: jax.Array  # bad direction, size, price, snapshot-range id or halt code
    unknown_types: jax.Array  # TYPE outside 0..9 (ignored)
    hidden_executions: jax.Array
    hidden_volume: Wide
    cross_trades: jax.Array
    cross_volume: Wide
    fill_overflow: Wide  # fills beyond a message's max_fills slots (still in the totals)
    unattributed_volume: Wide  # traded shares of traders outside 0..num_traders-1
    over_limit_orders: jax.Array  # orders refused: their side would exceed MAX_SIDE_SHARES
    over_limit_shares: Wide


WIDE_COUNTERS = (
    "evicted_shares",
    "cancelled_shares",
    "dropped_shares",
    "hidden_volume",
    "cross_volume",
    "fill_overflow",
    "unattributed_volume",
    "over_limit_shares",
)


@struct.dataclass
class BookState:
    """A limit order book; ``max_fills`` and ``num_traders`` are static (they set record shapes)."""

    bids: Side
    asks: Side
    counters: Counters
    next_arrival: jax.Array  # () int32, sequence number the next message gets
    halt_state: jax.Array  # () int32, messages.TRADING / HALTED / QUOTING
    time_s: jax.Array  # () int32, time of the last message that was not padding
    time_ns: jax.Array
    max_fills: int = struct.field(pytree_node=False, default=DEFAULT_MAX_FILLS)
    num_traders: int = struct.field(pytree_node=False, default=DEFAULT_NUM_TRADERS)

    @property
    def capacity(self) -> int:
        return self.bids.price.shape[-1]


def _zero():
    return jnp.zeros((), jnp.int32)


def empty_side(capacity: int) -> Side:
    """A side with no orders."""
    zeros = jnp.zeros((capacity,), jnp.int32)
    return Side(zeros, zeros, zeros, zeros, zeros, _zero(), _zero())


def empty_counters() -> Counters:
    return Counters(
        **{
            name: wide_zero() if name in WIDE_COUNTERS else _zero()
            for name in Counters.__dataclass_fields__
        }
    )


def _check_static(capacity: int, max_fills: int, num_traders: int) -> None:
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise ValueError(f"capacity must be an int in 1..{MAX_CAPACITY}, got {capacity!r}")
    if not isinstance(max_fills, int) or max_fills < 1:
        raise ValueError(f"max_fills must be a positive int, got {max_fills!r}")
    if not isinstance(num_traders, int) or num_traders < 1:
        raise ValueError(f"num_traders must be a positive int, got {num_traders!r}")


def empty_book(
    capacity: int,
    max_fills: int = DEFAULT_MAX_FILLS,
    num_traders: int = DEFAULT_NUM_TRADERS,
) -> BookState:
    """An empty book with ``capacity`` order slots per side.

    ``max_fills`` is the number of fill rows a message reports (more are counted, and still enter
    the volume totals); ``num_traders`` the number of trader ids (0..num_traders-1) whose traded
    volume and notional are reported separately.
    """
    _check_static(capacity, max_fills, num_traders)
    return BookState(
        bids=empty_side(capacity),
        asks=empty_side(capacity),
        counters=empty_counters(),
        next_arrival=_zero(),
        halt_state=_zero(),
        time_s=_zero(),
        time_ns=_zero(),
        max_fills=max_fills,
        num_traders=num_traders,
    )


def lobster_row_to_int32(row, where: str = "orderbook row") -> np.ndarray:
    """A LOBSTER orderbook row (ints or floats) as int32, dummy prices mapped to the int32 sentinels.

    Raises ValueError naming ``where`` and the column for a value that is not an integer or does not
    fit int32.
    """
    values = np.asarray(row)
    if values.ndim != 1 or values.size % 4:
        raise ValueError(f"{where}: expected 4 columns per level, got shape {values.shape}")
    out = np.empty(values.shape, np.int64)
    for col, value in enumerate(values.tolist()):
        if not np.isfinite(value) or float(value) != int(value):
            raise ValueError(f"{where}, column {col + 1}: {value!r} is not an integer")
        value = int(value)
        is_price = col % 2 == 0
        if is_price and value >= LOBSTER_DUMMY_ASK_PRICE:
            value = DUMMY_ASK_PRICE
        elif is_price and value <= LOBSTER_DUMMY_BID_PRICE:
            value = DUMMY_BID_PRICE
        elif not DUMMY_BID_PRICE <= value <= DUMMY_ASK_PRICE:
            raise ValueError(f"{where}, column {col + 1}: {value} does not fit int32")
        out[col] = value
    return out.astype(np.int32)


def _snapshot_side(prices, sizes, capacity: int, is_ask: bool, id_offset: int):
    """One side of a snapshot: one aggregate order per non-empty level, best first (levels at the
    same price are one level, their sizes added, capped at 2**31 - 1). Levels from the first that would take the side
    above ``MAX_SIDE_SHARES`` on are refused; of the others, those beyond ``capacity`` are evicted.
    Returns the side and the (evicted, refused) counts."""
    num_levels = prices.shape[0]
    present = (sizes > 0) & (prices > 0) & (prices < DUMMY_ASK_PRICE)
    same = present[None, :] & (prices[None, :] == prices[:, None])  # (level, level)
    earlier = jnp.tril(same, k=-1)
    sizes = jax.vmap(saturating_sum)(jnp.where(same, sizes[None, :], 0))
    present = present & ~jnp.any(earlier, axis=1)  # the first level at each price stands for all
    key = jnp.where(present, price_sort_key(prices, is_ask), DUMMY_ASK_PRICE)  # empty levels last
    order = jnp.argsort(key, stable=True)
    prices, sizes, present = prices[order], sizes[order], present[order]
    sizes = jnp.where(present, sizes, 0)
    within = saturating_cumsum(sizes) <= MAX_SIDE_SHARES  # a prefix of the levels
    refused = present & ~within
    present = present & within
    level = jnp.arange(num_levels, dtype=jnp.int32)
    # Ids and arrival numbers follow the level, so they cannot collide with each other either.
    ids = SNAPSHOT_ID_BASE - 2 * level - id_offset
    arrivals = 2 * level + id_offset
    kept = min(num_levels, capacity)
    pad = capacity - kept

    def place(x):
        x = jnp.where(present, x, 0)[:kept]
        return jnp.concatenate([x, jnp.zeros((pad,), jnp.int32)])

    num_present = jnp.sum(present, dtype=jnp.int32)
    count = jnp.minimum(num_present, capacity)
    side = Side(
        price=place(prices),
        quantity=place(sizes),
        order_id=place(ids),
        trader_id=jnp.zeros((capacity,), jnp.int32),
        arrival=place(arrivals),
        head=_zero(),
        count=count,
    )
    lost = present & (level >= capacity)

    def counted(mask):
        return jnp.sum(mask, dtype=jnp.int32), wide_sum(jnp.where(mask, sizes, 0))

    return side, counted(lost), counted(refused)


def book_from_snapshot(
    row,
    capacity: int,
    num_levels: int,
    max_fills: int = DEFAULT_MAX_FILLS,
    num_traders: int = DEFAULT_NUM_TRADERS,
) -> BookState:
    """A book holding one aggregate order per level of a LOBSTER orderbook row.

    ``row`` has ``4 * num_levels`` values: ask price 1, ask size 1, bid price 1, bid size 1, ask
    price 2, ... A level is empty when its size is <= 0 or its price is a dummy: LOBSTER's
    +-9999999999 (or anything beyond) in a NumPy/Python row, which is converted on the host, or
    ``DUMMY_ASK_PRICE``/``DUMMY_BID_PRICE`` (or any price <= 0) in an int32 JAX array, which is the
    form to use under jit/vmap. Snapshot orders belong to trader 0 and get ids at or below
    ``SNAPSHOT_ID_BASE``. Levels beyond ``capacity`` are counted as evicted; levels from the first
    that would take a side above ``MAX_SIDE_SHARES`` on are refused and counted in ``over_limit_*``.
    """
    _check_static(capacity, max_fills, num_traders)
    if isinstance(row, jax.Array):
        chex.assert_type(row, int)  # a float row would be truncated silently below
    else:
        row = lobster_row_to_int32(row)
    row = jnp.asarray(row, jnp.int32)
    if row.shape != (4 * num_levels,):
        raise ValueError(
            f"snapshot row: expected {4 * num_levels} values for {num_levels} levels, got shape {row.shape}"
        )
    return _snapshot_book(row, capacity, num_levels, max_fills, num_traders)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _snapshot_book(row, capacity, num_levels, max_fills, num_traders) -> BookState:
    asks, lost_a, refused_a = _snapshot_side(row[0::4], row[1::4], capacity, True, 0)
    bids, lost_b, refused_b = _snapshot_side(row[2::4], row[3::4], capacity, False, 1)
    book = empty_book(capacity, max_fills, num_traders)
    counters = book.counters.replace(
        evicted_orders=lost_a[0] + lost_b[0],
        evicted_shares=lost_a[1].plus(lost_b[1]),
        over_limit_orders=refused_a[0] + refused_b[0],
        over_limit_shares=refused_a[1].plus(refused_b[1]),
    )
    return book.replace(
        bids=bids,
        asks=asks,
        counters=counters,
        next_arrival=jnp.asarray(2 * num_levels, jnp.int32),
    )
