"""The ring-buffer priority order of a side (`jaxlob.priority`) against plain NumPy, for every
head: ranks and slots are inverse maps, prefix sums follow priority order, price keys sort best
first."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlob as jl
from jaxlob import priority

N = 7


def _side(head: int, count: int) -> jl.Side:
    """A side whose rank-j order has price 100 + j, quantity j + 1 and id j, from slot ``head``."""
    slots = (head + np.arange(count)) % N
    fields = {name: np.zeros(N, np.int32) for name in jl.Side.__dataclass_fields__}
    fields["price"][slots] = 100 + np.arange(count)
    fields["quantity"][slots] = 1 + np.arange(count)
    fields["order_id"][slots] = np.arange(count)
    arrays = {k: jnp.asarray(fields[k]) for k in ("price", "quantity", "order_id")}
    zeros = jnp.zeros(N, jnp.int32)
    return jl.Side(
        **arrays,
        trader_id=zeros,
        arrival=zeros,
        head=jnp.asarray(head, jnp.int32),
        count=jnp.asarray(count, jnp.int32),
    )


@pytest.mark.parametrize("head", range(N))
def test_ranks_slots_and_priority_order_agree(head):
    count = 5
    side = _side(head, count)
    rank, occupied = (np.asarray(x) for x in priority.logical_index(side))
    slots = np.asarray(priority.slot_of_rank(side.head, jnp.arange(N), N))
    np.testing.assert_array_equal(rank[slots], np.arange(N))  # slot_of_rank inverts the rank
    np.testing.assert_array_equal(occupied, rank < count)
    np.testing.assert_array_equal(np.asarray(side.order_id)[slots[:count]], np.arange(count))
    ordered, valid = priority.in_priority_order(side)
    assert int(ordered.head) == 0 and int(ordered.count) == count
    np.testing.assert_array_equal(np.asarray(ordered.order_id)[:count], np.arange(count))
    np.testing.assert_array_equal(np.asarray(valid), np.arange(N) < count)
    # the same map on host integers, as the views use it
    assert priority.slot_of_rank(head, np.arange(N), N).tolist() == slots.tolist()


@pytest.mark.parametrize("head", range(N))
def test_ring_cumsum_sums_in_priority_order(head):
    x = np.asarray([3, 1, 4, 1, 5, 9, 2], np.int32)
    slots = (head + np.arange(N)) % N  # priority order of the slots
    inclusive = np.zeros(N, np.int64)
    inclusive[slots] = np.cumsum(x[slots])
    head_ = jnp.asarray(head, jnp.int32)
    np.testing.assert_array_equal(
        np.asarray(priority.ring_cumsum(jnp.asarray(x), head_)), inclusive
    )
    exclusive = np.asarray(priority.ring_cumsum(jnp.asarray(x), head_, exclusive=True))
    np.testing.assert_array_equal(exclusive, inclusive - x)


def test_price_keys_sort_each_side_best_first():
    prices = np.asarray([101, 99, 103, 100])
    assert prices[np.argsort(priority.price_sort_key(prices, True))].tolist() == [99, 100, 101, 103]
    assert prices[np.argsort(priority.price_sort_key(prices, False))].tolist() == [
        103,
        101,
        100,
        99,
    ]
    assert priority.better_or_equal(99, 100, is_ask=True) and priority.better_or_equal(
        100, 100, True
    )
    assert priority.better_or_equal(101, 100, is_ask=False) and not priority.better_or_equal(
        99, 100, is_ask=False
    )
