"""Re-synchronising a book's visible levels to a LOBSTER orderbook row, keeping one trader's orders.

A level-L message file omits events outside the top L levels, so a replay drifts from the file.
``resync_book`` sets, on each side, the volume of every visible price level that does *not* belong to
``keep_trader`` (the agent, trader 1) to the file's, and leaves that trader's orders where they are in
their queues. The file describes the market without the agent, so its sizes are the other traders'
volume. Per side and level, with E the engine's other-trader volume at that price and T the file's:

- E > T: E - T shares are removed from the *back* of the level's queue (latest arrivals first), so
  the volume ahead of the agent's orders shrinks only once everything behind them is gone;
- E < T: T - E shares join the back of the queue (behind the agent). They are added to the level's
  aggregate (snapshot-id) order when that order is already behind every agent order at the price,
  else they become a new order; a new one gets a snapshot-range id only when the price has none yet,
  so the engine's fallback for unknown order ids (one aggregate per side and price) stays valid;
- other-trader orders at prices inside the visible range that the file does not list are removed.

The visible range ends at the file's L-th level when the file shows all L levels of the side (orders
beyond it are kept: the file says nothing about them), and covers the whole side otherwise. A file
level that would cross one of the kept trader's orders on the other side (the engine already traded
that volume with the agent) is left out, so the book never crosses. Removing from the back and
adding at the back is the pessimistic choice for the kept trader's queue position.

Orders that no longer fit the side's capacity after the additions are dropped from its worst end
and counted, in the returned stats and in the book's ``evicted_*`` counters; then those that would
take the side above ``MAX_SIDE_SHARES`` (from the first such order to the worst end) are refused
and counted in ``over_limit_*``, so that the engine's int32 sums over a side stay exact.

New orders get ids from the re-synchronisation's arrival number, the level and the side
(``resync_id``), so two re-synchronisations never hand out the same id (a cancel by id then reduces
exactly one order). The ids cycle after ``RESYNC_PLAIN_RANGE / (2 L)`` arrivals (4.5 million for
L = 10 levels; ``RESYNC_FALLBACK_RANGE / (2 L)``, 55 million, for fallback ids): only an order
still resting that many arrivals after it was created could share its id with a new one.

``targets`` (optional) sets each visible level to a volume other than the file's, the file's row
still deciding which levels are visible and where the visible range ends: the replay markets pass
the file's volume less what the agent displaced (``envs.replay.impact``), so that liquidity the agent
took is not restored.

``keep_queues=False`` (static) rebuilds the visible levels instead of adjusting them: every
other-trader order inside the visible range is removed and each file level becomes one aggregate
order (behind any kept orders at its price), as ``book_from_snapshot`` would build it; orders beyond
the range are kept as above. The fidelity report (``jaxlob.fidelity``) re-synchronises this way, so
that after a mismatch the engine's view of the visible levels is exactly the file's. ``keep_trader``
None keeps no trader's orders.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxlob.priority import better_or_equal, in_priority_order, logical_index
from jaxlob.state import (
    DUMMY_ASK_PRICE,
    DUMMY_BID_PRICE,
    MAX_SIDE_SHARES,
    SNAPSHOT_ID_BASE,
    BookState,
    Side,
)
from jaxlob.wide import (
    Wide,
    saturating_add,
    saturating_cumsum,
    saturating_sum,
    wide_sum,
    wide_zero,
)

_I32 = jnp.int32
AGENT_TRADER = 1
# Ids of resync orders: inside the snapshot range (eligible for the engine's unknown-id fallback),
# or just above it (not eligible), away from the ids book_from_snapshot uses, and below the ids
# agents use (envs.replay.orders.AGENT_ID_BASE = -900_000_000).
RESYNC_ID_FALLBACK = SNAPSHOT_ID_BASE - 1_000_000  # and down to RESYNC_ID_FALLBACK - range + 1
RESYNC_ID_PLAIN = SNAPSHOT_ID_BASE + 1_000_000  # and up to RESYNC_ID_PLAIN + range - 1
RESYNC_FALLBACK_RANGE = 1_100_000_000
RESYNC_PLAIN_RANGE = 90_000_000


@struct.dataclass
class ResyncStats:
    """What one re-synchronisation changed (per book; shares of other traders only, except
    ``dropped_kept``). Share sums in int32 are capped at 2**31 - 1."""

    added: jax.Array  # () int32, shares added to visible levels
    removed: jax.Array  # () int32, shares removed from visible levels
    dropped_orders: jax.Array  # () int32, orders that no longer fitted the side's capacity
    dropped_shares: Wide
    dropped_kept: jax.Array  # () int32, shares of keep_trader among the dropped and refused
    skipped: jax.Array  # () int32, file shares left out because they would cross kept orders
    over_limit_orders: jax.Array  # () int32, orders refused: the side would pass MAX_SIDE_SHARES
    over_limit_shares: Wide


def zero_stats() -> ResyncStats:
    z = jnp.zeros((), _I32)
    return ResyncStats(z, z, z, wide_zero(), z, z, z, wide_zero())


def add_stats(a: ResyncStats, b: ResyncStats) -> ResyncStats:
    """Field-wise sum (two-word counts exactly, the others capped)."""
    return jax.tree.map(
        lambda x, y: x.plus(y) if isinstance(x, Wide) else saturating_add(x, y),
        a,
        b,
        is_leaf=lambda x: isinstance(x, Wide),
    )


def resync_id(arrival, level, is_ask: bool, fallback, num_levels: int) -> jax.Array:
    """The id of a new order at ``level`` (0..num_levels-1): unique per (arrival, level, side) over
    a period of ``range // (2 num_levels)`` arrivals, in the fallback or the plain range."""
    tag = 0 if is_ask else 1

    def code(id_range):
        period = id_range // (2 * num_levels)
        return (arrival % period) * (2 * num_levels) + 2 * level + tag

    return jnp.where(
        fallback,
        RESYNC_ID_FALLBACK - code(RESYNC_FALLBACK_RANGE),
        RESYNC_ID_PLAIN + code(RESYNC_PLAIN_RANGE),
    ).astype(_I32)


