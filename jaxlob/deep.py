"""Deep books: a sorted front of the best orders over an unsorted pool of the rest.

The engine's sorted side costs O(capacity) per message (an insert or a removal shifts the ranks
behind it). A ``DeepBook`` keeps, per side, the best ``front_capacity`` orders as an ordinary
sorted ``Side`` (the front, where the engine does its work) and the rest in an unsorted ``Pool``
whose slots are written one at a time. Invariant: every front order has better priority (price,
then arrival) than every pool order of its side.

Per message the pool costs one pass of reductions per side (the message's id or snapshot
aggregate, a free slot, the shares, the best price), the search for its best order after the step,
and one pass writing at most two slots; the front costs what a book of ``front_capacity`` costs.
Around the engine's step on the front:

- before it, an order the message names that rests in the pool (by id, or the snapshot aggregate
  a cancel, deletion or execution falls back to) is moved to the back of the front, the front's
  last going to the pool in its place when the front is full; a SUBMIT on a full front first
  moves the front's last to a free pool slot;
- after it, an order left at the back of the front that the pool's best beats changes places
  with it, else the pool's best tops up a front that is not full.

A message the front cannot answer alone (an aggressor that could trade through every front order
into the pool; a SUBMIT on a completely full side, whose eviction is the pool's worst order, or
one that could take its side past ``MAX_SIDE_SHARES``; a snapshot fallback with several candidates
in the pool) is applied by the engine to the whole book (front and pool merged, ``to_book``)
inside a ``while_loop`` of at most one turn: under ``vmap`` it runs only when some book of the
batch needs it. The result is the engine's on a book of the whole capacity, message by message
(``tests/jaxlob/test_deep_front_pool.py`` checks it against the reference book). On XLA:CPU this
is not faster than the sorted engine at capacity 1,000 (README, "Engine cost and deep books").
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from jaxlob import engine
from jaxlob import messages as m
from jaxlob.backend import materialise as _materialise
from jaxlob.priority import in_priority_order, logical_index, price_sort_key, slot_of_rank
from jaxlob.records import BatchRecord, Fills
from jaxlob.state import (
    DEFAULT_MAX_FILLS,
    DEFAULT_NUM_TRADERS,
    MAX_CAPACITY,
    MAX_SIDE_SHARES,
    SNAPSHOT_ID_BASE,
    BookState,
    Side,
    empty_book,
)

_I32 = jnp.int32
_HIGHEST = jnp.iinfo(jnp.int32).max
FIELDS = ("price", "quantity", "order_id", "trader_id", "arrival")


@struct.dataclass
class Pool:
    """One side's orders beyond the front, in no order; a free slot holds zeros (quantity 0)."""

    price: jax.Array  # (pool_capacity,) int32
    quantity: jax.Array
    order_id: jax.Array
    trader_id: jax.Array
    arrival: jax.Array


@struct.dataclass
class DeepBook:
    """A book of ``capacity`` orders per side: ``front`` holds each side's best orders, counters,
    clock and halt state; the pools hold the rest."""

    front: BookState
    bid_pool: Pool
    ask_pool: Pool

    @property
    def front_capacity(self) -> int:
        return self.front.capacity

    @property
    def capacity(self) -> int:
        return self.front.capacity + self.bid_pool.price.shape[-1]


def _empty_pool(size: int) -> Pool:
    zeros = jnp.zeros((size,), _I32)
    return Pool(zeros, zeros, zeros, zeros, zeros)


def _check_split(capacity: int, front_capacity: int) -> None:
    if not isinstance(front_capacity, int) or not 1 <= front_capacity < capacity:
        raise ValueError(
            f"front_capacity must be an int in 1..capacity-1 ({capacity - 1}), got {front_capacity!r}"
        )
    if capacity > MAX_CAPACITY:
        raise ValueError(f"capacity must be at most {MAX_CAPACITY}, got {capacity}")


def empty_deep_book(
    capacity: int,
    front_capacity: int,
    max_fills: int = DEFAULT_MAX_FILLS,
    num_traders: int = DEFAULT_NUM_TRADERS,
) -> DeepBook:
    """An empty book of ``capacity`` orders per side, the best ``front_capacity`` kept sorted."""
    _check_split(capacity, front_capacity)
    pool = _empty_pool(capacity - front_capacity)
    return DeepBook(empty_book(front_capacity, max_fills, num_traders), pool, pool)


# --------------------------------------------------------------------------- merge and split


