"""Applying messages to a book: one branch-free code path for every event type.

Under ``vmap`` a ``lax.switch`` runs every branch and a ``while_loop`` runs as long as the slowest
book, so every message does the same work here: a prefix-sum match on the side it trades against, a
masked reduction of at most one order, an insert of at most one order, and a shift of each side by at
most one slot (or a move of the ring-buffer head after a sweep). Event types only change the
quantities that enter these steps (zero when the step does not apply).

``apply_message`` runs these as named stages, each a pure function of per-book scalars and the
book's arrays: ``_decode`` (which event, is it valid), ``_roles`` (what the message does to the
book), ``_find_reduction`` (the order a cancel, deletion or execution reduces), ``_trade_plan`` and
``_match`` (the side that trades and the prefix-sum fills), ``_place_remainder`` (where a SUBMIT's
remainder rests, what a full side evicts), ``_edit_sides`` (the new sides), ``_trade_totals`` and
``_fill_rows`` (the record), ``_count`` (the counters) and ``_advance`` (halt state and clock).

Nothing wraps: a side never holds more than ``state.MAX_SIDE_SHARES`` shares (a remainder that would
take it there is refused and counted), so every int32 sum over a side is exact; counters of shares
are two-word (``jaxlob.wide``); batch totals saturate and count it (``jaxlob.records``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import chex
import jax
import jax.numpy as jnp
from jax import lax

from jaxlob import messages as m
from jaxlob.priority import better_or_equal, logical_index, ring_cumsum, slot_of_rank
from jaxlob.records import BatchRecord, Fills, TradeTotals, add_totals, zero_totals
from jaxlob.state import (
    DUMMY_ASK_PRICE,
    MAX_SIDE_SHARES,
    SNAPSHOT_ID_BASE,
    BookState,
    Counters,
    Side,
)

_I32 = jnp.int32
_LOWEST = jnp.iinfo(jnp.int32).min
_HIGHEST = jnp.iinfo(jnp.int32).max


def _sum(x) -> jax.Array:
    return jnp.sum(x, dtype=_I32)


def _count_of(flag) -> jax.Array:
    return flag.astype(_I32)


def _roll_from_prev(x: jax.Array) -> jax.Array:
    """out[i] = x[i - 1], cyclically."""
    return jnp.concatenate([x[-1:], x[:-1]])


def _materialise(*values):
    """``values`` (int32 or bool scalars) unchanged, computed once as the output of a reduction.

    XLA:CPU's fusion emitters copy a cheap per-book computation into every per-slot loop that
    broadcasts its result and redo it for each slot (the shift plan of each book, for example):
    several times slower. A reduction's output is not fused into its consumers, and this one (K
    values spread over a K x 8 array and summed over the 8) is not simplified away, unlike
    ``lax.optimization_barrier``, which does not stop that fusion on CPU.
    """
    leaves, tree = jax.tree.flatten(values)
    stacked = jnp.stack([x.astype(_I32) for x in leaves])
    spread = jnp.where(jnp.arange(8)[None, :] == 0, stacked[:, None], 0)
    summed = jnp.sum(spread, axis=1, dtype=_I32)
    out = [summed[k] if x.dtype != jnp.bool_ else summed[k] != 0 for k, x in enumerate(leaves)]
    return jax.tree.unflatten(tree, out)


def _in_range(x: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    return jnp.where(x >= lo, x <= hi, False)


def _pick(trade_on_asks: jax.Array, bid_value, ask_value):
    """The trading side's value: ``ask_value`` when the message trades on the asks."""
    return jnp.where(trade_on_asks, ask_value, bid_value)


# --------------------------------------------------------------------------- stage records


@dataclass(frozen=True)
class _Sides:
    """The book's sides before the message, with each physical slot's rank and occupancy."""

    bids: Side
    asks: Side
    rank_b: jax.Array  # (n,) priority rank of each bid slot
    valid_b: jax.Array  # (n,) the slot holds an order
    rank_a: jax.Array
    valid_a: jax.Array
    n: int  # capacity

    @classmethod
    def of(cls, book: BookState) -> _Sides:
        rank_b, valid_b = logical_index(book.bids)
        rank_a, valid_a = logical_index(book.asks)
        return cls(book.bids, book.asks, rank_b, valid_b, rank_a, valid_a, book.capacity)