def _trim_queues(s: Side, in_range, at_level, prices, target, is_ask: bool):
    """Other-trader quantities after trimming each visible level to the file's volume from the back
    of its queue (latest arrivals first), orders at unlisted prices in range removed; and the shares
    each level still lacks (added at the back by the caller)."""
    matched = jnp.any(at_level, axis=1)
    q_other = jnp.where(in_range, s.quantity, 0)
    engine_volume = jnp.sum(jnp.where(at_level, q_other[:, None], 0), axis=0, dtype=_I32)
    remove = jnp.maximum(engine_volume - target, 0)
    add = jnp.maximum(target - engine_volume, 0)
    # Removal from the back: other-trader shares behind each order at its level.
    cum = jnp.cumsum(q_other, dtype=_I32)  # inclusive, priority order
    better_than_level = jnp.sum(
        jnp.where(
            in_range[:, None] & ~better_or_equal(prices[None, :], s.price[:, None], is_ask),
            q_other[:, None],
            0,
        ),
        axis=0,
        dtype=_I32,
    )  # other-trader shares at prices strictly better than each level
    level_of = lambda x: jnp.sum(jnp.where(at_level, x[None, :], 0), axis=1, dtype=_I32)  # noqa: E731
    behind = level_of(engine_volume) - (cum - level_of(better_than_level))
    cut = jnp.clip(level_of(remove) - behind, 0, s.quantity)
    new_q = jnp.where(matched, s.quantity - cut, jnp.where(in_range, 0, s.quantity))
    return new_q, add


