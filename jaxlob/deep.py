"""Deep books: a sorted front of the best orders over an unsorted pool of the rest.

The engine's sorted side costs O(capacity) per message (an insert or a removal shifts the ranks
behind it). A ``DeepBook`` keeps, per side, the best ``front_capacity`` orders as an ordinary
sorted ``Side`` (the front, where the engine does its work) and the rest in an unsorted ``Pool``
whose slots are written one at a time. Invariant: every front order has better priority (price,
then arrival) than every pool order of its side.

The pool is cut into blocks of ``pool_block`` slots, each with a summary (free slots, shares, its
best order), so that per message only the id lookup reads every slot (one reduction per side);
the free slot and the best order come from the summaries and one block's slots, and each of the
at most two slot writes per side updates its block's summary from that block. Around the
engine's step on the front:

- before it, an order the message names that rests in the pool (by id) is moved to the back of
  the front, the front's last going to the pool in its place when the front is full; a SUBMIT on
  a full front first moves the front's last to a free pool slot;
- after it, an order left at the back of the front that the pool's best beats changes places
  with it, else the pool's best tops up a front that is not full.

A message the front cannot answer alone (an aggressor that could trade through every front order
into the pool; a SUBMIT on a completely full side, whose eviction is the pool's worst order, or
one that could take its side past ``MAX_SIDE_SHARES``; a cancel, deletion or execution that falls
back on a snapshot order of the pool) is a NOOP for the front, then applied by the engine to the
whole book (front and pool merged, ``to_book``) inside a ``while_loop`` of at most one turn: under
``vmap`` it runs only when some book of the batch needs it. The result is the engine's on a book
of the whole capacity, message by message (``tests/jaxlob/test_deep_front_pool.py`` checks it
against the reference book). Cost on XLA:CPU: README, "Engine cost and deep books".
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


DEFAULT_POOL_BLOCK = 32


@struct.dataclass
class Pool:
    """One side's orders beyond the front, in no order, as ``blocks x block`` slots; a free slot
    holds zeros (quantity 0). Slots past ``size`` (the last block's padding) are never used.

    Per block it keeps what the searches need, so that they read a summary per block and one
    block's slots instead of every slot: free slots, shares, and the block's best order (its price
    key, arrival and slot; key ``_HIGHEST`` when the block is empty). A write updates its block's
    summary: the best from that block's slots, free slots and shares by difference."""

    price: jax.Array  # (blocks, block) int32
    quantity: jax.Array
    order_id: jax.Array
    trader_id: jax.Array
    arrival: jax.Array
    free: jax.Array  # (blocks,) free usable slots
    shares: jax.Array  # (blocks,) shares resting
    best_key: jax.Array  # (blocks,) price_sort_key of the block's best order
    best_arrival: jax.Array  # (blocks,) its arrival
    best_slot: jax.Array  # (blocks,) its slot in the block
    size: int = struct.field(pytree_node=False)  # usable slots
    is_ask: bool = struct.field(pytree_node=False)  # the side, for price_sort_key


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
        return self.front.capacity + self.bid_pool.size


def _summarise(price, quantity, arrival, usable, is_ask: bool) -> dict:
    """Per row (block): free usable slots, shares, and the best order's key, arrival and slot."""
    return dict(
        free=jnp.sum(usable & (quantity == 0), axis=-1, dtype=_I32),
        shares=jnp.sum(quantity, axis=-1, dtype=_I32),
        **_summarise_best(price, quantity, arrival, is_ask),
    )


def _summarise_best(price, quantity, arrival, is_ask: bool) -> dict:
    """Per row (block): the best order's key, arrival and slot (key ``_HIGHEST``: none)."""
    occupied = quantity > 0
    key = jnp.where(occupied, price_sort_key(price, is_ask), _HIGHEST)
    best_key = jnp.min(key, axis=-1)
    at_key = occupied & (key == best_key[..., None])
    best_arrival = jnp.min(jnp.where(at_key, arrival, _HIGHEST), axis=-1)
    slots = jnp.arange(price.shape[-1], dtype=_I32)
    first = at_key & (arrival == best_arrival[..., None])
    best_slot = jnp.min(jnp.where(first, slots, _HIGHEST), axis=-1)
    return dict(
        best_key=best_key,
        best_arrival=best_arrival,
        best_slot=jnp.where(best_key < _HIGHEST, best_slot, 0),
    )


def _usable(block_index, block: int, size: int) -> jax.Array:
    """Which slots of the given block(s) are inside the pool's ``size`` (not padding)."""
    slots = jnp.arange(block, dtype=_I32)
    return jnp.asarray(block_index, _I32)[..., None] * block + slots < size


def _pool_from_flat(values: dict, block: int, is_ask: bool) -> Pool:
    """A pool from flat per-slot fields (free slots zero), padded to whole blocks."""
    size = values["price"].shape[-1]
    blocks = -(-size // block)
    pad = blocks * block - size
    rows = {name: jnp.pad(v, (0, pad)).reshape(blocks, block) for name, v in values.items()}
    usable = _usable(jnp.arange(blocks), block, size)
    summary = _summarise(rows["price"], rows["quantity"], rows["arrival"], usable, is_ask)
    return Pool(**rows, **summary, size=size, is_ask=is_ask)


def _empty_pool(size: int, block: int, is_ask: bool) -> Pool:
    zeros = jnp.zeros((size,), _I32)
    return _pool_from_flat({name: zeros for name in FIELDS}, block, is_ask)


def _check_split(capacity: int, front_capacity: int, pool_block: int) -> None:
    if not isinstance(front_capacity, int) or not 1 <= front_capacity < capacity:
        raise ValueError(
            f"front_capacity must be an int in 1..capacity-1 ({capacity - 1}), got {front_capacity!r}"
        )
    if capacity > MAX_CAPACITY:
        raise ValueError(f"capacity must be at most {MAX_CAPACITY}, got {capacity}")
    if not isinstance(pool_block, int) or pool_block < 1:
        raise ValueError(f"pool_block must be a positive int, got {pool_block!r}")


def empty_deep_book(
    capacity: int,
    front_capacity: int,
    max_fills: int = DEFAULT_MAX_FILLS,
    num_traders: int = DEFAULT_NUM_TRADERS,
    pool_block: int = DEFAULT_POOL_BLOCK,
) -> DeepBook:
    """An empty book of ``capacity`` orders per side, the best ``front_capacity`` kept sorted, the
    rest in pools of blocks of ``pool_block`` slots."""
    _check_split(capacity, front_capacity, pool_block)
    size = capacity - front_capacity
    return DeepBook(
        empty_book(front_capacity, max_fills, num_traders),
        _empty_pool(size, pool_block, False),
        _empty_pool(size, pool_block, True),
    )


# --------------------------------------------------------------------------- merge and split


def _flat(pool: Pool, name: str) -> jax.Array:
    return getattr(pool, name).reshape(-1)


def _merge_side(front: Side, pool: Pool) -> Side:
    """The side of the whole capacity in priority order (head 0): the front, then the pool."""
    ordered, _ = in_priority_order(front)
    k = front.price.shape[-1]
    quantity = _flat(pool, "quantity")
    key = jnp.where(quantity > 0, price_sort_key(_flat(pool, "price"), pool.is_ask), _HIGHEST)
    order = jnp.lexsort((_flat(pool, "arrival"), key))  # free slots last
    padded = k + quantity.shape[-1]
    n = k + pool.size
    rank = jnp.arange(n, dtype=_I32)
    pool_count = jnp.sum(quantity > 0, dtype=_I32)
    index = jnp.where(rank < front.count, rank, k + rank - front.count)
    live = rank < front.count + pool_count

    def merged(name):
        both = jnp.concatenate([getattr(ordered, name), _flat(pool, name)[order]])
        return jnp.where(live, both[jnp.clip(index, 0, padded - 1)], 0)

    return Side(
        **{name: merged(name) for name in FIELDS},
        head=jnp.zeros((), _I32),
        count=front.count + pool_count,
    )


def _split_side(side: Side, k: int, block: int, is_ask: bool) -> tuple[Side, Pool]:
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
    return front, _pool_from_flat({name: v[k:] for name, v in values.items()}, block, is_ask)


def to_book(deep: DeepBook) -> BookState:
    """The same book as one ``BookState`` of the whole capacity (for views, checks, the engine)."""
    front = deep.front
    return front.replace(
        bids=_merge_side(front.bids, deep.bid_pool),
        asks=_merge_side(front.asks, deep.ask_pool),
    )


def to_deep(book: BookState, front_capacity: int, pool_block: int = DEFAULT_POOL_BLOCK) -> DeepBook:
    """A ``BookState`` split into a front of ``front_capacity`` orders per side and pools."""
    _check_split(book.capacity, front_capacity, pool_block)
    return _split(book, front_capacity, pool_block)


def _split(book: BookState, k: int, block: int) -> DeepBook:
    bids, bid_pool = _split_side(book.bids, k, block, False)
    asks, ask_pool = _split_side(book.asks, k, block, True)
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


@struct.dataclass
class _Place:
    """A pool slot: its block and its slot in the block."""

    block: jax.Array
    slot: jax.Array


def _pool_at(pool: Pool, place: _Place) -> _Order:
    return _Order(*(getattr(pool, name)[place.block, place.slot] for name in FIELDS))


def _front_at(side: Side, rank) -> _Order:
    slot = slot_of_rank(side.head, rank, side.price.shape[-1])
    return _Order(*(getattr(side, name)[slot] for name in FIELDS))


def _best(pool: Pool):
    """The pool's best order's place and whether there is one, from the block summaries
    (prices first, then arrival; arrivals are unique on a book)."""
    first_key = jnp.min(pool.best_key)
    at_key = pool.best_key == first_key
    first_arrival = jnp.min(jnp.where(at_key, pool.best_arrival, _HIGHEST))
    block, _ = _first_slot(at_key & (pool.best_arrival == first_arrival))
    return _Place(block, pool.best_slot[block]), first_key < _HIGHEST


def _free_place(pool: Pool):
    """A free usable slot (the first of the first block with one) and whether there is one."""
    block, found = _first_slot(pool.free > 0)
    row_free = (pool.quantity[block] == 0) & _usable(block, pool.price.shape[-1], pool.size)
    slot, _ = _first_slot(row_free)
    return _Place(block, slot), found


def _better(a: _Order, b: _Order, is_ask: bool) -> jax.Array:
    """Whether order ``a`` has priority over order ``b`` on a side."""
    ka, kb = price_sort_key(a.price, is_ask), price_sort_key(b.price, is_ask)
    return (ka < kb) | ((ka == kb) & (a.arrival < b.arrival))


def _first_slot(mask) -> tuple[jax.Array, jax.Array]:
    """The first index where ``mask`` holds (0 if none), and whether there is one, as a min over
    indices."""
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


def _move(side: Side, op, incoming: _Order):
    """One move between the back of the front and a pool slot: ``_SWAP`` exchanges the front's
    last order with the pool's ``incoming``; ``_APPEND`` puts ``incoming`` behind the front's last;
    ``_DEMOTE`` moves the front's last to a (free) pool slot; ``_NO_OP`` changes nothing.
    Returns the front and the order the pool slot gets (zeros: freed)."""
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
    return side.replace(**new_side, count=count + delta), leaving


@struct.dataclass
class _PoolWrite:
    """A pool slot's new order, not yet written to the slots (``enabled`` false: none)."""

    place: _Place
    order: _Order
    enabled: jax.Array


def _block_rows(pool: Pool, block, writes) -> dict:
    """The slots of one block with the pending ``writes`` made (later ones win)."""
    slots = jnp.arange(pool.price.shape[-1], dtype=_I32)
    rows = {name: getattr(pool, name)[block] for name in FIELDS}
    for write in writes:
        at = write.enabled & (write.place.block == block) & (slots == write.place.slot)
        rows = {name: jnp.where(at, getattr(write.order, name), row) for name, row in rows.items()}
    return rows


def _note(pool: Pool, write: _PoolWrite, earlier: tuple = ()) -> Pool:
    """The pool's summaries after ``write`` (the ``earlier`` writes, already in the summaries, also
    made): free slots and shares by difference, the block's best recomputed from its slots. The
    slots themselves are written later, all at once (``_write_slots``)."""
    write = _PoolWrite(*_materialise(write.place, write.order, write.enabled))
    block = write.place.block
    old = _pool_order_at(pool, write.place, earlier)
    rows = _block_rows(pool, block, (*earlier, write))
    best = _summarise_best(rows["price"], rows["quantity"], rows["arrival"], pool.is_ask)
    at = write.enabled & (jnp.arange(pool.free.shape[-1], dtype=_I32) == block)
    freed = (old.quantity > 0).astype(_I32) - (write.order.quantity > 0).astype(_I32)
    return pool.replace(
        free=pool.free + jnp.where(at, freed, 0),
        shares=pool.shares + jnp.where(at, write.order.quantity - old.quantity, 0),
        **{name: jnp.where(at, value, getattr(pool, name)) for name, value in best.items()},
    )


def _pool_order_at(pool: Pool, place: _Place, writes: tuple) -> _Order:
    """The order at ``place``, the pending ``writes`` made (later ones win)."""
    order = _pool_at(pool, place)
    for w in writes:
        same = w.enabled & (w.place.block == place.block) & (w.place.slot == place.slot)
        order = _select(same, w.order, order)
    return order


def _write_slots(pool: Pool, first: _PoolWrite, second: _PoolWrite, reads) -> Pool:
    """The pool's slots with both pending writes made (the second wins on the same slot): one
    two-element scatter per field, in place, after every read of the slots in ``reads``."""
    first, second = _materialise(first, second)
    blocks = pool.price.shape[-2]
    same = (first.place.block == second.place.block) & (first.place.slot == second.place.slot)
    on = (first.enabled & ~(second.enabled & same), second.enabled)
    block = jnp.stack([jnp.where(e, w.place.block, blocks) for e, w in zip(on, (first, second))])
    slot = _after(jnp.stack([first.place.slot, second.place.slot]), reads)
    return pool.replace(
        **{
            name: getattr(pool, name)
            .at[block, slot]
            .set(jnp.stack([getattr(first.order, name), getattr(second.order, name)]), mode="drop")
            for name in FIELDS
        }
    )


def _after(index: jax.Array, reads) -> jax.Array:
    """``index`` unchanged, but computed from ``reads`` (int32 or bool arrays).

    XLA copies an array carried through a scan that a step both reads and scatters into in place,
    twice per step, unless every read whose value leaves the step (to the front, the summaries, the
    records) comes before the scatter by data dependence (README, "Engine cost and deep books").
    This adds that dependence: a zero XLA does not fold away (for any int32 ``t``, its sign bit
    ``s`` has ``s & (1 - s) == 0``). Copy insertion is XLA's own, not XLA:CPU's, so every backend
    gets it."""
    token = functools.reduce(
        jnp.bitwise_xor, [jnp.asarray(x, _I32).reshape(-1)[0] for x in jax.tree.leaves(reads)]
    )
    sign = lax.shift_right_logical(token, 31)
    return index + (sign & (1 - sign))


# --------------------------------------------------------------------------- one message


@struct.dataclass
class _PoolScan:
    """What one message needs to know about one side's pool."""

    id_place: _Place  # where the message's id rests (when has_id)
    has_id: jax.Array
    has_snapshot: jax.Array  # a snapshot-range order at the message's price rests here
    free_place: _Place
    has_free: jax.Array
    shares: jax.Array
    best_key: jax.Array  # price_sort_key of the best price (_HIGHEST when empty)


def _scan_pool(pool: Pool, raw: jax.Array) -> _PoolScan:
    """The one pass over every slot: a min finds the id's slot (keys ``slot``) or else whether a
    snapshot-range order rests at the message's price (keys ``padded + slot``); the rest comes
    from the block summaries."""
    blocks, block = pool.price.shape[-2:]
    padded = blocks * block
    slot = jnp.arange(padded, dtype=_I32).reshape(blocks, block)
    occupied = pool.quantity > 0
    snapshot = occupied & (pool.order_id <= SNAPSHOT_ID_BASE) & (pool.price == raw[m.PRICE])
    key = jnp.where(
        occupied & (pool.order_id == raw[m.ORDER_ID]),
        slot,
        jnp.where(snapshot, padded + slot, _HIGHEST),
    )
    first = jnp.min(key)
    has_id = first < padded
    at = jnp.where(has_id, first, 0)
    free_place, has_free = _free_place(pool)
    return _PoolScan(
        id_place=_Place(at // block, at % block),
        has_id=has_id,
        has_snapshot=~has_id & (first < _HIGHEST),
        free_place=free_place,
        has_free=has_free,
        shares=jnp.sum(pool.shares, dtype=_I32),
        best_key=jnp.min(pool.best_key),
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
        wanted.append(reduces & own & ~id_anywhere & ~front_snapshot & scan.has_snapshot)
    return _Context(id_anywhere, tuple(wanted))


def _needs_whole_book(deep: DeepBook, raw: jax.Array, scans, context: _Context) -> jax.Array:
    """Whether the front cannot apply the message alone: an aggressor that could trade through
    every front order into the pool; a SUBMIT that could take its side past MAX_SIDE_SHARES or
    whose side is full (the order to evict is the pool's worst); a reduction that falls back on a
    snapshot order of the pool (the first in priority of those at its price is wanted)."""
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
        needs = needs | wanted
        # Front orders beat the pool's best: when it crosses, so does every front order.
        aggressor = ((typ == m.SUBMIT) | (typ == m.MARKET)) & (buy if is_ask else sell)
        unlimited = (typ == m.MARKET) & (price <= 0)
        nonempty = scan.best_key < _HIGHEST
        crosses = nonempty & (unlimited | (scan.best_key <= price_sort_key(price, is_ask)))
        needs = needs | (aggressor & crosses & (front_shares < size))
    return needs


def _pool_step(deep: DeepBook, raw: jax.Array, scans, context: _Context):
    """Before the engine's step: the order the message names moved from the pool to the front,
    or room made on the front for a SUBMIT. Returns the front, each side's pool write and the order
    read from each side's pool."""
    typ, direction = raw[m.TYPE], raw[m.DIRECTION]
    front = deep.front
    k = front.capacity
    names_id = _any_type(typ, (m.SUBMIT, m.CANCEL, m.DELETE, m.EXECUTE, m.CANCEL_ID))
    new_sides, writes, incoming = [], [], []
    sides = ((front.bids, deep.bid_pool, m.BUY), (front.asks, deep.ask_pool, m.SELL))
    for (side, pool, own_direction), scan in zip(sides, scans):
        promote = names_id & scan.has_id
        front_full = side.count == k
        make_room = (typ == m.SUBMIT) & (direction == own_direction) & ~context.id_anywhere
        make_room = make_room & front_full & scan.has_free  # a full side goes to the whole book
        op = jnp.where(
            promote,
            jnp.where(front_full, _SWAP, _APPEND),
            jnp.where(make_room, _DEMOTE, _NO_OP),
        )
        place = _select(promote, scan.id_place, scan.free_place)
        incoming.append(_pool_at(pool, place))
        side, leaving = _move(side, op, incoming[-1])
        new_sides.append(side)
        writes.append(_PoolWrite(place, leaving, op != _NO_OP))
    return front.replace(bids=new_sides[0], asks=new_sides[1]), writes, incoming


def _any_type(typ, types) -> jax.Array:
    """Whether the message's TYPE is one of ``types``."""
    out = jnp.zeros((), bool)
    for t in types:
        out = out | (typ == t)
    return out


def _settle(side: Side, pool: Pool, first: _PoolWrite, reads) -> tuple[Side, Pool]:
    """After the engine's step: the pool's best (``first`` written) changes places with a front's
    last order it beats, else tops up a front that is not full. Returns the front and the pool,
    both writes made after the earlier ``reads`` of its slots and this step's."""
    k = side.price.shape[-1]
    pool = _note(pool, first)
    place, nonempty = _best(pool)
    best = _pool_order_at(pool, place, (first,))
    last = _front_at(side, jnp.maximum(side.count - 1, 0))
    beaten = nonempty & (side.count > 0) & _better(best, last, pool.is_ask)
    top_up = nonempty & ~beaten & (side.count < k)
    op = jnp.where(beaten, _SWAP, jnp.where(top_up, _APPEND, _NO_OP))
    side, leaving = _move(side, op, best)
    second = _PoolWrite(place, leaving, op != _NO_OP)
    pool = _note(pool, second, (first,))
    # The values read from the slots go on into the summaries and the front: both come before the
    # writes (unbatched, XLA fuses copies of a read into its consumers, so the read alone does not
    # order them).
    summaries = (pool.free, pool.shares, pool.best_key, pool.best_arrival, pool.best_slot)
    front = tuple(getattr(side, name) for name in FIELDS)
    return side, _write_slots(pool, first, second, (reads, best, summaries, front))


def apply_message(deep: DeepBook, msg) -> tuple[DeepBook, Fills]:
    """Apply one message; the same book and fills as ``jaxlob.apply_message`` on ``to_book(deep)``.

    A message only the whole book can apply is a NOOP for the front (its counts taken back), then
    goes through the engine on ``to_book(deep)`` in a ``while_loop`` of at most one turn."""
    chex.assert_type(msg, int)
    raw = jnp.asarray(msg, _I32)
    chex.assert_shape(raw, (m.NUM_FIELDS,))
    k = deep.front_capacity
    block = deep.bid_pool.price.shape[-1]
    scans = (_scan_pool(deep.bid_pool, raw), _scan_pool(deep.ask_pool, raw))
    context = _context(deep, raw, scans)
    whole = _needs_whole_book(deep, raw, scans, context)
    fast_raw = jnp.where(whole, jnp.zeros_like(raw), raw)  # the pool step's moves are then none
    front, (bid_write, ask_write), incoming = _pool_step(deep, fast_raw, scans, context)
    front, fills = engine.apply_message(front, fast_raw)
    bids, bid_pool = _settle(front.bids, deep.bid_pool, bid_write, (scans[0], incoming[0]))
    asks, ask_pool = _settle(front.asks, deep.ask_pool, ask_write, (scans[1], incoming[1]))
    taken_back = whole.astype(_I32)
    front = front.replace(
        bids=bids,
        asks=asks,
        next_arrival=front.next_arrival - taken_back,
        counters=front.counters.replace(messages=front.counters.messages - taken_back),
    )

    def whole_book(carry):
        _, book, _ = carry
        after, whole_fills = engine.apply_message(to_book(book), raw)
        return jnp.zeros((), bool), _split(after, k, block), whole_fills

    carry = (whole, DeepBook(front, bid_pool, ask_pool), fills)
    _, deep, fills = lax.while_loop(lambda c: c[0], whole_book, carry)
    return deep, fills


def apply_messages(
    deep: DeepBook, msgs: jax.Array, keep_fills: bool = False
) -> tuple[DeepBook, BatchRecord]:
    """``jaxlob.apply_messages`` for a ``DeepBook``."""
    return engine.scan_messages(apply_message, deep, msgs, keep_fills, deep.front.num_traders)
