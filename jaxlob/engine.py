"""Applying messages to a book: one branch-free code path for every event type.

Under ``vmap`` a ``lax.switch`` runs every branch and a ``while_loop`` runs as long as the slowest
book, so every message does the same work here: a prefix-sum match on the side it trades against, a
masked reduction of at most one order, an insert of at most one order, and a shift of each side by at
most one slot (or a move of the ring-buffer head after a sweep). Event types only change the
quantities that enter these steps (zero when the step does not apply).
"""

from __future__ import annotations

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
    inclusive = jnp.cumsum(x, dtype=_I32)
    wrapped = slot < head
    before_head = _sum(jnp.where(wrapped, x, 0))
    return inclusive - x - before_head + jnp.where(wrapped, inclusive[-1], 0)


def _roll_from_next(x: jax.Array) -> jax.Array:
    """out[i] = x[i + 1], cyclically."""
    return jnp.concatenate([x[1:], x[:1]])


def _roll_from_prev(x: jax.Array) -> jax.Array:
    """out[i] = x[i - 1], cyclically."""
    return jnp.concatenate([x[-1:], x[:-1]])


def _update_side(side, rank, quantity, consumed, remove, remove_rank, insert, insert_rank, new):
    """Drop the ``consumed`` best orders, remove the order at ``remove_rank``, insert ``new``.

    At most one of the three applies to a side in one message. ``quantity`` already has fills and
    reductions subtracted. An insert into a full side overwrites the worst order (its eviction is
    accounted for by the caller).
    """
    n = side.price.shape[-1]
    count = side.count
    full = count == n
    from_next = remove & (rank >= remove_rank) & (rank < count - 1)
    from_prev = insert & (rank > insert_rank) & (rank <= jnp.minimum(count, n - 1))
    at_new = insert & (rank == insert_rank)
    new_count = count - consumed - remove.astype(_I32) + (insert & ~full).astype(_I32)
    head = side.head + consumed
    head = jnp.where(head >= n, head - n, head)
    new_rank = rank - consumed
    new_rank = jnp.where(new_rank < 0, new_rank + n, new_rank)
    occupied = new_rank < new_count

    def move(x, value):
        x = jnp.where(from_next, _roll_from_next(x), x)
        x = jnp.where(from_prev, _roll_from_prev(x), x)
        x = jnp.where(at_new, value, x)
        return jnp.where(occupied, x, 0)

    return Side(
        price=move(side.price, new[0]),
        quantity=move(quantity, new[1]),
        order_id=move(side.order_id, new[2]),
        trader_id=move(side.trader_id, new[3]),
        arrival=move(side.arrival, new[4]),
        head=head,
        count=new_count,
    )


