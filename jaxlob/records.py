"""What a message (or a batch of messages) did: fills, trade totals, per-trader volume and notional.

Volumes are int32 shares and exact for one message (it trades at most one side, which holds at most
``state.MAX_SIDE_SHARES``). ``add_totals`` saturates instead of wrapping: a batch total whose exact
value exceeds ``INT32_MAX`` stays there, and each such addition is counted in ``saturated`` (zero
for any real batch; the book's ``Counters`` are exact over a whole day). Notionals are float32 sums of ``shares * price`` in LOBSTER price
units (``messages.PRICE_UNIT`` to the dollar) times shares: a product above 2**24 is rounded to
about 6e-8 relative; the exact prices and quantities of each fill are in ``Fills``. A trade against
a book order has a resting side and an aggressor: a SUBMIT or MARKET message is the aggressor of its
fills; for EXECUTE the message's trader (0 for market data) is. Per-trader arrays have ``num_traders`` entries; volume of a
trader id outside ``0..num_traders-1`` is counted in ``unattributed_volume``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import struct

from jaxlob.wide import capped_add, saturating_add


@struct.dataclass
class TradeTotals:
    """Sums over one message or a batch; add two with ``add_totals``."""

    volume: jax.Array  # () int32, shares traded against book orders (matching and EXECUTE)
    notional: jax.Array  # () float32, sum of shares * resting price
    num_fills: jax.Array  # () int32, resting orders traded against (also those beyond max_fills)
    fill_overflow: jax.Array  # () int32, fills that did not fit a message's max_fills rows
    bought_volume: jax.Array  # (num_traders,) int32
    sold_volume: jax.Array  # (num_traders,) int32
    bought_notional: jax.Array  # (num_traders,) float32
    sold_notional: jax.Array  # (num_traders,) float32
    unattributed_volume: jax.Array  # () int32, both parties' shares with a trader id out of range
    off_book_volume: jax.Array  # () int32, HIDDEN and CROSS executions (book unchanged)
    off_book_notional: jax.Array  # () float32
    rested: jax.Array  # () int32, shares of SUBMIT orders that came to rest
    dropped: jax.Array  # () int32, unfilled shares of MARKET (IOC) orders
    evicted: jax.Array  # () int32, shares evicted from a full side
    saturated: jax.Array  # () int32, additions whose exact sum exceeded INT32_MAX (capped there)


@struct.dataclass
class Fills:
    """One message's outcome: its first ``max_fills`` fills in priority order, and its totals.

    Rows past the number of fills hold zeros. ``evicted_*`` describe the order dropped from a full
    side (the worst resting order, or the new order itself when it would be the worst); they are
    meaningful when ``evicted_quantity > 0``.
    """

    price: jax.Array  # (max_fills,) int32, resting order's price
    quantity: jax.Array  # (max_fills,) int32
    order_id: jax.Array  # (max_fills,) int32, resting order's id
    trader_id: jax.Array  # (max_fills,) int32, resting order's trader
    evicted_order_id: jax.Array  # () int32
    evicted_trader_id: jax.Array  # () int32
    evicted_quantity: jax.Array  # () int32
    totals: TradeTotals


@struct.dataclass
class BatchRecord:
    """What ``apply_messages`` reports: totals over the batch, and per-message fills if kept."""

    totals: TradeTotals
    fills: Fills | None = None  # stacked over messages, leading axis = message


def zero_totals(num_traders: int) -> TradeTotals:
    """Totals of nothing, with per-trader arrays of ``num_traders`` entries."""
    i = jnp.zeros((), jnp.int32)
    f = jnp.zeros((), jnp.float32)
    ti = jnp.zeros((num_traders,), jnp.int32)
    tf = jnp.zeros((num_traders,), jnp.float32)
    return TradeTotals(
        volume=i,
        notional=f,
        num_fills=i,
        fill_overflow=i,
        bought_volume=ti,
        sold_volume=ti,
        bought_notional=tf,
        sold_notional=tf,
        unattributed_volume=i,
        off_book_volume=i,
        off_book_notional=f,
        rested=i,
        dropped=i,
        evicted=i,
        saturated=i,
    )


def add_totals(a: TradeTotals, b: TradeTotals) -> TradeTotals:
    """Field-wise sum (any common batch shape); int32 fields saturate at ``INT32_MAX``, each capped
    addition (per element) counted in ``saturated``."""
    out, capped = {}, [saturating_add(a.saturated, b.saturated)]
    for f in dataclasses.fields(TradeTotals):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "saturated":
            continue
        if jnp.issubdtype(x.dtype, jnp.floating):
            out[f.name] = x + y
            continue
        out[f.name], hit = capped_add(x, y)
        per_trader_axes = tuple(range(a.saturated.ndim, x.ndim))
        capped.append(jnp.sum(hit, axis=per_trader_axes, dtype=jnp.int32))
    out["saturated"] = functools.reduce(saturating_add, capped)
    return TradeTotals(**out)
