"""Applying messages to a book: one branch-free code path for every event type, whose cost follows
the work a message does rather than the book's capacity wherever the sorted layout allows.

Under ``vmap`` a ``lax.switch`` runs every branch, so every message does the same steps here; event
types only change the quantities that enter them (zero when a step does not apply). Per message and
side the engine makes two passes over the capacity ``n``, both plain loops that XLA vectorises:

- one read pass (``_scan_side``): a few min/sum reductions that find the order a message names (by
  id, or the snapshot aggregate at its price), the rank a new order takes, and the side's shares;
- one write pass (``_update_side``): the side shifted by at most one slot (an insert or a removal),
  its head moved past a swept prefix, one order's quantity reduced, the slots past the count cleared.

Everything else touches only the orders involved: matching reads the trading side's best
``MATCH_WINDOW`` ranks (a gather), takes their fills from a prefix sum over that window, and reads
the next window only while a sweep goes on (a ``while_loop``; under ``vmap`` it runs as long as the
deepest sweep of the batch, which almost never needs it); the order a message reduces, the worst order of a
full side and the fill rows are gathered by slot.

``apply_message`` runs these as named stages, each a pure function of per-book scalars and the
book's arrays: ``_decode`` (which event, is it valid), ``_scan_side`` (the read pass), ``_roles``
(what the message does to the book), ``_find_reduction`` (the order a cancel, deletion or execution
reduces), ``_trade_plan`` and ``_match`` (the side that trades and the windowed fills),
``_place_remainder`` (where a SUBMIT's remainder rests, what a full side evicts), ``_edit_sides``
(the write pass), ``_trade_totals`` and ``_fill_rows`` (the record), ``_count`` (the counters) and
``_advance`` (halt state and clock).

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
from jaxlob.backend import materialise as _materialise
from jaxlob.priority import better_or_equal, logical_index, slot_of_rank
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
_F32 = jnp.float32
_LOWEST = jnp.iinfo(jnp.int32).min
_HIGHEST = jnp.iinfo(jnp.int32).max
_NONE = 1 << 30  # "no such rank" in the read pass's min reductions (ranks are below 2**15)
_OFF_PRICE = 1 << 15  # read-pass key offsets (see _scan_side; ranks are below 2**15)
_SNAPSHOT_KEY = 1 << 16
_MATCH_FIELDS = ("price", "quantity", "order_id", "trader_id")
MATCH_WINDOW = 16  # ranks of the trading side one matching step reads; read at trace time


def _sum(x, axis=None) -> jax.Array:
    return jnp.sum(x, axis=axis, dtype=_I32)


def _count_of(flag) -> jax.Array:
    return flag.astype(_I32)


def _roll_from_prev(x: jax.Array) -> jax.Array:
    """out[i] = x[i - 1], cyclically."""
    return jnp.concatenate([x[-1:], x[:-1]])


def _in_range(x: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    return jnp.where(x >= lo, x <= hi, False)


def _pick(trade_on_asks: jax.Array, bid_value, ask_value):
    """The trading side's value: ``ask_value`` when the message trades on the asks."""
    return jnp.where(trade_on_asks, ask_value, bid_value)


# --------------------------------------------------------------------------- stage records


@dataclass(frozen=True)
class _SideScan:
    """One side before the message, and what the read pass found on it for the message."""

    side: Side
    id_rank: jax.Array  # () rank of the order with the message's id (_NONE: none)
    id_at_price: jax.Array  # () bool, that order rests at the message's price
    snap_rank: jax.Array  # () first snapshot-range order at the message's price, when the id is
    # not on this side (_NONE: none, or not asked)
    insert_rank: jax.Array  # () rank an order at the message's price takes (behind equal prices)
    shares: jax.Array  # () shares resting on the side

    @property
    def has_id(self) -> jax.Array:
        return self.id_rank < _NONE


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
class _Target:
    """The order a reduction names on one side (quantity 0 when there is none on that side)."""

    slot: jax.Array  # () physical slot
    rank: jax.Array  # () priority rank
    quantity: jax.Array  # () its shares, 0 if the side holds no target
    order_id: jax.Array
    trader_id: jax.Array


@dataclass(frozen=True)
class _Reduction:
    """The order a CANCEL, DELETE, EXECUTE or CANCEL_ID reduces, and by how much."""

    bid: _Target
    ask: _Target
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
    executed: jax.Array  # shares an EXECUTE takes from its target
    exec_order_id: jax.Array  # that target's id and trader
    exec_trader_id: jax.Array


