"""The agent's resting orders: one order slot per price the action names, kept across steps.

Each step the action gives, per slot, a target: a side, a price and the number of shares that should
rest there. A slot whose order already rests at that price keeps its place in the queue when the
target is unchanged, and when it is smaller (a partial cancellation, which keeps priority as on
exchanges). It is cancelled and replaced (joining the back of the queue) when the price changes or
the target grows; cancelled when the target is 0. So every slot sends at most two messages a step:
a cancellation (CANCEL or CANCEL_ID) and a SUBMIT, in the layout of `jaxlob.messages`, trader 1;
all the cancellations go first, so a new order never trades with one the agent is withdrawing.

Self-trade prevention, "cancel resting": a submission that would trade with one of the agent's own
resting orders on the other side cancels that resting order first (its cancellation goes with the
others, before every submission); of two new orders of the same step that would cross each other the
later slot's stands and the earlier one is not sent. The agent never trades with itself.

Agent order ids are `AGENT_ID_BASE + n` for a per-episode counter n, inside the reserved range
``[AGENT_ID_BASE - 1, AGENT_ID_BASE + AGENT_ID_SPAN)`` (the deadline market order takes
``AGENT_ID_BASE - 1``): above the engine's snapshot and re-synchronisation ranges and below every
LOBSTER id (those are positive; 0 and -1 mark hidden and cross trades). A data message naming an id
in that range (`is_agent_id`) is refused by the environment (`envs.replay.environment`), so data can
never reach an agent order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from envs.replay.market import AGENT
from jaxlob import messages as m
from jaxlob.state import DUMMY_ASK_PRICE

AGENT_ID_BASE = -900_000_000
AGENT_ID_SPAN = 50_000_000  # ids per episode (the counter grows by the slots each step)
_I32 = jnp.int32


@struct.dataclass
class Slots:
    """The agent's order per slot: id, side and price of the last order it submitted there."""

    order_id: jax.Array  # (K,) int32 (meaningless while nothing rests)
    direction: jax.Array  # (K,) int32, 1 buy / -1 sell
    price: jax.Array  # (K,) int32


@struct.dataclass
class Targets:
    """What the action asks for, per slot."""

    direction: jax.Array  # (K,) int32
    price: jax.Array  # (K,) int32
    quantity: jax.Array  # (K,) int32, shares that should rest (0: none)


