"""The order-book message: one int32 vector of 8 fields, LOBSTER's fields plus trader id and time.

Layout (index constants below): ``TYPE, DIRECTION, SIZE, PRICE, ORDER_ID, TRADER_ID, TIME_S, TIME_NS``.
Prices are LOBSTER integers in int32, ``PRICE_UNIT`` (10,000) of them to the dollar; sizes are shares.
Times are whole seconds after midnight plus nanoseconds (``NANOS_PER_SECOND`` to the second).

Event types (``TYPE``):

====  ===========  ==================================================================================
0     NOOP         padding; changes nothing but the message counter and arrival sequence
1     SUBMIT       LOBSTER limit order: the marketable part trades against as many resting orders as
                   needed, each at its own price, in price-time priority; the remainder rests
                   (refused and counted in ``over_limit_*`` if its side would then hold more than
                   ``state.MAX_SIDE_SHARES``)
2     CANCEL       LOBSTER partial cancellation: removes SIZE shares from the order ORDER_ID
3     DELETE       LOBSTER deletion: removes the order ORDER_ID entirely
4     EXECUTE      LOBSTER execution of a visible order: reduces ORDER_ID by SIZE, records a trade
5     HIDDEN       LOBSTER execution of a hidden order: trade recorded off-book, book unchanged
6     CROSS        LOBSTER cross trade (auction): recorded off-book, book unchanged
7     HALT         LOBSTER trading halt, see the halt codes below
8     MARKET       immediate-or-cancel: trades like SUBMIT, the unfilled remainder is dropped.
                   PRICE <= 0 means no limit; a positive PRICE is the IOC limit price
9     CANCEL_ID    cancel by order id whatever the price and side; removes the whole remainder
                   (SIZE and DIRECTION are ignored)
====  ===========  ==================================================================================

Any other type is counted in ``BookState.counters.unknown_types`` and changes nothing else: it is
never reinterpreted as some other event.

``DIRECTION`` is LOBSTER's: 1 buy (bid side), -1 sell (ask side). For CANCEL, DELETE, EXECUTE and
HIDDEN it is the side of the resting order, as in LOBSTER's files.

CANCEL, DELETE and EXECUTE identify the resting order by (side, ORDER_ID, PRICE). An order that is
not in the book (it was placed before the snapshot the book was built from) falls back to the
snapshot's aggregate order at that side and price when there is one; otherwise the message is counted
as unmatched. An ORDER_ID that rests at another price or on the other side contradicts the book (a
LOBSTER order keeps its id, side and price for the day): the message is counted as unmatched and
changes nothing. It is never applied to some other order.

Halt codes (type 7, carried in ``PRICE``, as in LOBSTER): ``-1`` trading halted, ``0`` quoting
resumed (trading still halted), ``1`` trading resumed. The engine records the state in
``BookState.halt_state`` (values ``TRADING``, ``HALTED``, ``QUOTING``) and keeps applying messages:
during a halt the data contain only what the exchange accepted, and whether an agent may trade is the
environment's decision. Any other halt code is counted as an invalid message.
"""

from __future__ import annotations

import jax.numpy as jnp

NUM_FIELDS = 8
PRICE_UNIT = 10_000  # LOBSTER price units per dollar (a price of 1234500 is $123.45)
NANOS_PER_SECOND = 1_000_000_000
TYPE, DIRECTION, SIZE, PRICE, ORDER_ID, TRADER_ID, TIME_S, TIME_NS = range(NUM_FIELDS)
FIELD_NAMES = ("type", "direction", "size", "price", "order_id", "trader_id", "time_s", "time_ns")

NOOP = 0
SUBMIT = 1
CANCEL = 2
DELETE = 3
EXECUTE = 4
HIDDEN = 5
CROSS = 6
HALT = 7
MARKET = 8
CANCEL_ID = 9
NUM_TYPES = 10
TYPE_NAMES = (
    "noop",
    "submit",
    "cancel",
    "delete",
    "execute",
    "hidden",
    "cross",
    "halt",
    "market",
    "cancel_id",
)

BUY = 1
SELL = -1

# Halt codes carried in PRICE of a HALT message (LOBSTER's), and the book's halt_state values.
HALT_CODE_HALT = -1
HALT_CODE_RESUME_QUOTING = 0
HALT_CODE_RESUME_TRADING = 1
TRADING = 0
HALTED = 1
QUOTING = 2


def make_message(
    type,
    direction,
    size,
    price,
    order_id,
    trader_id=0,
    time_s=0,
    time_ns=0,
):
    """One message as an int32 vector of ``NUM_FIELDS``; works on Python ints and traced values."""
    fields = (type, direction, size, price, order_id, trader_id, time_s, time_ns)
    return jnp.stack([jnp.asarray(f, dtype=jnp.int32) for f in fields])


def noop_messages(num: int):
    """``num`` padding messages (all fields zero), shape ``(num, NUM_FIELDS)``."""
    return jnp.zeros((num, NUM_FIELDS), dtype=jnp.int32)