@dataclass(frozen=True)
class _Message:
    """One message's fields and what kind of event it is (per-book scalars)."""

    typ: jax.Array
    direction: jax.Array
    size: jax.Array
    price: jax.Array
    oid: jax.Array
    trader: jax.Array
    is_type: tuple[jax.Array, ...]  # is_type[t]: TYPE == t, for t in 0..NUM_TYPES-1
    buy: jax.Array  # DIRECTION is a buy (the bid side)
    known: jax.Array  # TYPE is one of the engine's types
    bad: jax.Array  # a known type with an invalid direction, size, price, id or halt code
    ok: jax.Array  # known and valid: the message applies


@dataclass(frozen=True)
class _Roles:
    """What a valid message does to the book (exclusive flags but for ``aggressor``)."""

    duplicate: jax.Array  # SUBMIT of an id already resting: rejected
    submit: jax.Array  # SUBMIT that applies
    market: jax.Array  # MARKET (IOC)
    aggressor: jax.Array  # submit | market: trades against the opposite side
    execute: jax.Array  # EXECUTE of a visible order
    reduce_at_price: jax.Array  # CANCEL, DELETE or EXECUTE: names an order by side, id and price
    cancel_id: jax.Array  # CANCEL_ID: names an order by id alone
    found_by_id: jax.Array  # reduce_at_price and the id rests at that side and price
    id_elsewhere: jax.Array  # reduce_at_price and the id rests at another price or side: unmatched


@dataclass(frozen=True)
class _Reduction:
    """The order a CANCEL, DELETE, EXECUTE or CANCEL_ID reduces, and by how much."""

    target_b: jax.Array  # (n,) bool, physical slots of the target on the bid side
    target_a: jax.Array  # (n,) bool, on the ask side
    target_qty_b: jax.Array  # shares of the target on the bids (0 if none there)
    target_qty_a: jax.Array
    remove_rank_b: jax.Array  # rank of the target on the bids
    remove_rank_a: jax.Array
    has_target: jax.Array
    amount: jax.Array  # shares removed from the target
    removes: jax.Array  # the target is used up (and leaves its side)
    size_mismatch: jax.Array  # asked for more than rests, or DELETE of a different size


@dataclass(frozen=True)
class _TradePlan:
    """Which side trades, at which prices, for how many shares."""

    trade_on_asks: jax.Array  # asks for a buy aggressor or for an execution of an ask
    cross_lo: jax.Array  # resting prices an aggressor trades with: cross_lo..cross_hi
    cross_hi: jax.Array
    aggressor_size: jax.Array  # 0 unless SUBMIT or MARKET
    head: jax.Array  # head of the trading side
    executed: jax.Array  # shares an EXECUTE takes from its target
    exec_slot: jax.Array  # physical slot of that target (-1 unless EXECUTE)


@dataclass(frozen=True)
class _Match:
    """The trades on the trading side, per physical slot."""

    price: jax.Array  # (n,) the trading side's prices
    fill: jax.Array  # (n,) shares an aggressor takes from each resting order
    filled: jax.Array  # () sum of fill
    consumed: jax.Array  # () orders it used up (a prefix of the side)
    trade: jax.Array  # (n,) fill plus the EXECUTE's shares at its slot
    volume: jax.Array  # () filled + executed
    num_fills: jax.Array  # () orders traded with, the EXECUTE's target included
    order_id: jax.Array  # (n,) the trading side's order ids
    trader_id: jax.Array  # (n,) and traders


