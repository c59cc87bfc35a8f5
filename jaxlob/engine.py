"""Applying messages to a book: one branch-free code path for every event type.

Under ``vmap`` a ``lax.switch`` runs every branch and a ``while_loop`` runs as long as the slowest
book, so every message does the same work here: a prefix-sum match on the side it trades against, a
masked reduction of at most one order, an insert of at most one order, and a shift of each side by at
most one slot (or a move of the ring-buffer head after a sweep). Event types only change the
quantities that enter these steps (zero when the step does not apply).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxlob import messages as m
from jaxlob.records import BatchRecord, Fills, TradeTotals, add_totals, zero_totals
from jaxlob.state import DUMMY_ASK_PRICE, SNAPSHOT_ID_BASE, BookState, Side

_I32 = jnp.int32


def _sum(x) -> jax.Array:
    return jnp.sum(x, dtype=_I32)


def logical_index(side: Side) -> tuple[jax.Array, jax.Array]:
    """Priority rank of each physical slot (0 = best) and whether the slot holds an order."""
    n = side.price.shape[-1]
    rank = jnp.arange(n, dtype=_I32) - side.head
    rank = jnp.where(rank < 0, rank + n, rank)
    return rank, rank < side.count


def _ring_exclusive_cumsum(x: jax.Array, head: jax.Array) -> jax.Array:
    """For each physical slot, the sum of ``x`` over the slots before it in ring order from head."""
    slot = jnp.arange(x.shape[-1], dtype=_I32)
    # A log-depth scan: XLA:CPU lowers jnp.cumsum to a windowed reduction, slower at these sizes.
    inclusive = lax.associative_scan(jnp.add, x)
    wrapped = slot < head
    before_head = _sum(jnp.where(wrapped, x, 0))
    return inclusive - x - before_head + jnp.where(wrapped, inclusive[-1], 0)


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


_LOWEST = jnp.iinfo(jnp.int32).min
_HIGHEST = jnp.iinfo(jnp.int32).max


def apply_message(book: BookState, msg) -> tuple[BookState, Fills]:
    """Apply one message (int32 vector, layout of ``jaxlob.messages``); return the book and fills."""
    msg = jnp.asarray(msg, _I32)
    typ, direction, size = msg[m.TYPE], msg[m.DIRECTION], msg[m.SIZE]
    price, oid, trader = msg[m.PRICE], msg[m.ORDER_ID], msg[m.TRADER_ID]
    n, num_fill_rows, num_traders = book.capacity, book.max_fills, book.num_traders
    bids, asks, c = book.bids, book.asks, book.counters
    slot = jnp.arange(n, dtype=_I32)
    rank_b, valid_b = logical_index(bids)
    rank_a, valid_a = logical_index(asks)

    # --- decode: which steps apply (per-book scalars)
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

    # --- order ids in the book: duplicates of a SUBMIT, the order a cancel or execution names
    # One pass per side: 0 if the id is absent, 1 if it rests at another price, 2 at this price.
    def id_code(side, valid):
        at_price = jnp.where(side.price == price, 2, 1)
        return _sum(jnp.where(valid & (side.order_id == oid), at_price, 0))

    id_code_b, id_code_a = id_code(bids, valid_b), id_code(asks, valid_a)
    id_at_price_b, id_at_price_a = id_code_b == 2, id_code_a == 2
    duplicate = ok & is_type[m.SUBMIT] & ((id_code_b > 0) | (id_code_a > 0))
    submit = ok & is_type[m.SUBMIT] & ~duplicate
    market = ok & is_type[m.MARKET]
    aggressor = submit | market
    execute = ok & is_type[m.EXECUTE]
    reduce_at_price = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.EXECUTE])
    cancel_id = ok & is_type[m.CANCEL_ID]
    found_by_id = reduce_at_price & jnp.where(buy, id_at_price_b, id_at_price_a)

    # --- the order a CANCEL/DELETE/EXECUTE/CANCEL_ID reduces: id and price in ranges per side.
    # By id (and price, except CANCEL_ID); else the snapshot aggregate at that side and price.
    by_id = found_by_id | cancel_id
    id_lo = jnp.where(by_id, oid, _LOWEST)
    id_hi = jnp.where(by_id, oid, SNAPSHOT_ID_BASE)
    id_lo_b = jnp.where((reduce_at_price & buy) | cancel_id, id_lo, _HIGHEST)
    id_lo_a = jnp.where((reduce_at_price & ~buy) | cancel_id, id_lo, _HIGHEST)
    price_lo = jnp.where(cancel_id, _LOWEST, price)
    price_hi = jnp.where(cancel_id, _HIGHEST, price)
    id_lo_b, id_lo_a, id_hi, price_lo, price_hi = _materialise(
        id_lo_b, id_lo_a, id_hi, price_lo, price_hi
    )
    target_b = valid_b & _in_range(bids.order_id, id_lo_b, id_hi)
    target_b = target_b & _in_range(bids.price, price_lo, price_hi)
    target_a = valid_a & _in_range(asks.order_id, id_lo_a, id_hi)
    target_a = target_a & _in_range(asks.price, price_lo, price_hi)
    target_qty_b = _sum(jnp.where(target_b, bids.quantity, 0))
    target_qty_a = _sum(jnp.where(target_a, asks.quantity, 0))
    remove_rank_b = _sum(jnp.where(target_b, rank_b, 0))
    remove_rank_a = _sum(jnp.where(target_a, rank_a, 0))
    target_qty = target_qty_b + target_qty_a
    has_target = target_qty > 0
    delete_by_id = is_type[m.DELETE] & found_by_id
    whole = cancel_id | delete_by_id
    amount = jnp.where(has_target, jnp.where(whole, target_qty, jnp.minimum(size, target_qty)), 0)
    size_mismatch = (
        reduce_at_price
        & has_target
        & jnp.where(delete_by_id, size != target_qty, size > target_qty)
    )
    removes = has_target & (amount == target_qty)

    # --- the side that trades: asks for a buy aggressor or for an execution of an ask
    trade_on_asks = jnp.where(execute, ~buy, buy)
    unlimited = market & (price <= 0)
    cross_lo = jnp.where(unlimited | trade_on_asks, _LOWEST, price)
    cross_hi = jnp.where(unlimited | ~trade_on_asks, _HIGHEST, price)
    cross_lo = jnp.where(aggressor, cross_lo, _HIGHEST)
    cross_hi = jnp.where(aggressor, cross_hi, _LOWEST)
    aggressor_size = jnp.where(aggressor, size, 0)
    t_head = jnp.where(trade_on_asks, asks.head, bids.head)
    executed = jnp.where(execute, amount, 0)
    exec_rank = jnp.where(trade_on_asks, remove_rank_a, remove_rank_b)
    exec_slot = jnp.where(execute, jnp.remainder(t_head + exec_rank, n), -1)
    trade_on_asks, cross_lo, cross_hi, aggressor_size, t_head, exec_slot = _materialise(
        trade_on_asks, cross_lo, cross_hi, aggressor_size, t_head, exec_slot
    )

    def pick(on_bids, on_asks):
        return jnp.where(trade_on_asks, on_asks, on_bids)

    t_price, t_qty = pick(bids.price, asks.price), pick(bids.quantity, asks.quantity)
    t_valid = pick(valid_b, valid_a)

    # --- matching as a prefix sum: fill_i = clip(q - shares ahead of i, 0, q_i)
    available = jnp.where(t_valid & _in_range(t_price, cross_lo, cross_hi), t_qty, 0)
    ahead = _ring_exclusive_cumsum(available, t_head)
    fill = jnp.clip(aggressor_size - ahead, 0, available)
    filled = _sum(fill)
    # Orders traded and orders used up, in one pass (both counts < 2**16 > capacity).
    packed = _sum(jnp.where(fill > 0, 1 + jnp.where(fill == t_qty, 1 << 16, 0), 0))
    consumed = packed >> 16
    trade = fill + jnp.where(slot == exec_slot, executed, 0)
    volume = filled + executed

    # --- the remainder of a SUBMIT rests on its own side; a full side evicts its worst order
    rest = jnp.where(submit, size - filled, 0)
    insert_rank_b = _sum(valid_b & (bids.price >= price))
    insert_rank_a = _sum(valid_a & (asks.price <= price))
    insert_rank = jnp.where(buy, insert_rank_b, insert_rank_a)
    own_full = jnp.where(buy, bids.count, asks.count) == n
    inserting = rest > 0
    evict_new = inserting & own_full & (insert_rank >= n)
    evict_worst = inserting & own_full & (insert_rank < n)
    do_insert = inserting & ~evict_new
    worst_b, worst_a = rank_b == n - 1, rank_a == n - 1  # the worst order of a full side

    def worst(field_b, field_a):
        return _sum(jnp.where(buy, jnp.where(worst_b, field_b, 0), jnp.where(worst_a, field_a, 0)))

    evicted_qty = jnp.where(
        evict_new, rest, jnp.where(evict_worst, worst(bids.quantity, asks.quantity), 0)
    )
    evicted_oid = jnp.where(
        evict_new, oid, jnp.where(evict_worst, worst(bids.order_id, asks.order_id), 0)
    )
    evicted_tid = jnp.where(
        evict_new, trader, jnp.where(evict_worst, worst(bids.trader_id, asks.trader_id), 0)
    )

    new_order = (price, rest, oid, trader, book.next_arrival)
    plan_b = _side_plan(
        bids.count,
        n,
        jnp.where(trade_on_asks, 0, consumed),
        removes & (target_qty_b > 0),
        remove_rank_b,
        do_insert & buy,
        insert_rank_b,
    )
    plan_a = _side_plan(
        asks.count,
        n,
        jnp.where(trade_on_asks, consumed, 0),
        removes & (target_qty_a > 0),
        remove_rank_a,
        do_insert & ~buy,
        insert_rank_a,
    )
    plan_b, plan_a, new_order, amount = _materialise(plan_b, plan_a, new_order, amount)
    new_bids = _update_side(
        bids,
        rank_b,
        bids.quantity - jnp.where(trade_on_asks, 0, fill) - jnp.where(target_b, amount, 0),
        *plan_b,
        new_order,
    )
    new_asks = _update_side(
        asks,
        rank_a,
        asks.quantity - jnp.where(trade_on_asks, fill, 0) - jnp.where(target_a, amount, 0),
        *plan_a,
        new_order,
    )

    # --- fills: the first max_fills traded orders in priority order (the execution's target)
    row = jnp.arange(num_fill_rows, dtype=_I32)
    row_slot = jnp.where(execute, exec_slot, jnp.remainder(t_head + row, n))
    row_used = (row < n) & (~execute | (row == 0))
    row_qty = jnp.where(row_used, trade[row_slot], 0)
    row_on = row_qty > 0
    t_oid, t_tid = pick(bids.order_id, asks.order_id), pick(bids.trader_id, asks.trader_id)
    num_fills = (packed & 0xFFFF) + (executed > 0).astype(_I32)

    # --- totals, per trader: the resting side sells when it is the ask side
    traders = jnp.arange(num_traders, dtype=_I32)
    of_trader = t_tid[None, :] == traders[:, None]
    trade_notional = trade.astype(jnp.float32) * t_price.astype(jnp.float32)
    resting_volume = jnp.sum(jnp.where(of_trader, trade[None, :], 0), axis=1, dtype=_I32)
    resting_notional = jnp.sum(jnp.where(of_trader, trade_notional[None, :], 0.0), axis=1)
    notional = jnp.sum(trade_notional)
    is_aggressor = traders == trader
    aggressor_volume = jnp.where(is_aggressor, volume, 0)
    aggressor_notional = jnp.where(is_aggressor, notional, 0.0)
    aggressor_known = (trader >= 0) & (trader < num_traders)
    unattributed = (volume - _sum(resting_volume)) + jnp.where(aggressor_known, 0, volume)
    off_book = ok & (is_type[m.HIDDEN] | is_type[m.CROSS])
    off_book_volume = jnp.where(off_book, size, 0)
    dropped = jnp.where(market, size - filled, 0)
    fill_overflow = jnp.maximum(num_fills - num_fill_rows, 0)
    totals = TradeTotals(
        volume=volume,
        notional=notional,
        num_fills=num_fills,
        fill_overflow=fill_overflow,
        bought_volume=jnp.where(trade_on_asks, aggressor_volume, resting_volume),
        sold_volume=jnp.where(trade_on_asks, resting_volume, aggressor_volume),
        bought_notional=jnp.where(trade_on_asks, aggressor_notional, resting_notional),
        sold_notional=jnp.where(trade_on_asks, resting_notional, aggressor_notional),
        unattributed_volume=unattributed,
        off_book_volume=off_book_volume,
        off_book_notional=off_book_volume.astype(jnp.float32) * price.astype(jnp.float32),
        rested=jnp.where(do_insert, rest, 0),
        dropped=dropped,
        evicted=evicted_qty,
    )
    fills = Fills(
        price=jnp.where(row_on, t_price[row_slot], 0),
        quantity=row_qty,
        order_id=jnp.where(row_on, t_oid[row_slot], 0),
        trader_id=jnp.where(row_on, t_tid[row_slot], 0),
        evicted_order_id=evicted_oid,
        evicted_trader_id=evicted_tid,
        evicted_quantity=evicted_qty,
        totals=totals,
    )

    # --- counters and flags
    one = jnp.ones((), _I32)

    def count(flag):
        return flag.astype(_I32)

    hidden = ok & is_type[m.HIDDEN]
    cross = ok & is_type[m.CROSS]
    cancelling = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.CANCEL_ID])
    counters = c.replace(
        messages=c.messages + one,
        evicted_orders=c.evicted_orders + count(evict_new | evict_worst),
        evicted_shares=c.evicted_shares + evicted_qty,
        cancelled_shares=c.cancelled_shares + jnp.where(cancelling, amount, 0),
        dropped_shares=c.dropped_shares + dropped,
        unmatched_cancels=c.unmatched_cancels + count(cancelling & ~has_target),
        unmatched_executions=c.unmatched_executions + count(execute & ~has_target),
        snapshot_fallbacks=c.snapshot_fallbacks
        + count(reduce_at_price & has_target & ~found_by_id),
        size_mismatches=c.size_mismatches + count(size_mismatch),
        duplicate_ids=c.duplicate_ids + count(duplicate),
        invalid_messages=c.invalid_messages + count(known & bad),
        unknown_types=c.unknown_types + count(~known),
        hidden_executions=c.hidden_executions + count(hidden),
        hidden_volume=c.hidden_volume + jnp.where(hidden, size, 0),
        cross_trades=c.cross_trades + count(cross),
        cross_volume=c.cross_volume + jnp.where(cross, size, 0),
        fill_overflow=c.fill_overflow + fill_overflow,
        unattributed_volume=c.unattributed_volume + unattributed,
    )
    halt_code = jnp.where(
        price == m.HALT_CODE_HALT,
        m.HALTED,
        jnp.where(price == m.HALT_CODE_RESUME_QUOTING, m.QUOTING, m.TRADING),
    )
    timed = ~is_type[m.NOOP]
    new_book = book.replace(
        bids=new_bids,
        asks=new_asks,
        counters=counters,
        next_arrival=book.next_arrival + one,
        halt_state=jnp.where(ok & is_type[m.HALT], halt_code, book.halt_state).astype(_I32),
        time_s=jnp.where(timed, msg[m.TIME_S], book.time_s),
        time_ns=jnp.where(timed, msg[m.TIME_NS], book.time_ns),
    )
    return new_book, fills


def apply_messages(
    book: BookState, msgs: jax.Array, keep_fills: bool = False
) -> tuple[BookState, BatchRecord]:
    """Apply ``msgs`` (shape ``(num_messages, NUM_FIELDS)``) in order with ``lax.scan``.

    Returns the book and a ``BatchRecord`` with the batch totals; with ``keep_fills`` (static) also
    every message's ``Fills``, stacked.
    """

    def step(carry, msg):
        book, totals = carry
        book, fills = apply_message(book, msg)
        return (book, add_totals(totals, fills.totals)), (fills if keep_fills else None)

    (book, totals), fills = lax.scan(step, (book, zero_totals(book.num_traders)), msgs)
    return book, BatchRecord(totals=totals, fills=fills)