@dataclass(frozen=True)
class _Match:
    """An aggressor's fills on the trading side (a prefix of it), in totals and first rows."""

    filled: jax.Array  # () shares taken
    consumed: jax.Array  # () orders used up (the best ``consumed`` ranks)
    partial_slot: jax.Array  # () physical slot of the order partly filled (-1: none)
    partial: jax.Array  # () shares taken from it
    num_fills: jax.Array  # () orders traded with
    notional: jax.Array  # () float32, sum of fill * price
    trader_volume: jax.Array  # (num_traders,) shares taken from each trader's orders
    trader_notional: jax.Array  # (num_traders,) float32
    row_price: jax.Array  # (max_fills,) the first fills in priority order
    row_quantity: jax.Array
    row_order_id: jax.Array
    row_trader_id: jax.Array


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


def _scan_side(side: Side, msg: _Message, is_ask: bool) -> _SideScan:
    """The read pass: the first rank (in priority order) holding the message's id, else the snapshot
    aggregate at its price; the first rank of a price worse than its price; the side's shares.

    Ids are unique on a book (a SUBMIT of a resting id is rejected), so the id's rank is its only
    one; the rank of the first worse price is where a new order at the message's price goes. One
    min finds the id and the snapshot aggregate: keys rank (the id at the message's price),
    2**15 + rank (the id at another price) and 2**16 + rank (a snapshot-range order at the price);
    the aggregate is only asked for when the id rests nowhere.
    """
    rank, valid = logical_index(side)
    at_price = side.price == msg.price
    key = jnp.where(
        side.order_id == msg.oid,
        rank + jnp.where(at_price, 0, _OFF_PRICE),
        jnp.where((side.order_id <= SNAPSHOT_ID_BASE) & at_price, rank + _SNAPSHOT_KEY, _NONE),
    )
    worse = ~better_or_equal(side.price, msg.price, is_ask)
    first = jnp.min(jnp.where(valid, key, _NONE))
    first_worse = jnp.min(jnp.where(valid & worse, rank, _NONE))
    has_id = first < _SNAPSHOT_KEY
    return _SideScan(
        side=side,
        id_rank=jnp.where(has_id, first & (_OFF_PRICE - 1), _NONE),
        id_at_price=first < _OFF_PRICE,
        snap_rank=jnp.where(has_id | (first >= _NONE), _NONE, first - _SNAPSHOT_KEY),
        insert_rank=jnp.minimum(first_worse, side.count),
        shares=_sum(side.quantity),  # free slots hold zeros
    )


def _roles(msg: _Message, scan_b: _SideScan, scan_a: _SideScan) -> _Roles:
    """Duplicates of a SUBMIT's id, and whether the order a cancel or execution names rests at its
    side and price, at another, or nowhere."""
    ok, is_type = msg.ok, msg.is_type
    id_rests = scan_b.has_id | scan_a.has_id
    duplicate = ok & is_type[m.SUBMIT] & id_rests
    submit = ok & is_type[m.SUBMIT] & ~duplicate
    market = ok & is_type[m.MARKET]
    reduce_at_price = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.EXECUTE])
    id_here = jnp.where(msg.buy, scan_b.id_at_price, scan_a.id_at_price)
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


def _target(scan: _SideScan, roles: _Roles, named: jax.Array, n: int) -> _Target:
    """The target on one side (``named``: the message's direction is this side): the id's order for
    CANCEL_ID, or for a reduction whose id rests at this side and price; else, when the id rests
    nowhere, the snapshot aggregate at the message's price."""
    by_id = roles.found_by_id | roles.cancel_id
    names = roles.reduce_at_price & ~roles.id_elsewhere & named
    here = jnp.where(
        roles.cancel_id,
        scan.has_id,
        jnp.where(roles.found_by_id, named, names & (scan.snap_rank < _NONE)),
    )
    rank = jnp.where(here, jnp.where(by_id, scan.id_rank, scan.snap_rank), 0)
    slot = slot_of_rank(scan.side.head, rank, n)
    side = scan.side
    return _Target(
        slot=slot,
        rank=rank,
        quantity=jnp.where(here, side.quantity[slot], 0),
        order_id=side.order_id[slot],
        trader_id=side.trader_id[slot],
    )


