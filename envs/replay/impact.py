"""Impact that lasts through re-synchronisation: the agent's displacement of the visible levels.

The orderbook file is the market without the agent, so re-synchronising each visible level to the
file's volume would restore what the agent took. Instead the environment keeps, per side and price,
a signed displacement ``D`` (shares), and the re-synchronisation sets the other traders' volume at a
visible level to ``max(T - D, 0)`` for the file's volume ``T``:

- ``D`` grows by what the agent's own orders took from the level (its marketable orders), and by
  the part of a data limit order that traded with the agent instead of resting at its price (the
  file shows it resting);
- ``D`` shrinks by the agent's queue-true fills (`envs.replay.queue`): the order an execution named
  kept those shares in the engine, while the file shows them executed;
- the data replenishes or moves the level: ``D > 0`` never exceeds the file's volume at the price
  (``min(D, T)`` at each re-synchronisation: what the file cancels or trades there had been taken
  already), and a data cancellation or execution that finds fewer shares than it names pays off
  ``D`` by the shortfall (it names shares the agent took); ``D < 0`` ends when the level leaves the
  file. Levels outside the file's visible range keep their ``D`` (the file says nothing there).

Limits: a replay cannot know how the other traders would have reacted (their orders still arrive as
in the file, only the shares are accounted for); consumption is tracked at the prices of the file's
visible levels when the step starts (what the agent takes deeper is not remembered); at most
``num_entries`` prices per side are tracked, a displacement that finds no free entry is dropped and
counted in ``overflow``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState

_I32 = jnp.int32
DEFAULT_ENTRIES = 16  # tracked prices per side


@struct.dataclass
class Displacement:
    """Per side (0 bids, 1 asks) and tracked price, the shares the agent displaced."""

    price: jax.Array  # (2, M) int32
    amount: jax.Array  # (2, M) int32; 0 marks a free entry
    overflow: jax.Array  # () int32, displacements dropped for want of a free entry


def empty(num_entries: int = DEFAULT_ENTRIES) -> Displacement:
    zeros = jnp.zeros((2, num_entries), _I32)
    return Displacement(price=zeros, amount=zeros, overflow=jnp.zeros((), _I32))


def record(d: Displacement, is_ask, price, delta, shortfall) -> Displacement:
    """Add ``delta`` at (side, price), then pay off a positive displacement by ``shortfall``."""
    row = jnp.where(is_ask, 1, 0)
    prices, amounts = d.price[row], d.amount[row]
    live = amounts != 0
    match = live & (prices == price)
    free = ~live
    first_free = free & (jnp.cumsum(free.astype(_I32)) == 1)
    has = jnp.any(match)
    slot = jnp.where(has, match, first_free)
    current = jnp.sum(jnp.where(match, amounts, 0), dtype=_I32)
    new = current + delta
    new = new - jnp.clip(shortfall, 0, jnp.maximum(new, 0))
    lost = (new != 0) & ~has & ~jnp.any(free)
    amounts = jnp.where(slot, new, amounts)
    prices = jnp.where(slot, price, prices)
    return d.replace(
        price=d.price.at[row].set(prices),
        amount=d.amount.at[row].set(amounts),
        overflow=d.overflow + lost.astype(_I32),
    )


def record_all(d: Displacement, entries, mask) -> Displacement:
    """`record` each of ``entries`` (``(is_ask, price, delta, shortfall)``, stacked) where
    ``mask``, in order."""

    def add(d, x):
        (is_ask, price, delta, shortfall), on = x
        zero = jnp.zeros((), _I32)
        return record(
            d, is_ask, price, jnp.where(on, delta, zero), jnp.where(on, shortfall, zero)
        ), None

    d, _ = jax.lax.scan(add, d, (entries, mask))
    return d


def owed_on_side(d: Displacement, is_ask) -> jax.Array:
    """Whether any price of the side has a positive displacement (one a shortfall can pay)."""
    return jnp.any(jnp.where(is_ask, d.amount[1], d.amount[0]) > 0)


def _levels(row, is_ask: bool):
    prices = row[0::4] if is_ask else row[2::4]
    sizes = row[1::4] if is_ask else row[3::4]
    present = (sizes > 0) & (prices > DUMMY_BID_PRICE) & (prices < DUMMY_ASK_PRICE)
    return prices, jnp.where(present, sizes, 0), present


def _settle_side(prices, amounts, row, is_ask: bool):
    """Entries of one side after the file's row: ``D > 0`` capped by the file's volume, ``D < 0``
    dropped where the file has no volume, inside the visible range; and the target sizes."""
    level_prices, sizes, present = _levels(row, is_ask)
    full = jnp.all(present)
    last = level_prices[-1]
    in_range = jnp.where(full, (prices <= last) if is_ask else (prices >= last), True)
    at = present[None, :] & (level_prices[None, :] == prices[:, None])  # (M, L)
    file_size = jnp.sum(jnp.where(at, sizes[None, :], 0), axis=1, dtype=_I32)
    settled = jnp.where(amounts > 0, jnp.minimum(amounts, file_size), amounts)
    settled = jnp.where((amounts < 0) & (file_size == 0), 0, settled)
    amounts = jnp.where(in_range, settled, amounts)
    live = (amounts != 0)[:, None] & (prices[:, None] == level_prices[None, :])
    owed = jnp.sum(jnp.where(live, amounts[:, None], 0), axis=0, dtype=_I32)  # (L,)
    targets = jnp.where(present, jnp.maximum(sizes - owed, 0), sizes)
    return amounts, targets


def settle(d: Displacement, row) -> tuple[Displacement, jax.Array]:
    """The displacement after the file's row ``row`` (int32 LOBSTER layout), and the row's sizes
    less the displacement (the other traders' volume the re-synchronisation should leave)."""
    bids, bid_targets = _settle_side(d.price[0], d.amount[0], row, False)
    asks, ask_targets = _settle_side(d.price[1], d.amount[1], row, True)
    targets = row.at[1::4].set(ask_targets).at[3::4].set(bid_targets)
    return d.replace(amount=jnp.stack([bids, asks])), targets


def other_volume_at(book: BookState, row, agent: int) -> jax.Array:
    """Other traders' shares at each price of ``row`` (LOBSTER layout; sizes replaced)."""

    def side_volume(side, prices):
        n = side.price.shape[-1]
        rank = jnp.arange(n, dtype=_I32) - side.head
        rank = jnp.where(rank < 0, rank + n, rank)
        mine = (rank < side.count) & (side.trader_id != agent)
        at = mine[None, :] & (side.price[None, :] == prices[:, None])
        return jnp.sum(jnp.where(at, side.quantity[None, :], 0), axis=1, dtype=_I32)

    return (
        row.at[1::4]
        .set(side_volume(book.asks, row[0::4]))
        .at[3::4]
        .set(side_volume(book.bids, row[2::4]))
    )


def record_taken(d: Displacement, before, after) -> Displacement:
    """Add what the agent's own orders took at each level: ``before - after`` of two
    `other_volume_at` rows at the same prices."""
    taken = jnp.maximum(before - after, 0)
    is_ask = jnp.concatenate(
        [jnp.ones_like(before[0::4], bool), jnp.zeros_like(before[0::4], bool)]
    )
    prices = jnp.concatenate([before[0::4], before[2::4]])
    amounts = jnp.concatenate([taken[1::4], taken[3::4]])

    def add(d, x):
        ask, price, amount = x
        return record(d, ask, price, amount, jnp.zeros((), _I32)), None

    d, _ = jax.lax.scan(add, d, (is_ask, prices, amounts))
    return d