def _pool_order(pool: Pool, is_ask: bool) -> jax.Array:
    """Pool slots in priority order, free slots last."""
    key = jnp.where(pool.quantity > 0, price_sort_key(pool.price, is_ask), _HIGHEST)
    return jnp.lexsort((pool.arrival, key))


def _merge_side(front: Side, pool: Pool, is_ask: bool) -> Side:
    """The side of the whole capacity in priority order (head 0): the front, then the pool."""
    ordered, _ = in_priority_order(front)
    k = front.price.shape[-1]
    order = _pool_order(pool, is_ask)
    n = k + pool.price.shape[-1]
    rank = jnp.arange(n, dtype=_I32)
    pool_count = jnp.sum(pool.quantity > 0, dtype=_I32)
    from_front = rank < front.count
    index = jnp.where(from_front, rank, k + rank - front.count)
    live = rank < front.count + pool_count

    def merged(name):
        both = jnp.concatenate([getattr(ordered, name), getattr(pool, name)[order]])
        return jnp.where(live, both[jnp.clip(index, 0, n - 1)], 0)

    return Side(
        **{name: merged(name) for name in FIELDS},
        head=jnp.zeros((), _I32),
        count=front.count + pool_count,
    )


def _split_side(side: Side, k: int) -> tuple[Side, Pool]:
    """A sorted side as its best ``k`` orders (head 0) and the rest (pool slots 0, 1, ...)."""
    n = side.price.shape[-1]
    rank = jnp.arange(n, dtype=_I32)
    slot = slot_of_rank(side.head, rank, n)
    live = rank < side.count
    values = {name: jnp.where(live, getattr(side, name)[slot], 0) for name in FIELDS}
    front = Side(
        **{name: v[:k] for name, v in values.items()},
        head=jnp.zeros((), _I32),
        count=jnp.minimum(side.count, k),
    )
    return front, Pool(**{name: v[k:] for name, v in values.items()})


def to_book(deep: DeepBook) -> BookState:
    """The same book as one ``BookState`` of the whole capacity (for views, checks, the engine)."""
    front = deep.front
    return front.replace(
        bids=_merge_side(front.bids, deep.bid_pool, False),
        asks=_merge_side(front.asks, deep.ask_pool, True),
    )


def to_deep(book: BookState, front_capacity: int) -> DeepBook:
    """A ``BookState`` split into a front of ``front_capacity`` orders per side and pools."""
    _check_split(book.capacity, front_capacity)
    return _split(book, front_capacity)


def _split(book: BookState, k: int) -> DeepBook:
    bids, bid_pool = _split_side(book.bids, k)
    asks, ask_pool = _split_side(book.asks, k)
    return DeepBook(book.replace(bids=bids, asks=asks), bid_pool, ask_pool)


# --------------------------------------------------------------------------- pool arithmetic


@struct.dataclass
class _Order:
    """One order's fields (per-book scalars)."""

    price: jax.Array
    quantity: jax.Array
    order_id: jax.Array
    trader_id: jax.Array
    arrival: jax.Array


def _pool_at(pool: Pool, slot) -> _Order:
    return _Order(*(getattr(pool, name)[slot] for name in FIELDS))


def _front_at(side: Side, rank) -> _Order:
    slot = slot_of_rank(side.head, rank, side.price.shape[-1])
    return _Order(*(getattr(side, name)[slot] for name in FIELDS))


def _best(pool: Pool, occupied, is_ask: bool):
    """Slot of the best of the ``occupied`` pool orders in priority order, and whether there is
    one (prices first, then arrival; arrivals are unique on a book)."""
    key = price_sort_key(pool.price, is_ask)
    arrival = pool.arrival
    first_key = jnp.min(jnp.where(occupied, key, _HIGHEST))
    at_key = occupied & (key == first_key)
    first_arrival = jnp.min(jnp.where(at_key, arrival, _HIGHEST))
    slot, _ = _first_slot(at_key & (arrival == first_arrival))
    return slot, jnp.any(occupied)


def _better(a: _Order, b: _Order, is_ask: bool) -> jax.Array:
    """Whether order ``a`` has priority over order ``b`` on a side."""
    ka, kb = price_sort_key(a.price, is_ask), price_sort_key(b.price, is_ask)
    return (ka < kb) | ((ka == kb) & (a.arrival < b.arrival))


def _first_slot(mask) -> tuple[jax.Array, jax.Array]:
    """The first slot where ``mask`` holds (0 if none), and whether there is one, as a min over
    slot numbers."""
    first = jnp.min(jnp.where(mask, jnp.arange(mask.shape[-1], dtype=_I32), _HIGHEST))
    found = first < _HIGHEST
    return jnp.where(found, first, 0), found