def _find_reduction(
    msg: _Message, roles: _Roles, scan_b: _SideScan, scan_a: _SideScan, n: int
) -> _Reduction:
    """The order a CANCEL/DELETE/EXECUTE/CANCEL_ID reduces: by id (and price, except CANCEL_ID);
    else, when the id rests nowhere, the snapshot aggregate at that side and price; none when the
    id rests at another price or side."""
    bid = _target(scan_b, roles, msg.buy, n)
    ask = _target(scan_a, roles, ~msg.buy, n)
    target_qty = bid.quantity + ask.quantity
    has_target = target_qty > 0
    delete_by_id = msg.is_type[m.DELETE] & roles.found_by_id
    whole = roles.cancel_id | delete_by_id
    amount = jnp.where(
        has_target, jnp.where(whole, target_qty, jnp.minimum(msg.size, target_qty)), 0
    )
    size_mismatch = (
        roles.reduce_at_price
        & has_target
        & jnp.where(delete_by_id, msg.size != target_qty, msg.size > target_qty)
    )
    return _Reduction(
        bid=bid,
        ask=ask,
        has_target=has_target,
        amount=amount,
        removes=has_target & (amount == target_qty),
        size_mismatch=size_mismatch,
    )


def _trade_plan(msg: _Message, roles: _Roles, reduction: _Reduction) -> _TradePlan:
    """The side that trades (asks for a buy aggressor or an execution of an ask) and what on it."""
    trade_on_asks = jnp.where(roles.execute, ~msg.buy, msg.buy)
    unlimited = roles.market & (msg.price <= 0)
    cross_lo = jnp.where(unlimited | trade_on_asks, _LOWEST, msg.price)
    cross_hi = jnp.where(unlimited | ~trade_on_asks, _HIGHEST, msg.price)
    cross_lo = jnp.where(roles.aggressor, cross_lo, _HIGHEST)
    cross_hi = jnp.where(roles.aggressor, cross_hi, _LOWEST)
    bid, ask = reduction.bid, reduction.ask
    return _TradePlan(
        trade_on_asks=trade_on_asks,
        cross_lo=cross_lo,
        cross_hi=cross_hi,
        aggressor_size=jnp.where(roles.aggressor, msg.size, 0),
        executed=jnp.where(roles.execute, reduction.amount, 0),
        exec_order_id=_pick(trade_on_asks, bid.order_id, ask.order_id),
        exec_trader_id=_pick(trade_on_asks, bid.trader_id, ask.trader_id),
    )