@dataclass(frozen=True)
class _Placement:
    """Where the remainder of a SUBMIT rests, and what a full side evicts for it."""

    rest: jax.Array  # shares left after matching (0 unless SUBMIT)
    insert_rank_b: jax.Array  # rank the remainder takes on the bids (were it a bid)
    insert_rank_a: jax.Array
    do_insert: jax.Array  # the remainder enters its side
    evict_new: jax.Array  # a full side: the new order is the worst and is dropped
    evict_worst: jax.Array  # a full side: its worst order is dropped for the new one
    evicted_qty: jax.Array
    evicted_oid: jax.Array
    evicted_tid: jax.Array
    over_limit: jax.Array  # the remainder would take its side above MAX_SIDE_SHARES: refused


# --------------------------------------------------------------------------- stages


def _decode(msg: jax.Array) -> _Message:
    """The message's fields, its type and whether it is valid."""
    typ, direction, size = msg[m.TYPE], msg[m.DIRECTION], msg[m.SIZE]
    price, oid, trader = msg[m.PRICE], msg[m.ORDER_ID], msg[m.TRADER_ID]
    is_type = [typ == t for t in range(m.NUM_TYPES)]
    known = (typ >= 0) & (typ < m.NUM_TYPES)
    buy = direction == m.BUY
    direction_ok = buy | (direction == m.SELL)
    order_event = functools.reduce(
        jnp.logical_or,
        [
            is_type[t]
            for t in (m.SUBMIT, m.MARKET, m.CANCEL, m.DELETE, m.EXECUTE, m.HIDDEN, m.CROSS)
        ],
    )
    bad = (
        (order_event & (~direction_ok | (size <= 0)))
        | (
            is_type[m.SUBMIT]
            & ((price <= 0) | (price >= DUMMY_ASK_PRICE) | (oid <= SNAPSHOT_ID_BASE))
        )
        | (is_type[m.HALT] & ((price < m.HALT_CODE_HALT) | (price > m.HALT_CODE_RESUME_TRADING)))
    )
    ok = known & ~bad
    is_type, buy, ok = _materialise(is_type, buy, ok)
    return _Message(typ, direction, size, price, oid, trader, tuple(is_type), buy, known, bad, ok)


def _roles(msg: _Message, sides: _Sides) -> _Roles:
    """Duplicates of a SUBMIT's id, and whether the order a cancel or execution names rests at its
    price: one pass per side (0 if the id is absent, 1 if it rests at another price, 2 at this)."""

    def id_code(side, valid):
        at_price = jnp.where(side.price == msg.price, 2, 1)
        return _sum(jnp.where(valid & (side.order_id == msg.oid), at_price, 0))

    ok, is_type = msg.ok, msg.is_type
    id_code_b, id_code_a = id_code(sides.bids, sides.valid_b), id_code(sides.asks, sides.valid_a)
    id_at_price_b, id_at_price_a = id_code_b == 2, id_code_a == 2
    duplicate = ok & is_type[m.SUBMIT] & ((id_code_b > 0) | (id_code_a > 0))
    submit = ok & is_type[m.SUBMIT] & ~duplicate
    market = ok & is_type[m.MARKET]
    reduce_at_price = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.EXECUTE])
    id_here = jnp.where(msg.buy, id_at_price_b, id_at_price_a)
    id_rests = (id_code_b > 0) | (id_code_a > 0)
    return _Roles(
        duplicate=duplicate,
        submit=submit,
        market=market,
        aggressor=submit | market,
        execute=ok & is_type[m.EXECUTE],
        reduce_at_price=reduce_at_price,
        cancel_id=ok & is_type[m.CANCEL_ID],
        found_by_id=reduce_at_price & id_here,
        id_elsewhere=reduce_at_price & ~id_here & id_rests,
    )


