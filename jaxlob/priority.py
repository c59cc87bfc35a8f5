"""Priority order of a book side: the ring-buffer layout of ``Side``, defined once.

A side's logical slot ``j`` (rank ``j``, 0 = best priority) lives in physical slot
``(head + j) % capacity``; ranks ``0..count-1`` hold orders. Orders rank by price, best first (the
lowest ask, the highest bid), then by arrival. Code that needs the rank of a slot, the slot of a
rank, a side's arrays in priority order, a prefix sum in priority order or the price comparison of a
side uses these helpers rather than its own arithmetic on ``head``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax import lax

from jaxlob.backend import cpu_tricks

if TYPE_CHECKING:
    from jaxlob.state import Side

_I32 = jnp.int32


def logical_index(side: Side) -> tuple[jax.Array, jax.Array]:
    """Priority rank of each physical slot (0 = best) and whether the slot holds an order."""
    n = side.price.shape[-1]
    rank = jnp.arange(n, dtype=_I32) - side.head
    rank = jnp.where(rank < 0, rank + n, rank)
    return rank, rank < side.count


def slot_of_rank(head, rank, capacity: int):
    """Physical slot of priority rank ``rank``; NumPy or JAX integers alike."""
    return (head + rank) % capacity


def in_priority_order(side: Side) -> tuple[Side, jax.Array]:
    """The side's arrays gathered so that slot ``j`` holds rank ``j`` (head 0), and the occupied
    mask of that layout."""
    n = side.price.shape[-1]
    idx = slot_of_rank(side.head, jnp.arange(n, dtype=_I32), n)
    ordered = side.replace(
        price=side.price[idx],
        quantity=side.quantity[idx],
        order_id=side.order_id[idx],
        trader_id=side.trader_id[idx],
        arrival=side.arrival[idx],
        head=jnp.zeros((), _I32),
    )
    return ordered, jnp.arange(n, dtype=_I32) < side.count


def ring_cumsum(x: jax.Array, head: jax.Array, *, exclusive: bool = False) -> jax.Array:
    """For each physical slot, the sum of ``x`` over the slots up to it in priority (ring) order
    from ``head``: the slot itself included, or (``exclusive``, static) only those before it."""
    slot = jnp.arange(x.shape[-1], dtype=_I32)
    if cpu_tricks():  # a log-depth scan: XLA:CPU lowers jnp.cumsum to a slower windowed reduction
        inclusive = lax.associative_scan(jnp.add, x)
    else:
        inclusive = jnp.cumsum(x, dtype=x.dtype)
    wrapped = slot < head
    before_head = jnp.sum(jnp.where(wrapped, x, 0), dtype=_I32)
    up_to = inclusive - x if exclusive else inclusive
    return up_to - before_head + jnp.where(wrapped, inclusive[-1], 0)


def better_or_equal(a, b, is_ask: bool):
    """Whether price ``a`` has at least the priority of price ``b`` on a side (static ``is_ask``)."""
    return a <= b if is_ask else a >= b


def price_sort_key(price, is_ask: bool):
    """A key that sorts a side's prices best first in ascending order (the bid's price negated)."""
    return price if is_ask else -price