def _match(plan: _TradePlan, bids: Side, asks: Side, max_fills: int, num_traders: int) -> _Match:
    """Matching as a prefix sum over windows of the trading side's best ranks: the fill of the
    order at rank i is clip(q - shares ahead of i, 0, q_i). The orders an aggressor can trade with
    are a prefix of the side (its prices are the best), so the next window is read only while the
    last one was used up and shares remain. A window's results are packed in one int32 and one
    float32 vector (few loop-carried buffers)."""
    n = bids.price.shape[-1]
    width = max(1, min(n, MATCH_WINDOW))  # fill rows come from whichever window holds them
    on_asks, q = plan.trade_on_asks, plan.aggressor_size
    count = _pick(on_asks, bids.count, asks.count)
    offsets = jnp.arange(width, dtype=_I32)
    earlier = offsets[None, :] < offsets[:, None]  # (i, j): rank j is ahead of rank i
    traders = jnp.arange(num_traders, dtype=_I32)
    row = jnp.arange(max_fills, dtype=_I32)

    def window(start, ahead):
        ranks = start + offsets
        slot_b, slot_a = slot_of_rank(bids.head, ranks, n), slot_of_rank(asks.head, ranks, n)
        slot = _pick(on_asks, slot_b, slot_a)
        price, quantity, order_id, trader_id = (
            _pick(on_asks, getattr(bids, f)[slot_b], getattr(asks, f)[slot_a])
            for f in _MATCH_FIELDS
        )
        live = ranks < jnp.minimum(count, n)
        available = jnp.where(live & _in_range(price, plan.cross_lo, plan.cross_hi), quantity, 0)
        before = ahead + _sum(jnp.where(earlier, available[None, :], 0), axis=1)
        fill = jnp.clip(q - before, 0, available)
        traded = fill > 0
        partly = traded & (fill < quantity)
        notional = fill.astype(_F32) * price.astype(_F32)
        of_trader = trader_id[None, :] == traders[:, None]
        in_row = row[:, None] == ranks[None, :]  # (max_fills, width)
        rows = jnp.stack([price, fill, order_id, trader_id])  # (4, width)
        rows = jnp.where(traded[None, None, :] & in_row[None], rows[:, None, :], 0)
        ints = jnp.concatenate(
            [
                jnp.stack(
                    [
                        _sum(fill),
                        _sum(traded & ~partly),
                        _sum(jnp.where(partly, slot + 1, 0)),
                        _sum(jnp.where(partly, fill, 0)),
                        _sum(traded),
                    ]
                ),
                _sum(jnp.where(of_trader, fill[None, :], 0), axis=1),
                _sum(rows, axis=2).reshape(-1),
            ]
        )
        floats = jnp.concatenate(
            [
                jnp.sum(notional)[None],
                jnp.sum(jnp.where(of_trader, notional[None, :], 0.0), axis=1),
            ]
        )
        total = ahead + _sum(available)
        more = (q - total > 0) & (available[-1] > 0) & (ranks[-1] + 1 < count)
        return total, more, ints, floats

    ahead, more, ints, floats = window(jnp.zeros((), _I32), jnp.zeros((), _I32))
    if width < n:

        def step(carry):
            start, ahead, _, ints, floats = carry
            ahead, more, more_ints, more_floats = window(start, ahead)
            return start + width, ahead, more, ints + more_ints, floats + more_floats

        start = jnp.asarray(width, _I32)
        carry = lax.while_loop(lambda c: c[2], step, (start, ahead, more, ints, floats))
        ints, floats = carry[3], carry[4]
    t = num_traders
    rows = ints[5 + t :].reshape(4, max_fills)
    return _Match(
        filled=ints[0],
        consumed=ints[1],
        partial_slot=ints[2] - 1,
        partial=ints[3],
        num_fills=ints[4],
        notional=floats[0],
        trader_volume=ints[5 : 5 + t],
        trader_notional=floats[1:],
        row_price=rows[0],
        row_quantity=rows[1],
        row_order_id=rows[2],
        row_trader_id=rows[3],
    )


def _place_remainder(
    msg: _Message, roles: _Roles, match: _Match, scan_b: _SideScan, scan_a: _SideScan, n: int
) -> _Placement:
    """The remainder of a SUBMIT rests on its own side unless the side would then hold more than
    ``MAX_SIDE_SHARES`` (refused, counted); a full side evicts its worst order."""
    buy = msg.buy
    bids, asks = scan_b.side, scan_a.side
    rest = jnp.where(roles.submit, msg.size - match.filled, 0)
    insert_rank = jnp.where(buy, scan_b.insert_rank, scan_a.insert_rank)
    own_full = jnp.where(buy, bids.count, asks.count) == n
    own_shares = jnp.where(buy, scan_b.shares, scan_a.shares)
    fits = rest <= MAX_SIDE_SHARES - own_shares
    inserting = (rest > 0) & fits
    evict_new = inserting & own_full & (insert_rank >= n)
    evict_worst = inserting & own_full & (insert_rank < n)
    worst_b = slot_of_rank(bids.head, n - 1, n)  # a full side's worst order
    worst_a = slot_of_rank(asks.head, n - 1, n)

    def evicted(new_value, field_b, field_a):
        worst = jnp.where(buy, field_b[worst_b], field_a[worst_a])
        return jnp.where(evict_new, new_value, jnp.where(evict_worst, worst, 0))

    return _Placement(
        rest=rest,
        insert_rank_b=scan_b.insert_rank,
        insert_rank_a=scan_a.insert_rank,
        do_insert=inserting & ~evict_new,
        evict_new=evict_new,
        evict_worst=evict_worst,
        evicted_qty=evicted(rest, bids.quantity, asks.quantity),
        evicted_oid=evicted(msg.oid, bids.order_id, asks.order_id),
        evicted_tid=evicted(msg.trader, bids.trader_id, asks.trader_id),
        over_limit=(rest > 0) & ~fits,
    )