def _find_reduction(msg: _Message, roles: _Roles, sides: _Sides) -> _Reduction:
    """The order a CANCEL/DELETE/EXECUTE/CANCEL_ID reduces: id and price in ranges per side. By id
    (and price, except CANCEL_ID); else, when the id rests nowhere, the snapshot aggregate at that
    side and price; none when the id rests at another price or side."""
    buy, cancel_id, reduce_at_price = msg.buy, roles.cancel_id, roles.reduce_at_price
    bids, asks = sides.bids, sides.asks
    by_id = roles.found_by_id | cancel_id
    id_lo = jnp.where(by_id, msg.oid, _LOWEST)
    id_hi = jnp.where(by_id, msg.oid, SNAPSHOT_ID_BASE)
    names = reduce_at_price & ~roles.id_elsewhere
    id_lo_b = jnp.where((names & buy) | cancel_id, id_lo, _HIGHEST)
    id_lo_a = jnp.where((names & ~buy) | cancel_id, id_lo, _HIGHEST)
    price_lo = jnp.where(cancel_id, _LOWEST, msg.price)
    price_hi = jnp.where(cancel_id, _HIGHEST, msg.price)
    id_lo_b, id_lo_a, id_hi, price_lo, price_hi = _materialise(
        id_lo_b, id_lo_a, id_hi, price_lo, price_hi
    )
    target_b = sides.valid_b & _in_range(bids.order_id, id_lo_b, id_hi)
    target_b = target_b & _in_range(bids.price, price_lo, price_hi)
    target_a = sides.valid_a & _in_range(asks.order_id, id_lo_a, id_hi)
    target_a = target_a & _in_range(asks.price, price_lo, price_hi)
    target_qty_b = _sum(jnp.where(target_b, bids.quantity, 0))
    target_qty_a = _sum(jnp.where(target_a, asks.quantity, 0))
    remove_rank_b = _sum(jnp.where(target_b, sides.rank_b, 0))
    remove_rank_a = _sum(jnp.where(target_a, sides.rank_a, 0))
    target_qty = target_qty_b + target_qty_a
    has_target = target_qty > 0
    delete_by_id = msg.is_type[m.DELETE] & roles.found_by_id
    whole = cancel_id | delete_by_id
    amount = jnp.where(
        has_target, jnp.where(whole, target_qty, jnp.minimum(msg.size, target_qty)), 0
    )
    size_mismatch = (
        reduce_at_price
        & has_target
        & jnp.where(delete_by_id, msg.size != target_qty, msg.size > target_qty)
    )
    return _Reduction(
        target_b=target_b,
        target_a=target_a,
        target_qty_b=target_qty_b,
        target_qty_a=target_qty_a,
        remove_rank_b=remove_rank_b,
        remove_rank_a=remove_rank_a,
        has_target=has_target,
        amount=amount,
        removes=has_target & (amount == target_qty),
        size_mismatch=size_mismatch,
    )


def _trade_plan(msg: _Message, roles: _Roles, reduction: _Reduction, sides: _Sides) -> _TradePlan:
    """The side that trades (asks for a buy aggressor or an execution of an ask) and what on it."""
    trade_on_asks = jnp.where(roles.execute, ~msg.buy, msg.buy)
    unlimited = roles.market & (msg.price <= 0)
    cross_lo = jnp.where(unlimited | trade_on_asks, _LOWEST, msg.price)
    cross_hi = jnp.where(unlimited | ~trade_on_asks, _HIGHEST, msg.price)
    cross_lo = jnp.where(roles.aggressor, cross_lo, _HIGHEST)
    cross_hi = jnp.where(roles.aggressor, cross_hi, _LOWEST)
    aggressor_size = jnp.where(roles.aggressor, msg.size, 0)
    head = jnp.where(trade_on_asks, sides.asks.head, sides.bids.head)
    executed = jnp.where(roles.execute, reduction.amount, 0)
    exec_rank = jnp.where(trade_on_asks, reduction.remove_rank_a, reduction.remove_rank_b)
    exec_slot = jnp.where(roles.execute, slot_of_rank(head, exec_rank, sides.n), -1)
    trade_on_asks, cross_lo, cross_hi, aggressor_size, head, exec_slot = _materialise(
        trade_on_asks, cross_lo, cross_hi, aggressor_size, head, exec_slot
    )
    return _TradePlan(trade_on_asks, cross_lo, cross_hi, aggressor_size, head, executed, exec_slot)