_NO_OP, _SWAP, _APPEND, _DEMOTE = 0, 1, 2, 3


def _write(x: jax.Array, slot, value) -> jax.Array:
    """``x`` with ``value`` at ``slot`` (none when ``slot`` is out of range)."""
    return jnp.where(jnp.arange(x.shape[-1], dtype=_I32) == slot, value, x)


def _zero_order() -> _Order:
    zero = jnp.zeros((), _I32)
    return _Order(zero, zero, zero, zero, zero)


def _select(flag, a: _Order, b: _Order) -> _Order:
    return jax.tree.map(lambda x, y: jnp.where(flag, x, y), a, b)


@struct.dataclass
class _PoolWrite:
    """A pool slot's new order, not yet written (slot = pool capacity: none)."""

    slot: jax.Array
    order: _Order


def _move(side: Side, op, incoming: _Order, pool_slot, pool_size: int):
    """One move between the back of the front and a pool slot: ``_SWAP`` exchanges the front's
    last order with the pool's ``incoming``; ``_APPEND`` puts ``incoming`` behind the front's last;
    ``_DEMOTE`` moves the front's last to the (free) pool slot; ``_NO_OP`` changes nothing.
    Returns the front and the pool write the move needs."""
    k = side.price.shape[-1]
    count = side.count
    last = _front_at(side, jnp.maximum(count - 1, 0))
    front_rank = jnp.where(op == _APPEND, count, count - 1)
    front_slot = jnp.where(op == _NO_OP, k, slot_of_rank(side.head, front_rank, k))
    arriving = _select((op == _SWAP) | (op == _APPEND), incoming, _zero_order())
    leaving = _select((op == _SWAP) | (op == _DEMOTE), last, _zero_order())
    front_slot, arriving = _materialise(front_slot, arriving)
    new_side = {
        name: _write(getattr(side, name), front_slot, getattr(arriving, name)) for name in FIELDS
    }
    delta = jnp.where(op == _APPEND, 1, jnp.where(op == _DEMOTE, -1, 0)).astype(_I32)
    write = _PoolWrite(jnp.where(op == _NO_OP, pool_size, pool_slot), leaving)
    return side.replace(**new_side, count=count + delta), write


def _apply_writes(pool: Pool, first: _PoolWrite, second: _PoolWrite) -> Pool:
    """The pool after two single-slot writes (the second wins on the same slot), in one pass."""
    first, second = _materialise(first, second)
    slot = jnp.arange(pool.price.shape[-1], dtype=_I32)
    at_first, at_second = slot == first.slot, slot == second.slot

    def field(name):
        x = jnp.where(at_first, getattr(first.order, name), getattr(pool, name))
        return jnp.where(at_second, getattr(second.order, name), x)

    return Pool(**{name: field(name) for name in FIELDS})


# --------------------------------------------------------------------------- one message


@struct.dataclass
class _PoolScan:
    """What one pass of reductions over a pool finds for a message."""

    id_slot: jax.Array  # slot of the message's id (when has_id)
    has_id: jax.Array
    snapshot_slot: jax.Array  # when not has_id: the first snapshot-range order at its price
    snapshots: jax.Array  # the number of snapshot-range orders at the message's price
    free_slot: jax.Array
    has_free: jax.Array
    shares: jax.Array
    best_key: jax.Array  # price_sort_key of the best price (_HIGHEST when empty)


def _scan_pool(pool: Pool, raw: jax.Array, is_ask: bool) -> _PoolScan:
    """One min finds the id's slot (keys ``slot``) or else the first snapshot-range order at the
    message's price (keys ``size + slot``); the others count those orders, find a free slot, sum
    the shares and find the best price."""
    size = pool.price.shape[-1]
    slot = jnp.arange(size, dtype=_I32)
    occupied = pool.quantity > 0
    snapshot = occupied & (pool.order_id <= SNAPSHOT_ID_BASE) & (pool.price == raw[m.PRICE])
    key = jnp.where(
        occupied & (pool.order_id == raw[m.ORDER_ID]),
        slot,
        jnp.where(snapshot, size + slot, _HIGHEST),
    )
    first = jnp.min(key)
    free = jnp.min(jnp.where(occupied, _HIGHEST, slot))
    has_id = first < size
    return _PoolScan(
        id_slot=jnp.where(has_id, first, 0),
        has_id=has_id,
        snapshot_slot=jnp.where(has_id | (first == _HIGHEST), 0, first - size),
        snapshots=jnp.sum(snapshot, dtype=_I32),
        free_slot=jnp.where(free < size, free, 0),
        has_free=free < size,
        shares=jnp.sum(pool.quantity, dtype=_I32),
        best_key=jnp.min(jnp.where(occupied, price_sort_key(pool.price, is_ask), _HIGHEST)),
    )


