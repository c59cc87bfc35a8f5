"""Queue-true fills: a data execution is the trace of a marketable order, and the agent's orders with
priority over the order it names trade first.

LOBSTER records every trade as an execution of a resting order (type 4, visible; type 5, hidden),
never as a marketable submission. Replayed as-is, an execution reduces the order it names even when
the agent's order rests ahead of it. Here each execution of ``s`` shares at price ``p`` on side
``d`` is an aggressor of ``s`` shares: it first takes, in priority order, the agent's orders on side
``d`` that rank ahead of the named order, and only the remainder reaches the data:

- type 4 naming order ``X``: the agent's orders at better prices than ``p``, and those at ``p`` that
  arrived before ``X``, fill first; the remainder reduces ``X`` as the engine does (by id, else the
  snapshot aggregate at ``p``: the aggregate stands for orders placed before the book was built, so
  it ranks where it rests). When the book knows neither, ``X`` is taken to be at the back of its
  level (where the re-synchronisation puts volume the engine has not seen), so every agent order at
  ``p`` or better ranks ahead (also when ``X`` rests at another price or side, a message that
  contradicts the book: the engine counts its remainder as unmatched);
- type 5 (hidden): NASDAQ gives displayed orders priority over hidden ones at the same price, so
  every agent order (all are displayed) at ``p`` or better fills first; the remainder stays a hidden
  execution, recorded off-book.

The agent's fills change only the agent's orders (reduced, removed when used up) and are recorded
as trades between the data's aggressor (trader 0) and the agent (the resting side). Without an
agent order ahead the message and the book are exactly what the engine alone would produce, so a
replay of the data alone is unchanged. Nothing fills while the book is halted (``allowed``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.replay.market import AGENT
from jaxlob import messages as m
from jaxlob.backend import materialise as _materialise
from jaxlob.records import TradeTotals, zero_totals
from jaxlob.state import SNAPSHOT_ID_BASE, BookState, Side

_I32 = jnp.int32
_F32 = jnp.float32
_NONE = 1 << 30  # "no such order" in the read pass's min (ranks are below 2**15)
_AGGREGATE_KEY = 1 << 16


def _pick_side(book: BookState, on_bids) -> Side:
    return jax.tree.map(lambda b, a: jnp.where(on_bids, b, a), book.bids, book.asks)


def queue_fill(
    book: BookState, msg, allowed
) -> tuple[BookState, jax.Array, TradeTotals, jax.Array, jax.Array]:
    """Fill the agent's orders ahead of a data execution ``msg`` (see the module docstring).

    Returns the book with the agent's orders reduced, the message to give the engine (its size cut
    to the remainder; padding when nothing is left, the clock kept by the caller), the agent's trades
    as `TradeTotals`, the shares the agent's orders took, and the shares of the order a CANCEL,
    DELETE or EXECUTE names (by id at its price on its side, else, for a data message, the snapshot
    aggregate there; 0 when the book has neither), for `envs.replay.impact` and the latency's
    cancel-replace rule.
    """
    typ, direction, size = msg[m.TYPE], msg[m.DIRECTION], msg[m.SIZE]
    execution = (typ == m.EXECUTE) | (typ == m.HIDDEN)
    on_bids = direction == m.BUY
    applies = allowed & execution & (on_bids | (direction == m.SELL)) & (size > 0)
    return _fill(book, msg, on_bids, applies)


def _fill(book: BookState, msg, on_bids, applies):
    typ, size = msg[m.TYPE], msg[m.SIZE]
    price, oid = msg[m.PRICE], msg[m.ORDER_ID]
    on_bids, applies = _materialise(on_bids, applies)
    bids, asks = book.bids, book.asks

    def pick(name):
        return jnp.where(on_bids, getattr(bids, name), getattr(asks, name))

    s_price, s_oid, s_trader = pick("price"), pick("order_id"), pick("trader_id")
    n = s_price.shape[-1]
    head = jnp.where(on_bids, bids.head, asks.head)
    count = jnp.where(on_bids, bids.count, asks.count)
    rank = jnp.arange(n, dtype=_I32) - head
    rank = jnp.where(rank < 0, rank + n, rank)
    valid = rank < count
    at_price = valid & (s_price == price)
    # One min finds the order named by id (key: its rank), else the aggregate (2**16 + rank).
    key = jnp.where(
        at_price & (s_oid == oid),
        rank,
        jnp.where(
            at_price & (s_oid <= SNAPSHOT_ID_BASE) & (msg[m.TRADER_ID] != AGENT),
            rank + _AGGREGATE_KEY,
            _NONE,
        ),
    )
    first = jnp.min(key)
    better = valid & jnp.where(on_bids, s_price >= price, s_price <= price)
    back = jnp.sum(better, dtype=_I32)  # the back of level p
    named = jnp.where(first < _AGGREGATE_KEY, first, first - _AGGREGATE_KEY)
    slot = jnp.where(first < _NONE, head + named, 0)
    slot = jnp.where(slot >= n, slot - n, slot)
    found = jnp.where(
        first < _NONE, jnp.where(on_bids, bids.quantity[slot], asks.quantity[slot]), 0
    )
    named_rank = jnp.where(first < _NONE, named, back)
    named_rank = jnp.where(typ == m.HIDDEN, back, named_rank)
    (named_rank,) = _materialise(jnp.where(applies, named_rank, 0))

    ahead = valid & (s_trader == AGENT) & (rank < named_rank)
    (num_ahead,) = _materialise(jnp.sum(ahead, dtype=_I32))
    book, filled, notional, num_fills = _take_ahead(book, on_bids, size, named_rank, num_ahead)
    (touched,) = _materialise(filled > 0)

    rest = size - filled
    data_msg = msg.at[m.SIZE].set(rest)
    data_msg = jnp.where(rest == 0, jnp.zeros_like(msg), data_msg)
    data_msg = jnp.where(touched, data_msg, msg)

    traders = jnp.arange(book.num_traders, dtype=_I32)
    agent_v = jnp.where(traders == AGENT, filled, 0)
    data_v = jnp.where(traders == 0, filled, 0)
    agent_n = jnp.where(traders == AGENT, notional, 0.0)
    data_n = jnp.where(traders == 0, notional, 0.0)
    totals = zero_totals(book.num_traders).replace(
        volume=filled,
        notional=notional,
        num_fills=num_fills,
        bought_volume=jnp.where(on_bids, agent_v, data_v),
        sold_volume=jnp.where(on_bids, data_v, agent_v),
        bought_notional=jnp.where(on_bids, agent_n, data_n),
        sold_notional=jnp.where(on_bids, data_n, agent_n),
    )
    book, data_msg = _settled(book, data_msg)
    return book, data_msg, totals, filled, found


def _take_ahead(book: BookState, on_bids, size, named_rank, num_ahead):
    """The agent's ``num_ahead`` orders ranked ahead of ``named_rank`` on the bids (``on_bids``) or
    the asks filled best first by ``size`` shares, one order a round: a used-up order leaves its
    side as the engine removes one (the ranks ahead of it move one slot back and the head passes
    it), a partly filled one ends the rounds. Under vmap the rounds run as long as the busiest book
    of the batch needs them (none when no book has an agent order ahead). Returns the book, the
    shares filled, their notional and the number of orders filled."""

    def take_first(side: Side, here, left, bound):
        n = side.price.shape[-1]
        rank = jnp.arange(n, dtype=_I32) - side.head
        rank = jnp.where(rank < 0, rank + n, rank)
        first = jnp.min(jnp.where((side.trader_id == AGENT) & (rank < bound), rank, n))
        slot = side.head + first
        slot = jnp.where(slot >= n, slot - n, slot)
        slot = jnp.where(first < n, slot, 0)
        quantity, price = side.quantity[slot], side.price[slot]
        take = jnp.where(here & (first < n), jnp.minimum(left, quantity), 0)
        first, slot, take, used = _materialise(first, slot, take, (take > 0) & (take == quantity))
        shift = used & (rank >= 1) & (rank <= first)
        less = jnp.where(~used & (jnp.arange(n, dtype=_I32) == slot), take, 0)

        def move(x):
            x = jnp.where(shift, jnp.concatenate([x[-1:], x[:-1]]), x)
            return jnp.where(used & (rank == 0), 0, x)

        head = side.head + used.astype(_I32)
        side = Side(
            price=move(side.price),
            quantity=move(side.quantity - less),
            order_id=move(side.order_id),
            trader_id=move(side.trader_id),
            arrival=move(side.arrival),
            head=jnp.where(head >= n, head - n, head),
            count=side.count - used.astype(_I32),
        )
        return side, take, price, used

    def body(carry):
        bids, asks, left, bound, done, notional, num_fills = carry
        bids, take_b, price_b, used_b = take_first(bids, on_bids, left, bound)
        asks, take_a, price_a, used_a = take_first(asks, ~on_bids, left, bound)
        take = take_b + take_a
        price = jnp.where(on_bids, price_b, price_a)
        notional = notional + take.astype(_F32) * price.astype(_F32)
        bound = bound - (used_b | used_a).astype(_I32)
        fills = num_fills + (take > 0).astype(_I32)
        return bids, asks, left - take, bound, done + 1, notional, fills

    zero = jnp.zeros((), _I32)
    start = (book.bids, book.asks, size, named_rank, zero, jnp.zeros((), _F32), zero)
    bids, asks, left, _, _, notional, num_fills = jax.lax.while_loop(
        lambda c: (c[2] > 0) & (c[4] < num_ahead), body, start
    )
    return book.replace(bids=bids, asks=asks), size - left, notional, num_fills


def _settled(book: BookState, msg):
    """The engine reads these per slot: computed once here, not again inside its loops."""
    fields = _materialise(*[msg[k] for k in range(m.NUM_FIELDS)])
    heads = _materialise(book.bids.head, book.bids.count, book.asks.head, book.asks.count)
    book = book.replace(
        bids=book.bids.replace(head=heads[0], count=heads[1]),
        asks=book.asks.replace(head=heads[2], count=heads[3]),
    )
    return book, jnp.stack(fields)