def apply_message(book: BookState, msg) -> tuple[BookState, Fills]:
    """Apply one message (int32 vector, layout of ``jaxlob.messages``); return the book and fills."""
    msg = jnp.asarray(msg, _I32)
    typ, direction, size = msg[m.TYPE], msg[m.DIRECTION], msg[m.SIZE]
    price, oid, trader = msg[m.PRICE], msg[m.ORDER_ID], msg[m.TRADER_ID]
    n, num_fill_rows, num_traders = book.capacity, book.max_fills, book.num_traders
    bids, asks, c = book.bids, book.asks, book.counters
    rank_b, valid_b = logical_index(bids)
    rank_a, valid_a = logical_index(asks)

    # --- decode: which steps apply, and with which quantities
    is_type = [typ == t for t in range(m.NUM_TYPES)]
    known = (typ >= 0) & (typ < m.NUM_TYPES)
    buy = direction == m.BUY
    direction_ok = buy | (direction == m.SELL)
    order_event = (
        is_type[m.SUBMIT]
        | is_type[m.MARKET]
        | is_type[m.CANCEL]
        | is_type[m.DELETE]
        | is_type[m.EXECUTE]
        | is_type[m.HIDDEN]
        | is_type[m.CROSS]
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
    id_b = valid_b & (bids.order_id == oid)
    id_a = valid_a & (asks.order_id == oid)
    duplicate = ok & is_type[m.SUBMIT] & (jnp.any(id_b) | jnp.any(id_a))
    submit = ok & is_type[m.SUBMIT] & ~duplicate
    market = ok & is_type[m.MARKET]
    aggressor = submit | market
    execute = ok & is_type[m.EXECUTE]
    reduce_at_price = ok & (is_type[m.CANCEL] | is_type[m.DELETE] | is_type[m.EXECUTE])
    cancel_id = ok & is_type[m.CANCEL_ID]

    # --- the order a CANCEL/DELETE/EXECUTE/CANCEL_ID reduces: by id, else the snapshot level
    at_price_b = reduce_at_price & buy & valid_b & (bids.price == price)
    at_price_a = reduce_at_price & ~buy & valid_a & (asks.price == price)
    by_id_b, by_id_a = at_price_b & id_b, at_price_a & id_a
    found_by_id = jnp.any(by_id_b) | jnp.any(by_id_a)
    snapshot_b = at_price_b & (bids.order_id <= SNAPSHOT_ID_BASE)
    snapshot_a = at_price_a & (asks.order_id <= SNAPSHOT_ID_BASE)
    target_b = jnp.where(found_by_id, by_id_b, snapshot_b) | (cancel_id & id_b)
    target_a = jnp.where(found_by_id, by_id_a, snapshot_a) | (cancel_id & id_a)
    target_qty_b = _sum(jnp.where(target_b, bids.quantity, 0))
    target_qty_a = _sum(jnp.where(target_a, asks.quantity, 0))
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

    def pick(on_bids, on_asks):
        return jnp.where(trade_on_asks, on_asks, on_bids)

    t_price, t_qty = pick(bids.price, asks.price), pick(bids.quantity, asks.quantity)
    t_oid, t_tid = pick(bids.order_id, asks.order_id), pick(bids.trader_id, asks.trader_id)
    t_rank, t_valid, t_head = (
        pick(rank_b, rank_a),
        pick(valid_b, valid_a),
        pick(bids.head, asks.head),
    )
    t_target = pick(target_b, target_a)

    # --- matching as a prefix sum: fill_i = clip(q - shares ahead of i, 0, q_i)
    unlimited = market & (price <= 0)
    crosses = unlimited | jnp.where(buy, t_price <= price, t_price >= price)
    available = jnp.where(aggressor & t_valid & crosses, t_qty, 0)
    ahead = _ring_exclusive_cumsum(available, t_head)
    fill = jnp.clip(jnp.where(aggressor, size, 0) - ahead, 0, available)
    filled = _sum(fill)
    consumed = _sum((fill == t_qty) & (fill > 0))
    executed = jnp.where(execute, amount, 0)
    trade = fill + jnp.where(t_target & execute, amount, 0)
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
    worst_b, worst_a = rank_b == n - 1, rank_a == n - 1

    def worst(field_b, field_a):
        return jnp.where(
            buy, _sum(jnp.where(worst_b, field_b, 0)), _sum(jnp.where(worst_a, field_a, 0))
        )

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
    new_bids = _update_side(
        bids,
        rank_b,
        bids.quantity - jnp.where(trade_on_asks, 0, fill) - jnp.where(target_b, amount, 0),
        jnp.where(trade_on_asks, 0, consumed),
        removes & (target_qty_b > 0),
        _sum(jnp.where(target_b, rank_b, 0)),
        do_insert & buy,
        insert_rank_b,
        new_order,
    )
    new_asks = _update_side(
        asks,
        rank_a,
        asks.quantity - jnp.where(trade_on_asks, fill, 0) - jnp.where(target_a, amount, 0),
        jnp.where(trade_on_asks, consumed, 0),
        removes & (target_qty_a > 0),
        _sum(jnp.where(target_a, rank_a, 0)),
        do_insert & ~buy,
        insert_rank_a,
        new_order,
    )

    # --- fills: the first max_fills traded orders in priority order (the execution's target)
    row = jnp.arange(num_fill_rows, dtype=_I32)
    target_rank = _sum(jnp.where(t_target, t_rank, 0))
    slot = jnp.remainder(t_head + jnp.where(execute, target_rank, row), n)
    row_used = (row < n) & (~execute | (row == 0))
    row_qty = jnp.where(row_used, trade[slot], 0)
    row_on = row_qty > 0
    num_fills = _sum(trade > 0)

    # --- totals, per trader: resting side sells when it is the ask side
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
        price=jnp.where(row_on, t_price[slot], 0),
        quantity=row_qty,
        order_id=jnp.where(row_on, t_oid[slot], 0),
        trader_id=jnp.where(row_on, t_tid[slot], 0),
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