@struct.dataclass
class _Context:
    """Per-message facts both the routing and the pool step use."""

    id_anywhere: jax.Array  # the message's id rests in the book (front or pool, either side)
    snapshot_wanted: tuple  # per side: a reduction that falls back on this side's pool snapshot


def _context(deep: DeepBook, raw: jax.Array, scans) -> _Context:
    typ, direction, price, oid = raw[m.TYPE], raw[m.DIRECTION], raw[m.PRICE], raw[m.ORDER_ID]
    front = deep.front
    sides = (front.bids, front.asks)
    valid = [logical_index(side)[1] for side in sides]
    id_in_front = functools.reduce(
        jnp.logical_or, [jnp.any(v & (side.order_id == oid)) for v, side in zip(valid, sides)]
    )
    id_anywhere = id_in_front | scans[0].has_id | scans[1].has_id
    reduces = _any_type(typ, (m.CANCEL, m.DELETE, m.EXECUTE))
    wanted = []
    for v, side, scan, own in zip(valid, sides, scans, (direction == m.BUY, direction == m.SELL)):
        front_snapshot = jnp.any(v & (side.order_id <= SNAPSHOT_ID_BASE) & (side.price == price))
        wanted.append(reduces & own & ~id_anywhere & ~front_snapshot & (scan.snapshots > 0))
    return _Context(id_anywhere, tuple(wanted))


def _needs_whole_book(deep: DeepBook, raw: jax.Array, scans, context: _Context) -> jax.Array:
    """Whether the front cannot apply the message alone: an aggressor that could trade through
    every front order into the pool; a SUBMIT that could take its side past MAX_SIDE_SHARES or
    whose side is full (the order to evict is the pool's worst); a reduction that falls back on a
    snapshot order when the pool holds several at that price (the first in priority is wanted)."""
    typ, direction, size, price = raw[m.TYPE], raw[m.DIRECTION], raw[m.SIZE], raw[m.PRICE]
    buy, sell = direction == m.BUY, direction == m.SELL
    needs = jnp.zeros((), bool)
    sides = (deep.front.bids, deep.front.asks)
    k = deep.front_capacity
    for side, scan, is_ask, wanted in zip(sides, scans, (False, True), context.snapshot_wanted):
        front_shares = jnp.sum(side.quantity, dtype=_I32)  # free slots hold zeros
        own = sell if is_ask else buy
        submit = (typ == m.SUBMIT) & own
        needs = needs | (submit & (size > MAX_SIDE_SHARES - (front_shares + scan.shares)))
        full = (side.count == k) & ~scan.has_free
        needs = needs | (submit & full & ~context.id_anywhere)
        needs = needs | (wanted & (scan.snapshots > 1))
        # Front orders beat the pool's best: when it crosses, so does every front order.
        aggressor = ((typ == m.SUBMIT) | (typ == m.MARKET)) & (buy if is_ask else sell)
        unlimited = (typ == m.MARKET) & (price <= 0)
        nonempty = scan.best_key < _HIGHEST
        crosses = nonempty & (unlimited | (scan.best_key <= price_sort_key(price, is_ask)))
        needs = needs | (aggressor & crosses & (front_shares < size))
    return needs


def _pool_step(deep: DeepBook, raw: jax.Array, scans, context: _Context):
    """Before the engine's step: the order the message names moved from the pool to the front,
    or room made on the front for a SUBMIT. Returns the front and each side's pool write."""
    typ, direction = raw[m.TYPE], raw[m.DIRECTION]
    front = deep.front
    k = front.capacity
    names_id = _any_type(typ, (m.SUBMIT, m.CANCEL, m.DELETE, m.EXECUTE, m.CANCEL_ID))
    new_sides, writes = [], []
    sides = ((front.bids, deep.bid_pool, m.BUY), (front.asks, deep.ask_pool, m.SELL))
    for (side, pool, own_direction), scan, wanted in zip(sides, scans, context.snapshot_wanted):
        promote_id = names_id & scan.has_id
        promote = promote_id | wanted
        front_full = side.count == k
        make_room = (typ == m.SUBMIT) & (direction == own_direction) & ~context.id_anywhere
        make_room = make_room & front_full & scan.has_free  # a full side goes to the whole book
        op = jnp.where(
            promote,
            jnp.where(front_full, _SWAP, _APPEND),
            jnp.where(make_room, _DEMOTE, _NO_OP),
        )
        slot = jnp.where(
            promote_id, scan.id_slot, jnp.where(wanted, scan.snapshot_slot, scan.free_slot)
        )
        side, write = _move(side, op, _pool_at(pool, slot), slot, pool.price.shape[-1])
        new_sides.append(side)
        writes.append(write)
    return front.replace(bids=new_sides[0], asks=new_sides[1]), writes