def _quantities(side: Side, less_slot, less) -> jax.Array:
    """The side's quantities with ``less`` shares taken from the order at ``less_slot`` (-1: none)."""
    slot = jnp.arange(side.price.shape[-1], dtype=_I32)
    return side.quantity - jnp.where(slot == less_slot, less, 0)


def _update_side(side, quantity, shifted, advance, shift_lo, shift_hi, new_rank, new_count, new):
    """The write pass: move the head by ``advance``, shift ranks ``shift_lo..shift_hi`` back by one
    slot, put ``new`` at rank ``new_rank`` (none if -1), and clear the slots past ``new_count``.

    The three edits a message can make to a side reduce to this: a sweep advances the head past the
    filled orders; removing the order at rank r shifts ranks 1..r back and advances the head by one;
    an insert at rank p shifts ranks p+1..count back (a full side loses its worst order).
    ``quantity`` already has the fills and the reduction subtracted; ``shifted`` holds, per field,
    the side's values one slot back (``_roll_from_prev``), read only where ranks shift.
    """
    n = side.price.shape[-1]
    rank, _ = logical_index(side)
    from_prev = _in_range(rank, shift_lo, shift_hi)
    at_new = rank == new_rank
    new_r = rank - advance
    new_r = jnp.where(new_r < 0, new_r + n, new_r)
    occupied = new_r < new_count

    def move(x, prev, value):
        x = jnp.where(from_prev, prev, x)
        return jnp.where(occupied, jnp.where(at_new, value, x), 0)

    values = (side.price, quantity, side.order_id, side.trader_id, side.arrival)
    price, quantity, order_id, trader_id, arrival = (
        move(x, prev, value) for x, prev, value in zip(values, shifted, new)
    )
    head = side.head + advance
    return Side(
        price=price,
        quantity=quantity,
        order_id=order_id,
        trader_id=trader_id,
        arrival=arrival,
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


def _less(on_this_side, match: _Match, target: _Target, amount):
    """The one order of a side whose quantity drops (partly filled, or reduced), and by how much."""
    partly = on_this_side & (match.partial_slot >= 0)
    reduced = target.quantity > 0
    slot = jnp.where(partly, match.partial_slot, jnp.where(reduced, target.slot, -1))
    return slot, jnp.where(partly, match.partial, jnp.where(reduced, amount, 0))


def _edit_sides(
    msg: _Message,
    reduction: _Reduction,
    plan: _TradePlan,
    match: _Match,
    placement: _Placement,
    bids: Side,
    asks: Side,
    next_arrival: jax.Array,
) -> tuple[Side, Side]:
    """Both sides after the message: fills and the reduction subtracted, the swept prefix and a
    used-up target removed, the remainder inserted."""
    n = bids.price.shape[-1]
    on_asks, consumed, amount = plan.trade_on_asks, match.consumed, reduction.amount
    new_order = (msg.price, placement.rest, msg.oid, msg.trader, next_arrival)
    plan_b = _side_plan(
        bids.count,
        n,
        jnp.where(on_asks, 0, consumed),
        reduction.removes & (reduction.bid.quantity > 0),
        reduction.bid.rank,
        placement.do_insert & msg.buy,
        placement.insert_rank_b,
    )
    plan_a = _side_plan(
        asks.count,
        n,
        jnp.where(on_asks, consumed, 0),
        reduction.removes & (reduction.ask.quantity > 0),
        reduction.ask.rank,
        placement.do_insert & ~msg.buy,
        placement.insert_rank_a,
    )
    less_b = _less(~on_asks, match, reduction.bid, amount)
    less_a = _less(on_asks, match, reduction.ask, amount)
    # At most one side shifts (the one an order enters or leaves): one roll serves both.
    asks_shift = plan_a[1] < n
    plan_b, plan_a, less_b, less_a, new_order, asks_shift = _materialise(
        plan_b, plan_a, less_b, less_a, new_order, asks_shift
    )
    quantity_b, quantity_a = _quantities(bids, *less_b), _quantities(asks, *less_a)
    fields_b = (bids.price, quantity_b, bids.order_id, bids.trader_id, bids.arrival)
    fields_a = (asks.price, quantity_a, asks.order_id, asks.trader_id, asks.arrival)
    shifted = [_roll_from_prev(jnp.where(asks_shift, a, b)) for b, a in zip(fields_b, fields_a)]
    return (
        _update_side(bids, quantity_b, shifted, *plan_b, new_order),
        _update_side(asks, quantity_a, shifted, *plan_a, new_order),
    )


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
    trader, on_asks, executed = msg.trader, plan.trade_on_asks, plan.executed
    traders = jnp.arange(num_traders, dtype=_I32)
    exec_notional = executed.astype(_F32) * msg.price.astype(_F32)  # an EXECUTE trades at its price
    exec_of = traders == plan.exec_trader_id
    resting_volume = match.trader_volume + jnp.where(exec_of, executed, 0)
    resting_notional = match.trader_notional + jnp.where(exec_of, exec_notional, 0.0)
    num_fills = match.num_fills + (executed > 0).astype(_I32)
    volume = match.filled + executed
    notional = match.notional + exec_notional
    is_aggressor = traders == trader
    aggressor_volume = jnp.where(is_aggressor, volume, 0)
    aggressor_notional = jnp.where(is_aggressor, notional, 0.0)
    aggressor_known = (trader >= 0) & (trader < num_traders)
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
        off_book_notional=off_book_volume.astype(_F32) * msg.price.astype(_F32),
        rested=jnp.where(placement.do_insert, placement.rest, 0),
        dropped=jnp.where(roles.market, msg.size - match.filled, 0),
        evicted=placement.evicted_qty,
        saturated=jnp.zeros((), _I32),
    )