def _match(plan: _TradePlan, sides: _Sides) -> _Match:
    """Matching as a prefix sum: fill_i = clip(q - shares ahead of i, 0, q_i)."""
    on_asks, bids, asks = plan.trade_on_asks, sides.bids, sides.asks
    price = _pick(on_asks, bids.price, asks.price)
    quantity = _pick(on_asks, bids.quantity, asks.quantity)
    valid = _pick(on_asks, sides.valid_b, sides.valid_a)
    available = jnp.where(valid & _in_range(price, plan.cross_lo, plan.cross_hi), quantity, 0)
    ahead = ring_cumsum(available, plan.head, exclusive=True)
    fill = jnp.clip(plan.aggressor_size - ahead, 0, available)
    filled = _sum(fill)
    # Orders traded and orders used up, in one pass (both counts < 2**16 > capacity).
    packed = _sum(jnp.where(fill > 0, 1 + jnp.where(fill == quantity, 1 << 16, 0), 0))
    slot = jnp.arange(sides.n, dtype=_I32)
    return _Match(
        price=price,
        fill=fill,
        filled=filled,
        consumed=packed >> 16,
        trade=fill + jnp.where(slot == plan.exec_slot, plan.executed, 0),
        volume=filled + plan.executed,
        num_fills=(packed & 0xFFFF) + (plan.executed > 0).astype(_I32),
        order_id=_pick(on_asks, bids.order_id, asks.order_id),
        trader_id=_pick(on_asks, bids.trader_id, asks.trader_id),
    )


def _place_remainder(msg: _Message, roles: _Roles, match: _Match, sides: _Sides) -> _Placement:
    """The remainder of a SUBMIT rests on its own side unless the side would then hold more than
    ``MAX_SIDE_SHARES`` (refused, counted); a full side evicts its worst order."""
    buy, price, n, bids, asks = msg.buy, msg.price, sides.n, sides.bids, sides.asks
    rest = jnp.where(roles.submit, msg.size - match.filled, 0)
    insert_rank_b = _sum(sides.valid_b & better_or_equal(bids.price, price, is_ask=False))
    insert_rank_a = _sum(sides.valid_a & better_or_equal(asks.price, price, is_ask=True))
    insert_rank = jnp.where(buy, insert_rank_b, insert_rank_a)
    own_full = jnp.where(buy, bids.count, asks.count) == n
    own_shares = _sum(jnp.where(buy, bids.quantity, asks.quantity))  # free slots hold zeros
    fits = rest <= MAX_SIDE_SHARES - own_shares
    inserting = (rest > 0) & fits
    evict_new = inserting & own_full & (insert_rank >= n)
    evict_worst = inserting & own_full & (insert_rank < n)
    worst_b, worst_a = sides.rank_b == n - 1, sides.rank_a == n - 1  # a full side's worst order

    def worst(field_b, field_a):
        return _sum(jnp.where(buy, jnp.where(worst_b, field_b, 0), jnp.where(worst_a, field_a, 0)))

    def evicted(new_value, field_b, field_a):
        return jnp.where(evict_new, new_value, jnp.where(evict_worst, worst(field_b, field_a), 0))

    return _Placement(
        rest=rest,
        insert_rank_b=insert_rank_b,
        insert_rank_a=insert_rank_a,
        do_insert=inserting & ~evict_new,
        evict_new=evict_new,
        evict_worst=evict_worst,
        evicted_qty=evicted(rest, bids.quantity, asks.quantity),
        evicted_oid=evicted(msg.oid, bids.order_id, asks.order_id),
        evicted_tid=evicted(msg.trader, bids.trader_id, asks.trader_id),
        over_limit=(rest > 0) & ~fits,
    )