def _any_type(typ, types) -> jax.Array:
    """Whether the message's TYPE is one of ``types``."""
    out = jnp.zeros((), bool)
    for t in types:
        out = out | (typ == t)
    return out


def _settle(side: Side, pool: Pool, first: _PoolWrite, is_ask: bool) -> tuple[Side, Pool]:
    """After the engine's step: the pool's best (``first`` written) changes places with a front's
    last order it beats, else tops up a front that is not full. Returns the front and the pool,
    both writes made in one pass."""
    k, size = side.price.shape[-1], pool.price.shape[-1]
    slots = jnp.arange(size, dtype=_I32)
    others = (pool.quantity > 0) & (slots != first.slot)
    best_slot, any_other = _best(pool, others, is_ask)
    best = _pool_at(pool, best_slot)
    written = (first.slot < size) & (first.order.quantity > 0)
    take_written = written & (~any_other | _better(first.order, best, is_ask))
    best = _select(take_written, first.order, best)
    best_slot = jnp.where(take_written, first.slot, best_slot)
    nonempty = written | any_other
    last = _front_at(side, jnp.maximum(side.count - 1, 0))
    beaten = nonempty & (side.count > 0) & _better(best, last, is_ask)
    top_up = nonempty & ~beaten & (side.count < k)
    op = jnp.where(beaten, _SWAP, jnp.where(top_up, _APPEND, _NO_OP))
    side, second = _move(side, op, best, best_slot, size)
    return side, _apply_writes(pool, first, second)


def apply_message(deep: DeepBook, msg) -> tuple[DeepBook, Fills]:
    """Apply one message; the same book and fills as ``jaxlob.apply_message`` on ``to_book(deep)``.

    A message only the whole book can apply goes through the engine on ``to_book(deep)`` first
    (a ``while_loop`` of at most one turn, carrying the book in place); the front then sees a
    NOOP instead, whose counts are taken back."""
    chex.assert_type(msg, int)
    raw = jnp.asarray(msg, _I32)
    chex.assert_shape(raw, (m.NUM_FIELDS,))
    k = deep.front_capacity
    scans = (_scan_pool(deep.bid_pool, raw, False), _scan_pool(deep.ask_pool, raw, True))
    context = _context(deep, raw, scans)
    whole = _needs_whole_book(deep, raw, scans, context)
    # Fills' shapes follow max_fills and num_traders only: the front's step gives them.
    no_fills = jax.tree.map(
        jnp.zeros_like, jax.eval_shape(engine.apply_message, deep.front, raw)[1]
    )

    def whole_book(carry):
        _, book, _ = carry
        after, fills = engine.apply_message(to_book(book), raw)
        return jnp.zeros((), bool), _split(after, k), fills

    _, deep, whole_fills = lax.while_loop(lambda c: c[0], whole_book, (whole, deep, no_fills))
    raw = jnp.where(whole, jnp.zeros_like(raw), raw)  # the pool step's moves are then none
    front, (bid_write, ask_write) = _pool_step(deep, raw, scans, context)
    front, fills = engine.apply_message(front, raw)
    bids, bid_pool = _settle(front.bids, deep.bid_pool, bid_write, False)
    asks, ask_pool = _settle(front.asks, deep.ask_pool, ask_write, True)
    taken_back = whole.astype(_I32)
    front = front.replace(
        bids=bids,
        asks=asks,
        next_arrival=front.next_arrival - taken_back,
        counters=front.counters.replace(messages=front.counters.messages - taken_back),
    )
    fills = jax.tree.map(lambda a, b: jnp.where(whole, a, b), whole_fills, fills)
    return DeepBook(front, bid_pool, ask_pool), fills


def apply_messages(
    deep: DeepBook, msgs: jax.Array, keep_fills: bool = False
) -> tuple[DeepBook, BatchRecord]:
    """``jaxlob.apply_messages`` for a ``DeepBook``."""
    return engine.scan_messages(apply_message, deep, msgs, keep_fills, deep.front.num_traders)
