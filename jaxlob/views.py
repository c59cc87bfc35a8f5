"""Reading a book: best prices, top-k levels in LOBSTER's orderbook layout, orders in priority order,
and mid-price arithmetic that never forms ``bid + ask`` in int32 (it overflows above 2**30 price
units, $107,374)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlob.priority import logical_index, ring_cumsum, slot_of_rank
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState, Side

_I32 = jnp.int32
_F32 = jnp.float32
SIDE_FIELDS = ("price", "quantity", "order_id", "trader_id", "arrival")


def _best_price(side: Side, empty_price: int) -> jax.Array:
    rank, valid = logical_index(side)
    best = jnp.sum(jnp.where(valid & (rank == 0), side.price, 0), dtype=_I32)
    return jnp.where(side.count > 0, best, empty_price)


@jax.jit
def best_bid_ask(book: BookState) -> tuple[jax.Array, jax.Array]:
    """Best bid and best ask prices; an empty side gives DUMMY_BID_PRICE / DUMMY_ASK_PRICE."""
    return _best_price(book.bids, DUMMY_BID_PRICE), _best_price(book.asks, DUMMY_ASK_PRICE)


def mid_price(bid, ask) -> jax.Array:
    """``(bid + ask) / 2`` as float32, computed as ``bid + (ask - bid) / 2`` (int32 prices, ``ask -
    bid`` exact for any two positive prices)."""
    bid, ask = jnp.asarray(bid, _I32), jnp.asarray(ask, _I32)
    return bid.astype(_F32) + 0.5 * (ask - bid).astype(_F32)


def twice_from_mid(price, bid, ask) -> jax.Array:
    """``2 price - (bid + ask)``, twice the distance of ``price`` from the mid, as float32 from the
    exact int32 differences ``price - bid`` and ``price - ask``."""
    price = jnp.asarray(price, _I32)
    return (price - jnp.asarray(bid, _I32)).astype(_F32) + (price - jnp.asarray(ask, _I32)).astype(
        _F32
    )


def twice_mid_change(bid, ask, bid0, ask0) -> jax.Array:
    """``(bid + ask) - (bid0 + ask0)``, twice the move of the mid, as float32 from exact int32
    differences."""
    bid_move = jnp.asarray(bid, _I32) - jnp.asarray(bid0, _I32)
    return bid_move.astype(_F32) + (jnp.asarray(ask, _I32) - jnp.asarray(ask0, _I32)).astype(_F32)


def _side_levels(side: Side, k: int, empty_price: int) -> tuple[jax.Array, jax.Array]:
    """Prices and aggregate sizes of the best ``k`` price levels of one side."""
    rank, valid = logical_index(side)
    previous_price = jnp.concatenate([side.price[-1:], side.price[:-1]])
    starts = valid & ((rank == 0) | (side.price != previous_price))
    # Level of each slot: number of level starts up to it, in priority (ring) order, less one.
    level = ring_cumsum(starts.astype(_I32), side.head) - 1
    in_level = valid[None, :] & (level[None, :] == jnp.arange(k, dtype=_I32)[:, None])
    sizes = jnp.sum(jnp.where(in_level, side.quantity[None, :], 0), axis=1, dtype=_I32)
    prices = jnp.sum(
        jnp.where(in_level & starts[None, :], side.price[None, :], 0), axis=1, dtype=_I32
    )
    return jnp.where(sizes > 0, prices, empty_price), sizes


@functools.partial(jax.jit, static_argnums=1)
def top_levels(book: BookState, k: int) -> jax.Array:
    """The best ``k`` levels as one LOBSTER orderbook row: ask price 1, ask size 1, bid price 1,
    bid size 1, ask price 2, ... (int32, shape ``(4 k,)``).

    Empty levels read DUMMY_ASK_PRICE (2**31 - 1) or DUMMY_BID_PRICE (-(2**31 - 1)) with size 0, the
    int32 stand-ins for LOBSTER's +-9999999999.
    """
    ask_prices, ask_sizes = _side_levels(book.asks, k, DUMMY_ASK_PRICE)
    bid_prices, bid_sizes = _side_levels(book.bids, k, DUMMY_BID_PRICE)
    return jnp.stack([ask_prices, ask_sizes, bid_prices, bid_sizes], axis=1).reshape(4 * k)


def side_orders(side: Side) -> dict[str, np.ndarray]:
    """Host copy of one (unbatched) side's orders in priority order, one NumPy array per field."""
    side = jax.device_get(side)
    order = slot_of_rank(int(side.head), np.arange(int(side.count)), side.price.shape[-1])
    return {name: np.asarray(getattr(side, name))[order] for name in SIDE_FIELDS}


def book_orders(book: BookState) -> dict[str, dict[str, np.ndarray]]:
    """Host copy of an (unbatched) book's orders: ``{"bids": {...}, "asks": {...}}``."""
    return {"bids": side_orders(book.bids), "asks": side_orders(book.asks)}