def _update_side(side, rank, quantity, advance, shift_lo, shift_hi, new_rank, new_count, new):
    """Move the head by ``advance``, shift ranks ``shift_lo..shift_hi`` back by one slot, put
    ``new`` at rank ``new_rank`` (none if -1), and clear the slots past ``new_count``.

    The three edits a message can make to a side reduce to this: a sweep advances the head past the
    filled orders; removing the order at rank r shifts ranks 1..r back and advances the head by one;
    an insert at rank p shifts ranks p+1..count back (a full side loses its worst order).
    ``quantity`` already has fills and reductions subtracted.
    """
    n = side.price.shape[-1]
    from_prev = _in_range(rank, shift_lo, shift_hi)
    at_new = rank == new_rank
    new_r = rank - advance
    new_r = jnp.where(new_r < 0, new_r + n, new_r)
    occupied = new_r < new_count

    def move(x, value):
        x = jnp.where(from_prev, _roll_from_prev(x), x)
        return jnp.where(occupied, jnp.where(at_new, value, x), 0)

    head = side.head + advance
    return Side(
        price=move(side.price, new[0]),
        quantity=move(quantity, new[1]),
        order_id=move(side.order_id, new[2]),
        trader_id=move(side.trader_id, new[3]),
        arrival=move(side.arrival, new[4]),
        head=jnp.where(head >= n, head - n, head),
        count=new_count,
    )


def _side_plan(count, n, consumed, remove, remove_rank, insert, insert_rank):
    """Scalars for ``_update_side``: at most one of sweep, removal, insert applies to a side."""
    advance = consumed + remove.astype(_I32)
    shift_lo = jnp.where(remove, 1, jnp.where(insert, insert_rank + 1, n))
    shift_hi = jnp.where(remove, remove_rank, jnp.minimum(count, n - 1))
    new_rank = jnp.where(insert, insert_rank, -1)
    new_count = count - advance + (insert & (count < n)).astype(_I32)
    return advance, shift_lo, shift_hi, new_rank, new_count


def _edit_sides(
    msg: _Message,
    reduction: _Reduction,
    plan: _TradePlan,
    match: _Match,
    placement: _Placement,
    sides: _Sides,
    next_arrival: jax.Array,
) -> tuple[Side, Side, jax.Array]:
    """Both sides after the message: fills and the reduction subtracted, the swept prefix and a
    used-up target removed, the remainder inserted. Also returns ``reduction.amount`` as computed
    once here (``_materialise``) for the counters to reuse."""
    n, bids, asks = sides.n, sides.bids, sides.asks
    on_asks, consumed = plan.trade_on_asks, match.consumed
    new_order = (msg.price, placement.rest, msg.oid, msg.trader, next_arrival)
    plan_b = _side_plan(
        bids.count,
        n,
        jnp.where(on_asks, 0, consumed),
        reduction.removes & (reduction.target_qty_b > 0),
        reduction.remove_rank_b,
        placement.do_insert & msg.buy,
        placement.insert_rank_b,
    )
    plan_a = _side_plan(
        asks.count,
        n,
        jnp.where(on_asks, consumed, 0),
        reduction.removes & (reduction.target_qty_a > 0),
        reduction.remove_rank_a,
        placement.do_insert & ~msg.buy,
        placement.insert_rank_a,
    )
    plan_b, plan_a, new_order, amount = _materialise(plan_b, plan_a, new_order, reduction.amount)
    fill = match.fill
    new_bids = _update_side(
        bids,
        sides.rank_b,
        bids.quantity - jnp.where(on_asks, 0, fill) - jnp.where(reduction.target_b, amount, 0),
        *plan_b,
        new_order,
    )
    new_asks = _update_side(
        asks,
        sides.rank_a,
        asks.quantity - jnp.where(on_asks, fill, 0) - jnp.where(reduction.target_a, amount, 0),
        *plan_a,
        new_order,
    )
    return new_bids, new_asks, amount