def resting_by_side(slots: Slots, rest: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Shares the agent has resting on the bid and on the ask (int32)."""
    bid = jnp.sum(jnp.where(slots.direction > 0, rest, 0), dtype=_I32)
    ask = jnp.sum(jnp.where(slots.direction < 0, rest, 0), dtype=_I32)
    return bid, ask


def best_resting_prices(slots: Slots, rest: jax.Array) -> jax.Array:
    """The agent's best resting bid and ask prices (price units, float32; 0 where none)."""
    live = rest > 0
    bid = jnp.max(jnp.where(live & (slots.direction > 0), slots.price, 0))
    ask = jnp.min(jnp.where(live & (slots.direction < 0), slots.price, DUMMY_ASK_PRICE))
    return jnp.stack([bid, jnp.where(ask == DUMMY_ASK_PRICE, 0, ask)]).astype(jnp.float32)


def is_agent_id(order_id) -> jax.Array:
    """Whether ``order_id`` lies in the agent's reserved id range."""
    order_id = jnp.asarray(order_id, _I32)
    return (order_id >= AGENT_ID_BASE - 1) & (order_id < AGENT_ID_BASE + AGENT_ID_SPAN)


def _crosses(buy, price, other_price):
    """A buy at ``price`` meets a sell at ``other_price`` (or a sell meets a buy)."""
    return jnp.where(buy, price >= other_price, price <= other_price)


def empty_slots(num_slots: int) -> Slots:
    zeros = jnp.zeros((num_slots,), _I32)
    return Slots(order_id=zeros, direction=zeros, price=zeros)


def _message(typ, direction, size, price, order_id, time_s, time_ns):
    return m.make_message(typ, direction, size, price, order_id, AGENT, time_s, time_ns)


def order_messages(
    slots: Slots,
    rest: jax.Array,
    targets: Targets,
    next_id: jax.Array,
    allowed: jax.Array,
    time_s: jax.Array,
    time_ns: jax.Array,
) -> tuple[jax.Array, Slots, jax.Array, jax.Array]:
    """Messages ``(2 K, NUM_FIELDS)`` that turn the resting orders (``rest`` shares per slot) into
    ``targets``; the slots after them; the next id counter; the orders self-trade prevention
    cancelled or did not send. Nothing is sent unless ``allowed``."""
    num_slots = rest.shape[0]
    live = rest > 0
    same = live & (slots.price == targets.price) & (slots.direction == targets.direction)
    want = targets.quantity
    keep = same & (want == rest)
    shrink = same & (want > 0) & (want < rest)
    remove = live & ~keep & ~shrink
    submit = (remove | ~live) & (want > 0)
    # Self-trade prevention: a new order crossing a resting one of the other side cancels it; of
    # two new orders that cross, the earlier slot's is not sent.
    buy_new = targets.direction > 0
    opposite = buy_new[:, None] != (slots.direction > 0)[None, :]
    meets_resting = (
        submit[:, None]
        & (live & ~remove)[None, :]
        & opposite
        & _crosses(buy_new[:, None], targets.price[:, None], slots.price[None, :])
    )
    stp_cancel = jnp.any(meets_resting, axis=0)
    later = jnp.arange(num_slots)[:, None] > jnp.arange(num_slots)[None, :]
    new_opposite = buy_new[:, None] != buy_new[None, :]
    meets_new = (
        submit[:, None]
        & submit[None, :]
        & later
        & new_opposite
        & _crosses(buy_new[:, None], targets.price[:, None], targets.price[None, :])
    )
    stp_skip = jnp.any(meets_new, axis=0)
    remove = allowed & (remove | stp_cancel)
    shrink = allowed & shrink & ~stp_cancel
    submit = allowed & submit & ~stp_skip
    prevented = jnp.sum(allowed & (stp_cancel | stp_skip), dtype=_I32)
    cancel_type = jnp.where(shrink, m.CANCEL, jnp.where(remove, m.CANCEL_ID, m.NOOP))
    cancel_size = jnp.where(shrink, rest - want, rest)
    new_ids = AGENT_ID_BASE + next_id + jnp.arange(num_slots, dtype=_I32)

    def per_slot(ct, cs, sub, d, p, oid, td, tp, tq, nid):
        cancel = _message(ct, d, jnp.where(ct == m.NOOP, 0, cs), p, oid, time_s, time_ns)
        cancel = jnp.where(ct == m.NOOP, jnp.zeros_like(cancel), cancel)
        new = _message(m.SUBMIT, td, tq, tp, nid, time_s, time_ns)
        new = jnp.where(sub, new, jnp.zeros_like(new))
        return jnp.stack([cancel, new])

    pairs = jax.vmap(per_slot)(
        cancel_type,
        cancel_size,
        submit,
        slots.direction,
        slots.price,
        slots.order_id,
        targets.direction,
        targets.price,
        want,
        new_ids,
    )
    # Every cancellation before any submission: a new quote never meets the agent's old one.
    msgs = jnp.concatenate([pairs[:, 0], pairs[:, 1]])
    new_slots = Slots(
        order_id=jnp.where(submit, new_ids, slots.order_id),
        direction=jnp.where(submit, targets.direction, slots.direction),
        price=jnp.where(submit, targets.price, slots.price),
    )
    return msgs, new_slots, next_id + num_slots, prevented


def market_order(direction, size, send, time_s, time_ns) -> jax.Array:
    """One MARKET (IOC, no limit) message of the agent, or padding when not ``send``."""
    msg = _message(m.MARKET, direction, size, 0, AGENT_ID_BASE - 1, time_s, time_ns)
    return jnp.where(send & (size > 0), msg, jnp.zeros_like(msg))[None, :]