def resync_side(
    side: Side,
    prices: jax.Array,
    sizes: jax.Array,
    is_ask: bool,
    arrival: jax.Array,
    opposite_kept_best: jax.Array,
    keep_trader: int | None = AGENT_TRADER,
    *,
    keep_queues: bool = True,
    targets: jax.Array | None = None,
) -> tuple[Side, ResyncStats]:
    """One side set to the file's levels ``prices``/``sizes`` (best first, int32 dummies for empty
    levels) for every trader but ``keep_trader``; see the module docstring. ``arrival`` is the
    sequence number new orders get; ``opposite_kept_best`` the best price of ``keep_trader`` on the
    other side (a dummy price when none): file levels at or through it are left out. ``targets``
    (default ``sizes``) is the other traders' volume to leave at each level: the file's levels and
    visible range still come from ``sizes`` (``envs.replay.impact`` passes the file's volume less the
    agent's displacement)."""
    n = side.price.shape[-1]
    num_levels = prices.shape[-1]
    s, valid = in_priority_order(side)
    kept = jnp.zeros_like(valid) if keep_trader is None else valid & (s.trader_id == keep_trader)
    other = valid & ~kept

    present = (sizes > 0) & (prices > DUMMY_BID_PRICE) & (prices < DUMMY_ASK_PRICE)
    crosses = (prices <= opposite_kept_best) if is_ask else (prices >= opposite_kept_best)
    allowed = present & ~crosses
    target = jnp.where(allowed, sizes if targets is None else jnp.maximum(targets, 0), 0)
    skipped = saturating_sum(jnp.where(present & crosses, sizes, 0))
    full = jnp.all(present)
    boundary = jnp.where(
        full, prices[num_levels - 1], DUMMY_ASK_PRICE if is_ask else DUMMY_BID_PRICE
    )
    in_range = other & better_or_equal(s.price, boundary, is_ask)
    # Level of each in-range other-trader order: (n, L) one-hot by price.
    at_level = in_range[:, None] & allowed[None, :] & (s.price[:, None] == prices[None, :])

    if keep_queues:
        new_q, add = _trim_queues(s, in_range, at_level, prices, target, is_ask)
    else:
        new_q, add = jnp.where(in_range, 0, s.quantity), target
    new_q = jnp.where(valid, new_q, 0)
    removed = jnp.sum(jnp.where(valid, s.quantity - new_q, 0), dtype=_I32)

    # Additions: merge into the level's aggregate order when it is behind every kept order there.
    aggregate = at_level & (s.order_id <= SNAPSHOT_ID_BASE)[:, None]
    has_aggregate = jnp.any(aggregate, axis=0)
    if not keep_queues:  # rebuilt levels never merge: each addition is a new aggregate order
        has_aggregate = jnp.zeros_like(has_aggregate)
    aggregate_arrival = jnp.sum(jnp.where(aggregate, s.arrival[:, None], 0), axis=0, dtype=_I32)
    kept_at = kept[:, None] & (s.price[:, None] == prices[None, :])
    kept_behind = jnp.any(kept_at & (s.arrival[:, None] > aggregate_arrival[None, :]), axis=0)
    merge = has_aggregate & ~kept_behind & (add > 0)
    new_q = new_q + jnp.sum(
        jnp.where(aggregate & merge[None, :], add[None, :], 0), axis=1, dtype=_I32
    )
    new_order = (add > 0) & ~merge
    level = jnp.arange(num_levels, dtype=_I32)
    new_id = resync_id(arrival, level, is_ask, ~has_aggregate, num_levels)

    # Merge the kept orders and the new ones into priority order by computing positions.
    keep = valid & (new_q > 0)
    new_better = new_order[None, :] & ~better_or_equal(s.price[:, None], prices[None, :], is_ask)
    pos_existing = jnp.cumsum(keep, dtype=_I32) - 1 + jnp.sum(new_better, axis=1, dtype=_I32)
    existing_ahead = jnp.sum(
        keep[:, None] & better_or_equal(s.price[:, None], prices[None, :], is_ask),
        axis=0,
        dtype=_I32,
    )
    pos_new = existing_ahead + jnp.cumsum(new_order, dtype=_I32) - new_order.astype(_I32)
    pos_existing = jnp.where(keep, pos_existing, n)  # n: dropped by the scatter
    pos_new = jnp.where(new_order, pos_new, n)
    pos = jnp.concatenate([pos_existing, pos_new])

    def place(existing, new):
        values = jnp.concatenate([existing, jnp.broadcast_to(new, (num_levels,)).astype(_I32)])
        return jnp.zeros((n,), _I32).at[pos].set(values, mode="drop")

    total = jnp.sum(keep, dtype=_I32) + jnp.sum(new_order, dtype=_I32)
    lost = pos >= n
    lost = lost & jnp.concatenate([keep, new_order])
    new_side = Side(
        price=place(s.price, prices),
        quantity=place(new_q, add),
        order_id=place(s.order_id, new_id),
        trader_id=place(s.trader_id, 0),
        arrival=place(s.arrival, arrival),
        head=jnp.zeros((), _I32),
        count=jnp.minimum(total, n),
    )
    new_side, refused_q, refused_trader = _refuse_over_limit(new_side)
    all_q = jnp.where(lost, jnp.concatenate([new_q, jnp.where(new_order, add, 0)]), 0)
    refused = refused_q > 0
    kept_lost = jnp.where(lost[:n] & kept, new_q, 0)
    if keep_trader is None:
        kept_refused = jnp.zeros((n,), _I32)
    else:
        kept_refused = jnp.where(refused_trader == keep_trader, refused_q, 0)
    stats = ResyncStats(
        added=saturating_sum(add),
        removed=removed,
        dropped_orders=jnp.sum(lost, dtype=_I32),
        dropped_shares=wide_sum(all_q[:n]).plus(wide_sum(all_q[n:])),
        dropped_kept=saturating_sum(jnp.concatenate([kept_lost, kept_refused])),
        skipped=skipped,
        over_limit_orders=jnp.sum(refused, dtype=_I32),
        over_limit_shares=wide_sum(refused_q),
    )
    return new_side, stats