def _trade_totals(
    msg: _Message,
    roles: _Roles,
    plan: _TradePlan,
    match: _Match,
    placement: _Placement,
    num_fill_rows: int,
    num_traders: int,
) -> TradeTotals:
    """The message's totals, per trader: the resting side sells when it is the ask side."""
    trader, trade, on_asks, num_fills = msg.trader, match.trade, plan.trade_on_asks, match.num_fills
    traders = jnp.arange(num_traders, dtype=_I32)
    of_trader = match.trader_id[None, :] == traders[:, None]
    trade_notional = trade.astype(jnp.float32) * match.price.astype(jnp.float32)
    resting_volume = jnp.sum(jnp.where(of_trader, trade[None, :], 0), axis=1, dtype=_I32)
    resting_notional = jnp.sum(jnp.where(of_trader, trade_notional[None, :], 0.0), axis=1)
    notional = jnp.sum(trade_notional)
    is_aggressor = traders == trader
    aggressor_volume = jnp.where(is_aggressor, match.volume, 0)
    aggressor_notional = jnp.where(is_aggressor, notional, 0.0)
    aggressor_known = (trader >= 0) & (trader < num_traders)
    volume = match.volume
    unattributed = (volume - _sum(resting_volume)) + jnp.where(aggressor_known, 0, volume)
    off_book = msg.ok & (msg.is_type[m.HIDDEN] | msg.is_type[m.CROSS])
    off_book_volume = jnp.where(off_book, msg.size, 0)
    return TradeTotals(
        volume=volume,
        notional=notional,
        num_fills=num_fills,
        fill_overflow=jnp.maximum(num_fills - num_fill_rows, 0),
        bought_volume=jnp.where(on_asks, aggressor_volume, resting_volume),
        sold_volume=jnp.where(on_asks, resting_volume, aggressor_volume),
        bought_notional=jnp.where(on_asks, aggressor_notional, resting_notional),
        sold_notional=jnp.where(on_asks, resting_notional, aggressor_notional),
        unattributed_volume=unattributed,
        off_book_volume=off_book_volume,
        off_book_notional=off_book_volume.astype(jnp.float32) * msg.price.astype(jnp.float32),
        rested=jnp.where(placement.do_insert, placement.rest, 0),
        dropped=jnp.where(roles.market, msg.size - match.filled, 0),
        evicted=placement.evicted_qty,
        saturated=jnp.zeros((), _I32),
    )


def _fill_rows(
    roles: _Roles,
    plan: _TradePlan,
    match: _Match,
    placement: _Placement,
    totals: TradeTotals,
    num_fill_rows: int,
    n: int,
) -> Fills:
    """The first ``num_fill_rows`` traded orders in priority order (an EXECUTE's target alone)."""
    row = jnp.arange(num_fill_rows, dtype=_I32)
    execute = roles.execute
    row_slot = jnp.where(execute, plan.exec_slot, slot_of_rank(plan.head, row, n))
    row_used = (row < n) & (~execute | (row == 0))
    row_qty = jnp.where(row_used, match.trade[row_slot], 0)
    row_on = row_qty > 0
    return Fills(
        price=jnp.where(row_on, match.price[row_slot], 0),
        quantity=row_qty,
        order_id=jnp.where(row_on, match.order_id[row_slot], 0),
        trader_id=jnp.where(row_on, match.trader_id[row_slot], 0),
        evicted_order_id=placement.evicted_oid,
        evicted_trader_id=placement.evicted_tid,
        evicted_quantity=placement.evicted_qty,
        totals=totals,
    )


def _count(
    c: Counters,
    msg: _Message,
    roles: _Roles,
    reduction: _Reduction,
    placement: _Placement,
    totals: TradeTotals,
    amount: jax.Array,
) -> Counters:
    """The counters after the message: what could not be applied as asked, and shares that left."""
    ok, is_type, has_target = msg.ok, msg.is_type, reduction.has_target
    hidden = ok & is_type[m.HIDDEN]
    cross = ok & is_type[m.CROSS]
    cancelling = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.CANCEL_ID])
    over_limit = placement.over_limit
    return c.replace(
        messages=c.messages + jnp.ones((), _I32),
        evicted_orders=c.evicted_orders + _count_of(placement.evict_new | placement.evict_worst),
        evicted_shares=c.evicted_shares.add(placement.evicted_qty),
        cancelled_shares=c.cancelled_shares.add(jnp.where(cancelling, amount, 0)),
        dropped_shares=c.dropped_shares.add(totals.dropped),
        unmatched_cancels=c.unmatched_cancels + _count_of(cancelling & ~has_target),
        unmatched_executions=c.unmatched_executions + _count_of(roles.execute & ~has_target),
        snapshot_fallbacks=c.snapshot_fallbacks
        + _count_of(roles.reduce_at_price & has_target & ~roles.found_by_id),
        size_mismatches=c.size_mismatches + _count_of(reduction.size_mismatch),
        duplicate_ids=c.duplicate_ids + _count_of(roles.duplicate),
        invalid_messages=c.invalid_messages + _count_of(msg.known & msg.bad),
        unknown_types=c.unknown_types + _count_of(~msg.known),
        hidden_executions=c.hidden_executions + _count_of(hidden),
        hidden_volume=c.hidden_volume.add(jnp.where(hidden, msg.size, 0)),
        cross_trades=c.cross_trades + _count_of(cross),
        cross_volume=c.cross_volume.add(jnp.where(cross, msg.size, 0)),
        fill_overflow=c.fill_overflow.add(totals.fill_overflow),
        unattributed_volume=c.unattributed_volume.add(totals.unattributed_volume),
        over_limit_orders=c.over_limit_orders + _count_of(over_limit),
        over_limit_shares=c.over_limit_shares.add(jnp.where(over_limit, placement.rest, 0)),
    )


