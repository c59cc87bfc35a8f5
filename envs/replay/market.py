"""What the replay environments read from the book and the trade records.

- `market_quotes`: best bid and ask of the *other* traders (the agent's own orders left out: the
  market's state, and the market maker's reference, which must not move with its own quotes), or of
  the whole book; an empty side keeps its last price.
- `step_trades`: one step's trades split into the agent's and everyone else's (from the engine's
  per-trader totals; hidden executions count as other traders' trades).
- `features`: top-of-book numbers an observation is built from.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxlob.priority import logical_index
from jaxlob.records import TradeTotals
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState
from jaxlob.views import top_levels

AGENT = 1  # trader id of the agent's orders; market data are trader 0
_I32 = jnp.int32
_F32 = jnp.float32


def market_quotes(
    book: BookState, last_bid, last_ask, include_agent: bool = False
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(best bid, best ask) of the other traders (of everyone with ``include_agent``), each falling
    back to the last known price when the side is empty, and whether both sides had orders."""
    _, valid_b = logical_index(book.bids)
    _, valid_a = logical_index(book.asks)
    other_b = valid_b if include_agent else valid_b & (book.bids.trader_id != AGENT)
    other_a = valid_a if include_agent else valid_a & (book.asks.trader_id != AGENT)
    bid = jnp.max(jnp.where(other_b, book.bids.price, DUMMY_BID_PRICE))
    ask = jnp.min(jnp.where(other_a, book.asks.price, DUMMY_ASK_PRICE))
    has_bid, has_ask = jnp.any(other_b), jnp.any(other_a)
    return jnp.where(has_bid, bid, last_bid), jnp.where(has_ask, ask, last_ask), has_bid & has_ask


def resting(book: BookState, order_ids: jax.Array) -> jax.Array:
    """Shares still resting for each of the agent's ``order_ids`` (either side; 0 when gone)."""
    _, valid_b = logical_index(book.bids)
    _, valid_a = logical_index(book.asks)

    def on(side, valid):
        hit = valid[None, :] & (side.order_id[None, :] == order_ids[:, None])
        hit = hit & (side.trader_id[None, :] == AGENT)
        return jnp.sum(jnp.where(hit, side.quantity[None, :], 0), axis=1, dtype=_I32)

    return on(book.bids, valid_b) + on(book.asks, valid_a)


@struct.dataclass
class StepTrades:
    """One step's trades, in shares and price units (`jaxlob.messages.PRICE_UNIT` to the dollar)
    times shares."""

    agent_bought: jax.Array  # () int32
    agent_sold: jax.Array
    agent_bought_notional: jax.Array  # () float32
    agent_sold_notional: jax.Array
    other_volume: jax.Array  # () int32, trades between other traders (hidden executions included)
    other_notional: jax.Array  # () float32
    total_volume: jax.Array  # () int32, every trade the engine recorded (book and off-book)


def step_trades(totals: TradeTotals) -> StepTrades:
    """Split a step's engine totals into the agent's trades and everyone else's."""
    bought, sold = totals.bought_volume[AGENT], totals.sold_volume[AGENT]
    agent_notional = totals.bought_notional[AGENT] + totals.sold_notional[AGENT]
    return StepTrades(
        agent_bought=bought,
        agent_sold=sold,
        agent_bought_notional=totals.bought_notional[AGENT],
        agent_sold_notional=totals.sold_notional[AGENT],
        other_volume=totals.volume - bought - sold + totals.off_book_volume,
        other_notional=totals.notional - agent_notional + totals.off_book_notional,
        total_volume=totals.volume + totals.off_book_volume,
    )


def top_of_book(book: BookState, k: int) -> jax.Array:
    """The book's best ``k`` levels (agent orders included: a trader sees its own orders), LOBSTER
    layout, int32."""
    return top_levels(book, k)


def imbalance(bid_size, ask_size) -> jax.Array:
    """(bid - ask) / (bid + ask) in [-1, 1]; 0 when both are empty."""
    b, a = jnp.asarray(bid_size, _F32), jnp.asarray(ask_size, _F32)
    return jnp.where(b + a > 0, (b - a) / jnp.maximum(b + a, 1.0), 0.0)
