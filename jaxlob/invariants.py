"""The engine's promises for one message, checked on the device (jit/vmap-able, no reference book).

``check_message(before, after, msg, fills, ledger)`` returns one violation flag per ``INVARIANTS``
entry and the updated share ledger. The soak command (``jaxlob.soak``) runs it after every message
of many vmapped books; the property tests check the same promises on the host.

- ``crossed``: the best bid is below the best ask whenever both sides hold orders;
- ``order``: each side in price-time priority, quantities positive, free slots all zero;
- ``limit``: at most ``MAX_SIDE_SHARES`` shares a side;
- ``ids``: order ids unique in the book (both sides);
- ``fills``: every fill at the price of an order that rested before, for at most its shares, and
  within the limit price of a SUBMIT or IOC aggressor;
- ``shares``: shares conserved: those that entered (the initial book, accepted SUBMITs) equal those
  resting plus those traded (by aggressors and resting orders) plus those cancelled, evicted or
  refused (exact ``Wide`` sums);
- ``counted``: a message (other than padding or a halt code) that changed nothing raised one of
  the counters of what was not applied.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxlob import messages as m
from jaxlob.priority import in_priority_order, logical_index
from jaxlob.records import Fills
from jaxlob.state import DUMMY_ASK_PRICE, MAX_SIDE_SHARES, SNAPSHOT_ID_BASE, BookState, Side
from jaxlob.views import best_bid_ask
from jaxlob.wide import Wide, wide_sum, wide_zero

_I32 = jnp.int32
INVARIANTS = ("crossed", "order", "limit", "ids", "fills", "shares", "counted")
# Counters that say a message (or part of it) was not applied as asked.
NOT_APPLIED = (
    "unmatched_cancels",
    "unmatched_executions",
    "duplicate_ids",
    "invalid_messages",
    "unknown_types",
    "evicted_orders",
    "over_limit_orders",
)
_GONE = ("cancelled_shares", "evicted_shares", "over_limit_shares")  # shares that left untraded


@struct.dataclass
class Ledger:
    """Shares that entered the book and those that traded, since the start (exact)."""

    entered: Wide
    aggressor: Wide  # accepted SUBMITs' own shares that traded on arrival
    resting: Wide  # shares taken from resting orders


def _resting_shares(book: BookState) -> Wide:
    return wide_sum(book.bids.quantity).plus(wide_sum(book.asks.quantity))


def _gone(book: BookState) -> Wide:
    c = book.counters
    return getattr(c, _GONE[0]).plus(getattr(c, _GONE[1])).plus(getattr(c, _GONE[2]))


def start_ledger(book: BookState) -> Ledger:
    """The ledger of a book as built (its resting shares, and any it evicted or refused)."""
    return Ledger(_resting_shares(book).plus(_gone(book)), wide_zero(), wide_zero())


def _same(a: Wide, b: Wide) -> jax.Array:
    return (a.hi == b.hi) & (a.lo == b.lo)


def _side_ordered(side: Side, is_ask: bool) -> jax.Array:
    """Priority order, positive quantities, zeros in free slots."""
    s, valid = in_priority_order(side)
    better_price = s.price[:-1] < s.price[1:] if is_ask else s.price[:-1] > s.price[1:]
    later = (s.price[:-1] == s.price[1:]) & (s.arrival[:-1] < s.arrival[1:])
    pair_ok = ~valid[1:] | better_price | later
    fields = (side.price, side.quantity, side.order_id, side.trader_id, side.arrival)
    _, physical_valid = logical_index(side)
    cleared = jnp.all(jnp.stack([jnp.where(physical_valid, 0, f) == 0 for f in fields]))
    positive = jnp.all(jnp.where(physical_valid, side.quantity > 0, True))
    n = side.price.shape[-1]
    return jnp.all(pair_ok) & cleared & positive & (side.count >= 0) & (side.count <= n)


def _ids_unique(book: BookState) -> jax.Array:
    _, vb = logical_index(book.bids)
    _, va = logical_index(book.asks)
    ids = jnp.concatenate([book.bids.order_id, book.asks.order_id])
    valid = jnp.concatenate([vb, va])
    order = jnp.lexsort((~valid, ids))  # by id, occupied slots first among equal ids
    ids, valid = ids[order], valid[order]
    return ~jnp.any(valid[1:] & valid[:-1] & (ids[1:] == ids[:-1]))


def _fills_ok(before: BookState, msg: jax.Array, fills: Fills) -> jax.Array:
    """Each fill row matches an order resting before (either side) at its price."""

    def on(side: Side):
        _, valid = logical_index(side)
        hit = (
            valid[None, :]
            & (side.order_id[None, :] == fills.order_id[:, None])
            & (side.price[None, :] == fills.price[:, None])
            & (side.quantity[None, :] >= fills.quantity[:, None])
        )
        return jnp.any(hit, axis=1)

    used = fills.quantity > 0
    found = on(before.bids) | on(before.asks)
    typ, direction, price = msg[m.TYPE], msg[m.DIRECTION], msg[m.PRICE]
    limited = (typ == m.SUBMIT) | ((typ == m.MARKET) & (price > 0))
    within = jnp.where(direction == m.BUY, fills.price <= price, fills.price >= price)
    return jnp.all(~used | (found & (~limited | within)))


def _changed(before: BookState, after: BookState) -> jax.Array:
    def side_changed(a: Side, b: Side):
        fields = ("price", "quantity", "order_id", "trader_id", "arrival", "head", "count")
        return jnp.any(jnp.stack([jnp.any(getattr(a, f) != getattr(b, f)) for f in fields]))

    return side_changed(before.bids, after.bids) | side_changed(before.asks, after.asks)


def check_message(
    before: BookState, after: BookState, msg: jax.Array, fills: Fills, ledger: Ledger
) -> tuple[jax.Array, Ledger]:
    """Violation flags (bool, one per ``INVARIANTS`` entry) after ``msg``, and the new ledger."""
    bid, ask = best_bid_ask(after)
    both = (after.bids.count > 0) & (after.asks.count > 0)
    crossed = both & (bid >= ask)
    ordered = _side_ordered(after.bids, False) & _side_ordered(after.asks, True)

    def over_limit(side: Side):
        shares = wide_sum(side.quantity)
        return (shares.hi > 0) | (shares.lo > MAX_SIDE_SHARES)

    over = over_limit(after.bids) | over_limit(after.asks)

    typ, direction, size, price = msg[m.TYPE], msg[m.DIRECTION], msg[m.SIZE], msg[m.PRICE]
    volume = fills.totals.volume
    accepted = (
        (typ == m.SUBMIT)
        & ((direction == m.BUY) | (direction == m.SELL))
        & (size > 0)
        & (price > 0)
        & (price < DUMMY_ASK_PRICE)
        & (msg[m.ORDER_ID] > SNAPSHOT_ID_BASE)
        & (after.counters.duplicate_ids == before.counters.duplicate_ids)
    )
    ledger = Ledger(
        entered=ledger.entered.add(jnp.where(accepted, size, 0)),
        aggressor=ledger.aggressor.add(jnp.where(accepted, volume, 0)),
        resting=ledger.resting.add(volume),
    )
    accounted = (
        _resting_shares(after).plus(ledger.aggressor).plus(ledger.resting).plus(_gone(after))
    )
    conserved = _same(ledger.entered, accounted)

    changed = (
        _changed(before, after)
        | (volume > 0)
        | (fills.totals.off_book_volume > 0)
        | (after.halt_state != before.halt_state)
    )
    raised = [getattr(after.counters, n) != getattr(before.counters, n) for n in NOT_APPLIED]
    counted = jnp.any(jnp.stack(raised)) | (fills.totals.dropped > 0)  # an IOC's unfilled rest
    exempt = (typ == m.NOOP) | ((typ == m.HALT) & (price >= -1) & (price <= 1))
    flags = jnp.stack(
        [
            crossed,
            ~ordered,
            over,
            ~_ids_unique(after),
            ~_fills_ok(before, msg, fills),
            ~conserved,
            ~exempt & ~changed & ~counted,
        ]
    )
    return flags, ledger