def _advance(book: BookState, raw: jax.Array, msg: _Message) -> BookState:
    """The book with its arrival sequence, halt state and clock moved past the message (padding
    leaves the clock)."""
    price = msg.price
    halt_code = jnp.where(
        price == m.HALT_CODE_HALT,
        m.HALTED,
        jnp.where(price == m.HALT_CODE_RESUME_QUOTING, m.QUOTING, m.TRADING),
    )
    timed = ~msg.is_type[m.NOOP]
    halting = msg.ok & msg.is_type[m.HALT]
    return book.replace(
        next_arrival=book.next_arrival + jnp.ones((), _I32),
        halt_state=jnp.where(halting, halt_code, book.halt_state).astype(_I32),
        time_s=jnp.where(timed, raw[m.TIME_S], book.time_s),
        time_ns=jnp.where(timed, raw[m.TIME_NS], book.time_ns),
    )


# --------------------------------------------------------------------------- public


def apply_message(book: BookState, msg) -> tuple[BookState, Fills]:
    """Apply one message (int32 vector, layout of ``jaxlob.messages``); return the book and fills."""
    chex.assert_type(msg, int)  # trace-time checks: free under jit
    raw = jnp.asarray(msg, _I32)
    chex.assert_shape(raw, (m.NUM_FIELDS,))
    sides = _Sides.of(book)
    msg = _decode(raw)
    roles = _roles(msg, sides)
    reduction = _find_reduction(msg, roles, sides)
    plan = _trade_plan(msg, roles, reduction, sides)
    match = _match(plan, sides)
    placement = _place_remainder(msg, roles, match, sides)
    new_bids, new_asks, amount = _edit_sides(
        msg, reduction, plan, match, placement, sides, book.next_arrival
    )
    totals = _trade_totals(msg, roles, plan, match, placement, book.max_fills, book.num_traders)
    fills = _fill_rows(roles, plan, match, placement, totals, book.max_fills, sides.n)
    counters = _count(book.counters, msg, roles, reduction, placement, totals, amount)
    new_book = _advance(book, raw, msg).replace(bids=new_bids, asks=new_asks, counters=counters)
    return new_book, fills


def apply_messages(
    book: BookState, msgs: jax.Array, keep_fills: bool = False
) -> tuple[BookState, BatchRecord]:
    """Apply ``msgs`` (shape ``(num_messages, NUM_FIELDS)``) in order with ``lax.scan``.

    Returns the book and a ``BatchRecord`` with the batch totals; with ``keep_fills`` (static) also
    every message's ``Fills``, stacked.
    """
    chex.assert_rank(msgs, 2)
    chex.assert_axis_dimension(msgs, 1, m.NUM_FIELDS)
    chex.assert_type(msgs, int)

    def step(carry, msg):
        book, totals = carry
        book, fills = apply_message(book, msg)
        return (book, add_totals(totals, fills.totals)), (fills if keep_fills else None)

    (book, totals), fills = lax.scan(step, (book, zero_totals(book.num_traders)), msgs)
    return book, BatchRecord(totals=totals, fills=fills)