def _refuse_over_limit(side: Side) -> tuple[Side, jax.Array, jax.Array]:
    """A side in priority order (head 0) without the orders from the first that takes it above
    ``MAX_SIDE_SHARES`` to the worst end; and the refused quantities and traders per slot."""
    refused = saturating_cumsum(side.quantity) > MAX_SIDE_SHARES  # a suffix; free slots hold 0
    refused = refused & (side.quantity > 0)
    clear = lambda x: jnp.where(refused, 0, x)  # noqa: E731
    kept = side.replace(
        price=clear(side.price),
        quantity=clear(side.quantity),
        order_id=clear(side.order_id),
        trader_id=clear(side.trader_id),
        arrival=clear(side.arrival),
        count=side.count - jnp.sum(refused, dtype=_I32),
    )
    return kept, jnp.where(refused, side.quantity, 0), jnp.where(refused, side.trader_id, 0)


def kept_best(side: Side, is_ask: bool, keep_trader: int | None = AGENT_TRADER) -> jax.Array:
    """Best price of ``keep_trader``'s orders on a side, or the side's dummy price when it has none
    (always, for ``keep_trader`` None)."""
    if keep_trader is None:
        return jnp.asarray(DUMMY_ASK_PRICE if is_ask else DUMMY_BID_PRICE, _I32)
    _, valid = logical_index(side)
    mine = valid & (side.trader_id == keep_trader)
    if is_ask:
        return jnp.min(jnp.where(mine, side.price, DUMMY_ASK_PRICE))
    return jnp.max(jnp.where(mine, side.price, DUMMY_BID_PRICE))


def resync_book(
    book: BookState,
    row: jax.Array,
    keep_trader: int | None = AGENT_TRADER,
    *,
    keep_queues: bool = True,
    targets: jax.Array | None = None,
) -> tuple[BookState, ResyncStats]:
    """Both sides of ``book`` re-synchronised to the int32 LOBSTER row ``row`` (ask price 1, ask size
    1, bid price 1, bid size 1, ...), ``keep_trader``'s orders kept in place (``keep_queues``: see
    the module docstring). ``targets`` (a row of the same layout, default ``row``) gives the other
    traders' volume to leave at each level, ``row`` the levels and the visible range. The new orders
    count as one message's arrival: ``next_arrival`` advances by one."""
    chex.assert_rank(row, 1)
    chex.assert_type(row, int)
    if row.shape[0] % 4:
        raise ValueError(f"resync row: expected 4 values per level, got shape {row.shape}")
    row = jnp.asarray(row, _I32)
    arrival = book.next_arrival
    best_kept_bid = kept_best(book.bids, False, keep_trader)
    best_kept_ask = kept_best(book.asks, True, keep_trader)
    asks, sa = resync_side(
        book.asks,
        row[0::4],
        row[1::4],
        True,
        arrival,
        best_kept_bid,
        keep_trader,
        keep_queues=keep_queues,
        targets=None if targets is None else targets[1::4],
    )
    bids, sb = resync_side(
        book.bids,
        row[2::4],
        row[3::4],
        False,
        arrival,
        best_kept_ask,
        keep_trader,
        keep_queues=keep_queues,
        targets=None if targets is None else targets[3::4],
    )
    stats = add_stats(sa, sb)
    c = book.counters
    counters = c.replace(
        evicted_orders=c.evicted_orders + stats.dropped_orders,
        evicted_shares=c.evicted_shares.plus(stats.dropped_shares),
        over_limit_orders=c.over_limit_orders + stats.over_limit_orders,
        over_limit_shares=c.over_limit_shares.plus(stats.over_limit_shares),
    )
    book = book.replace(asks=asks, bids=bids, counters=counters, next_arrival=book.next_arrival + 1)
    return book, stats