def _fill_rows(
    msg: _Message, plan: _TradePlan, match: _Match, placement: _Placement, totals: TradeTotals
) -> Fills:
    """The first ``max_fills`` traded orders in priority order (an EXECUTE's target alone)."""
    first = jnp.arange(match.row_quantity.shape[0]) == 0
    executed = first & (plan.executed > 0)

    def row(matched, exec_value):
        return jnp.where(executed, exec_value, matched)

    return Fills(
        price=row(match.row_price, msg.price),
        quantity=row(match.row_quantity, plan.executed),
        order_id=row(match.row_order_id, plan.exec_order_id),
        trader_id=row(match.row_trader_id, plan.exec_trader_id),
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
    n = book.capacity
    msg = _decode(raw)
    scan_b, scan_a = _scan_side(book.bids, msg, False), _scan_side(book.asks, msg, True)
    roles = _roles(msg, scan_b, scan_a)
    reduction = _find_reduction(msg, roles, scan_b, scan_a, n)
    plan = _trade_plan(msg, roles, reduction)
    match = _match(plan, book.bids, book.asks, book.max_fills, book.num_traders)
    placement = _place_remainder(msg, roles, match, scan_b, scan_a, n)
    new_bids, new_asks = _edit_sides(
        msg, reduction, plan, match, placement, book.bids, book.asks, book.next_arrival
    )
    totals = _trade_totals(msg, roles, plan, match, placement, book.max_fills, book.num_traders)
    fills = _fill_rows(msg, plan, match, placement, totals)
    counters = _count(book.counters, msg, roles, reduction, placement, totals, reduction.amount)
    new_book = _advance(book, raw, msg).replace(bids=new_bids, asks=new_asks, counters=counters)
    return new_book, fills


def scan_messages(apply_one, book, msgs: jax.Array, keep_fills: bool, num_traders: int):
    """Apply ``msgs`` in order with ``apply_one(book, msg) -> (book, fills)`` under ``lax.scan``;
    return the book and a ``BatchRecord`` (every message's ``Fills`` too with ``keep_fills``)."""
    chex.assert_rank(msgs, 2)
    chex.assert_axis_dimension(msgs, 1, m.NUM_FIELDS)
    chex.assert_type(msgs, int)

    def step(carry, msg):
        book, totals = carry
        book, fills = apply_one(book, msg)
        return (book, add_totals(totals, fills.totals)), (fills if keep_fills else None)

    (book, totals), fills = lax.scan(step, (book, zero_totals(num_traders)), msgs)
    return book, BatchRecord(totals=totals, fills=fills)


def apply_messages(
    book: BookState, msgs: jax.Array, keep_fills: bool = False
) -> tuple[BookState, BatchRecord]:
    """Apply ``msgs`` (shape ``(num_messages, NUM_FIELDS)``) in order with ``lax.scan``.

    Returns the book and a ``BatchRecord`` with the batch totals; with ``keep_fills`` (static) also
    every message's ``Fills``, stacked.
    """
    return scan_messages(apply_message, book, msgs, keep_fills, book.num_traders)
