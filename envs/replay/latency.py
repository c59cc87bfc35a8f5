"""Latency on the message clock: the agent's orders reach the book ``order_latency_ns`` after its
decision, and it sees the book as it was ``data_latency_ns`` before it.

Compiled in by ``ReplayConfig.latency`` (the latencies themselves are traced `EnvParams` fields, so
a sweep over them shares one program; both 0 reproduce the replay without latency exactly).

**Orders.** A step's decision is taken at the book's clock ``t0`` (the time of the last message
replayed). Its messages (the cancellations and submissions of `envs.replay.orders`) travel as one
batch and arrive at ``t0 + order_latency_ns``: the batch enters the step's data stream before the
first data message stamped at or after its arrival (a tie goes to the agent, so zero latency puts
it before every data message, as without latency). A batch that arrives after the step's last data
message stays in flight and enters the next step's stream the same way. While a batch is in flight
the agent sends no new one: a decision taken then is not sent (counted in ``latency_deferred``;
the action names absolute targets, so the next step's decision asks again). The agent's order slots
follow a batch when it arrives, so a cancellation always names the order that rests. At a halt the
batch in flight is dropped and the agent's orders are withdrawn at once (`envs.replay.environment`);
a batch still in flight when the episode ends never reaches the book. Both are counted in
``latency_dropped``. The deadline order of a task that liquidates is the task's settlement after
the window's last message and is not delayed.

**Market data.** The observation and the prices an action is quoted from (`envs.replay.task.Quotes`)
are those of the book after the last message stamped at or before ``t1 - data_latency_ns``, where
``t1`` is the clock at the end of the step; with ``data_latency_ns = 0`` it is the book at the end
of the step (re-synchronised, in that mode), exactly as without latency. A delayed view is the
engine's book between two re-synchronisations (they happen at step ends). The view is captured
during the step's replay; when the cutoff lies before the step's start (the latency is longer than
the step), the view carried from the previous step is used: older than asked, counted in
``latency_stale``. (On the shipped GOOG day no 100-message step is shorter than 10 ms.) The agent's
own orders, fills and inventory are known at once, as from an exchange's private order feed.

**Random order latency.** ``order_latency_jitter_ns`` adds to each batch's latency a jitter drawn
uniformly from ``0..jitter`` ns with the step's key (`order_delay`; reported as
``info["latency_order_ns"]``). Batches never overtake each other, since one travels at a time.

Times are (seconds, nanoseconds) pairs in int32 as in `jaxlob.messages`; a latency is at most
`MAX_LATENCY_NS` (one second), so ``ns + latency`` never overflows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from envs.replay.market import AGENT, market_quotes
from envs.replay.orders import Slots, empty_slots
from jaxlob import messages as m
from jaxlob.state import BookState, Side

_I32 = jnp.int32
NS_PER_S = 1_000_000_000
MAX_LATENCY_NS = NS_PER_S


@struct.dataclass
class SideView:
    """What the agent's view and the lasting impact read of a side, in two arrays: prices, and
    sizes signed by owner (the agent's orders negative), with the ring's head and count. Ids and
    arrival are never read from a view; capturing two arrays instead of five keeps the replay's
    scan light."""

    price: jax.Array
    held: jax.Array  # quantity, negative for the agent's orders (free slots hold 0)
    head: jax.Array
    count: jax.Array


def view_of(side: Side) -> SideView:
    held = jnp.where(side.trader_id == AGENT, -side.quantity, side.quantity)
    return SideView(side.price, held, side.head, side.count)


def as_side(view: SideView) -> Side:
    """A `Side` to read prices, sizes and owners from (ids and arrival read as 0; other traders
    read as trader 0)."""
    zeros = jnp.zeros_like(view.price)
    trader = jnp.where(view.held < 0, AGENT, 0).astype(_I32)
    return Side(view.price, jnp.abs(view.held), zeros, trader, zeros, view.head, view.count)


@struct.dataclass
class LatencyState:
    """What latency adds to an episode's state."""

    seen_bids: SideView  # the book's sides as the agent sees them (`envs.replay.latency`)
    seen_asks: SideView
    seen_bid: jax.Array  # () int32, the other traders' best bid in that view (last known if empty)
    seen_ask: jax.Array
    flight: jax.Array  # (2 K, NUM_FIELDS) int32, the batch in flight, stamped with its arrival
    flight_live: jax.Array  # () bool
    flight_s: jax.Array  # () int32, its arrival
    flight_ns: jax.Array
    flight_slots: Slots  # the order slots once the batch has arrived
    flight_rest: jax.Array  # (K,) int32, the slots' shares resting when the batch was decided
    deferred: jax.Array  # () int32, episode counts (see the module docstring)
    dropped: jax.Array
    stale: jax.Array


def init_state(book: BookState, bid, ask, num_slots: int) -> LatencyState:
    zero = jnp.zeros((), _I32)
    return LatencyState(
        seen_bids=view_of(book.bids),
        seen_asks=view_of(book.asks),
        seen_bid=jnp.asarray(bid, _I32),
        seen_ask=jnp.asarray(ask, _I32),
        flight=jnp.zeros((2 * num_slots, m.NUM_FIELDS), _I32),
        flight_live=jnp.zeros((), bool),
        flight_s=zero,
        flight_ns=zero,
        flight_slots=empty_slots(num_slots),
        flight_rest=jnp.zeros((num_slots,), _I32),
        deferred=zero,
        dropped=zero,
        stale=zero,
    )


def with_sides(book: BookState, views: tuple[SideView, SideView]) -> BookState:
    """``book`` with its sides replaced by ``views`` (bids, asks), to read prices and sizes."""
    return book.replace(bids=as_side(views[0]), asks=as_side(views[1]))


def seen_book(book: BookState, latency: LatencyState) -> BookState:
    """``book`` with its sides replaced by the agent's view of them."""
    return with_sides(book, (latency.seen_bids, latency.seen_asks))


def order_delay(key, latency_ns, jitter_ns) -> jax.Array:
    """One batch's order latency: ``latency_ns`` plus a jitter drawn uniformly from
    ``0..jitter_ns`` (int32 ns; 0 without drawing when ``jitter_ns`` is 0)."""
    jitter = jnp.asarray(jitter_ns, _I32)
    drawn = jax.random.randint(key, (), 0, jnp.maximum(jitter, 0) + 1, _I32)
    return jnp.asarray(latency_ns, _I32) + jnp.where(jitter > 0, drawn, 0)


def later(time_s, time_ns, latency_ns) -> tuple[jax.Array, jax.Array]:
    """The time ``latency_ns`` (0..MAX_LATENCY_NS) after ``(time_s, time_ns)``."""
    ns = jnp.asarray(time_ns, _I32) + jnp.asarray(latency_ns, _I32)
    carry = (ns >= NS_PER_S).astype(_I32)
    return jnp.asarray(time_s, _I32) + carry, ns - carry * NS_PER_S


def earlier(time_s, time_ns, latency_ns) -> tuple[jax.Array, jax.Array]:
    """The time ``latency_ns`` (0..MAX_LATENCY_NS) before ``(time_s, time_ns)``."""
    ns = jnp.asarray(time_ns, _I32) - jnp.asarray(latency_ns, _I32)
    borrow = (ns < 0).astype(_I32)
    return jnp.asarray(time_s, _I32) - borrow, ns + borrow * NS_PER_S


def at_or_before(s, ns, cut_s, cut_ns) -> jax.Array:
    """``(s, ns) <= (cut_s, cut_ns)``."""
    return (s < cut_s) | ((s == cut_s) & (ns <= cut_ns))


def stamped(msgs: jax.Array, time_s, time_ns) -> jax.Array:
    """Messages with their clock set to ``(time_s, time_ns)`` (padding stays padding)."""
    real = msgs[:, m.TYPE] != m.NOOP
    out = msgs.at[:, m.TIME_S].set(time_s).at[:, m.TIME_NS].set(time_ns)
    return jnp.where(real[:, None], out, msgs)


def insertion(data_msgs: jax.Array, arrive_s, arrive_ns) -> tuple[jax.Array, jax.Array]:
    """Where a batch arriving at ``(arrive_s, arrive_ns)`` enters a step's data messages (time
    ordered, padding last): the number of data messages stamped strictly before it, and whether it
    arrives by the step's last data message (else it stays in flight)."""
    real = data_msgs[:, m.TYPE] != m.NOOP
    s, ns = data_msgs[:, m.TIME_S], data_msgs[:, m.TIME_NS]
    before = real & ~at_or_before(arrive_s, arrive_ns, s, ns)
    position = jnp.sum(before, dtype=_I32)
    arrives = jnp.sum(real, dtype=_I32) > position
    return position, arrives


def merge(data_msgs: jax.Array, batch: jax.Array, position) -> jax.Array:
    """``data_msgs`` with ``batch`` inserted before data message ``position``:
    ``(P + B, NUM_FIELDS)``."""
    num_data, num_batch = data_msgs.shape[0], batch.shape[0]
    j = jnp.arange(num_data + num_batch, dtype=_I32)
    in_batch = (j >= position) & (j < position + num_batch)
    data_index = jnp.clip(jnp.where(j < position, j, j - num_batch), 0, num_data - 1)
    batch_index = jnp.clip(j - position, 0, num_batch - 1)
    return jnp.where(in_batch[:, None], batch[batch_index], data_msgs[data_index])


@struct.dataclass
class Captures:
    """Side views captured during a step's replay, stacked so that one select per message updates
    them all: 0 before the agent's batch and 1 after it (its lasting impact,
    `envs.replay.impact`), 2 at the market-data cutoff (the agent's view)."""

    arrays: jax.Array  # (3, 4, n) int32: bid prices, bid sizes (signed), ask prices, ask sizes
    ring: jax.Array  # (3, 4) int32: bid head, bid count, ask head, ask count

    def views(self, k: int) -> tuple[SideView, SideView]:
        a, r = self.arrays[k], self.ring[k]
        return SideView(a[0], a[1], r[0], r[1]), SideView(a[2], a[3], r[2], r[3])

    @property
    def pre(self):
        return self.views(0)

    @property
    def post(self):
        return self.views(1)

    @property
    def seen(self):
        return self.views(2)


def views(book: BookState) -> tuple[SideView, SideView]:
    return view_of(book.bids), view_of(book.asks)


def _stacked(book: BookState) -> tuple[jax.Array, jax.Array]:
    b, a = views(book)
    arrays = jnp.stack([b.price, b.held, a.price, a.held])
    return arrays, jnp.stack([b.head, b.count, a.head, a.count]).astype(_I32)


def start_captures(book: BookState, seen: tuple[SideView, SideView]) -> Captures:
    """Captures holding ``book`` before and after the batch, and ``seen`` as the view."""
    arrays, ring = _stacked(book)
    b, a = seen
    seen_arrays = jnp.stack([b.price, b.held, a.price, a.held])
    seen_ring = jnp.stack([b.head, b.count, a.head, a.count]).astype(_I32)
    return Captures(
        arrays=jnp.stack([arrays, arrays, seen_arrays]), ring=jnp.stack([ring, ring, seen_ring])
    )


def capture(book: BookState, when: jax.Array, caps: Captures) -> Captures:
    """``caps`` with entry k replaced by ``book``'s views where ``when[k]`` (3 flags)."""
    arrays, ring = _stacked(book)
    return Captures(
        arrays=jnp.where(when[:, None, None], arrays[None], caps.arrays),
        ring=jnp.where(when[:, None], ring[None], caps.ring),
    )


def replace_rule(msg, i, position, filled, num_slots: int):
    """Cancel-replace without overfill (the FIX rule: a replacement's size counts what the old
    order filled meanwhile). Row ``i - position`` of the agent's batch (cancellations of slots
    0..K-1, then their submissions): a submission for slot k is cut by ``filled[k]``, the shares
    slot k's previous order traded while the batch travelled. Returns the message to apply and
    the shares cut."""
    row = i - position
    k = jnp.clip(jnp.where(row >= num_slots, row - num_slots, row), 0, num_slots - 1)
    submits = (row >= num_slots) & (row < 2 * num_slots) & (msg[m.TYPE] == m.SUBMIT)
    cut = jnp.where(submits, jnp.minimum(filled[k], msg[m.SIZE]), 0)
    left = msg[m.SIZE] - cut
    out = jnp.where(left > 0, msg.at[m.SIZE].set(left), jnp.zeros_like(msg))
    return jnp.where(cut > 0, out, msg), cut


def filled_in_flight(msg, i, position, rest, found, filled, num_slots: int):
    """``filled`` updated at a cancellation row of the batch: slot k's previous order rested
    ``rest[k]`` shares at the decision and ``found`` when its cancellation arrived."""
    row = i - position
    k = jnp.clip(row, 0, num_slots - 1)
    typ = msg[m.TYPE]
    cancels = (row >= 0) & (row < num_slots) & ((typ == m.CANCEL) | (typ == m.CANCEL_ID))
    traded = jnp.maximum(rest[k] - found, 0)
    return jnp.where(cancels, filled.at[k].set(traded), filled)


def _tree_where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


@struct.dataclass
class ScanInputs:
    """What the replay's scan needs of the latency (`envs.replay.environment`)."""

    pre_at: jax.Array  # () int32, capture the sides after this message: before the batch (-1: none)
    post_at: jax.Array  # () int32, and after this one: after the batch
    cut_s: jax.Array  # () int32, the market-data cutoff (capture the view up to it)
    cut_ns: jax.Array
    captures: Captures  # the captures the scan starts from
    position: jax.Array  # () int32, the batch's first row among the merged messages
    rest: jax.Array  # (K,) int32, the slots' shares at the batch's decision (cancel-replace rule)


@struct.dataclass
class Decision:
    """The batch the agent decides this step (`envs.replay.orders.order_messages`): its messages,
    the order slots they lead to, the slots' shares resting when it was decided, and what
    self-trade prevention cut."""

    msgs: jax.Array  # (2 K, NUM_FIELDS) int32
    slots: Slots
    rest: jax.Array  # (K,) int32
    prevented: jax.Array  # () int32


@struct.dataclass
class Plan:
    """One step's latency plan (`plan_step`): the agent's batch among the data, what stands of the
    decision, the scan's inputs and the flight after the step."""

    merged: jax.Array  # (P + 2 K, NUM_FIELDS) int32: the data with the batch where it arrives
    slots: Slots  # the order slots after the step
    prevented: jax.Array  # () int32, self-trade prevention of a decision that was sent
    scan: ScanInputs
    flight: jax.Array  # the flight after the step (`LatencyState`'s fields)
    flight_live: jax.Array
    flight_s: jax.Array
    flight_ns: jax.Array
    flight_slots: Slots
    flight_rest: jax.Array
    info: dict  # the step's ``latency_*`` info entries


def plan_step(
    key,
    lat: LatencyState,
    book0: BookState,
    slots_before: Slots,
    params,
    data_msgs,
    decision: Decision,
    live,
    trading,
    deadline,
) -> Plan:
    """The agent's batch this step: the one in flight, or ``decision``'s (its slots reached from
    ``slots_before``) when none is; where it enters ``data_msgs``; the market-data cutoff and the
    captures the scan starts from."""
    agent_msgs, rest, slots = decision.msgs, decision.rest, decision.slots
    flying = lat.flight_live & trading
    halted = lat.flight_live & ~trading
    new_real = jnp.any(agent_msgs[:, m.TYPE] != m.NOOP)
    deferred = live & flying & new_real
    send = live & ~flying & new_real
    # A withdrawal at a halt goes at once; otherwise the batch arrives after the order latency.
    delay = order_delay(key, params.order_latency_ns, params.order_latency_jitter_ns)
    arrive_s, arrive_ns = later(book0.time_s, book0.time_ns, delay)
    arrive_s = jnp.where(trading, arrive_s, book0.time_s)
    arrive_ns = jnp.where(trading, arrive_ns, book0.time_ns)
    batch = jnp.where(flying, lat.flight, stamped(agent_msgs, arrive_s, arrive_ns))
    batch_s = jnp.where(flying, lat.flight_s, arrive_s)
    batch_ns = jnp.where(flying, lat.flight_ns, arrive_ns)
    batch_slots = _tree_where(flying, lat.flight_slots, slots)
    batch_rest = jnp.where(flying, lat.flight_rest, rest)
    in_flight = flying | send
    position, arrives = insertion(data_msgs, batch_s, batch_ns)
    position = jnp.where(trading, position, 0)
    arrives = arrives | ~trading
    delivered = in_flight & arrives
    merged = merge(data_msgs, jnp.where(delivered, batch, 0), position)
    size = batch.shape[0]
    pre_at = jnp.where(delivered, position - 1, -1)  # captured after the message before
    post_at = jnp.where(delivered, position + size - 1, -1)
    # The market-data cutoff: the step's last data message, less the data latency.
    real = data_msgs[:, m.TYPE] != m.NOOP
    last = jnp.max(jnp.where(real, jnp.arange(real.shape[0], dtype=_I32), -1))
    end_s = jnp.where(last >= 0, data_msgs[jnp.maximum(last, 0), m.TIME_S], book0.time_s)
    end_ns = jnp.where(last >= 0, data_msgs[jnp.maximum(last, 0), m.TIME_NS], book0.time_ns)
    cut_s, cut_ns = earlier(end_s, end_ns, params.data_latency_ns)
    stale = (
        live
        & (jnp.asarray(params.data_latency_ns, _I32) > 0)
        & ~at_or_before(book0.time_s, book0.time_ns, cut_s, cut_ns)
    )
    seen0 = _tree_where(stale, (lat.seen_bids, lat.seen_asks), views(book0))
    still = in_flight & ~arrives & ~deadline
    dropped = halted.astype(_I32) + (in_flight & ~arrives & deadline).astype(_I32)
    return Plan(
        merged=merged,
        slots=_tree_where(delivered, batch_slots, slots_before),
        prevented=jnp.where(send, decision.prevented, 0),
        scan=ScanInputs(
            pre_at=pre_at,
            post_at=post_at,
            cut_s=cut_s,
            cut_ns=cut_ns,
            captures=start_captures(book0, seen0),
            position=position,
            rest=batch_rest,
        ),
        flight=jnp.where(still, batch, 0),
        flight_live=still,
        flight_s=batch_s,
        flight_ns=batch_ns,
        flight_slots=batch_slots,
        flight_rest=batch_rest,
        info={
            "latency_deferred": deferred.astype(_I32),
            "latency_dropped": jnp.where(live, dropped, 0),
            "latency_stale": stale.astype(_I32),
            "latency_in_flight": still.astype(_I32),
            "latency_order_ns": jnp.where(send & trading, delay, 0),
        },
    )


def after_step(lat: LatencyState, plan: Plan, caps: Captures, book, bid, ask, params):
    """The latency state after a step: the agent's view (the final book when the data latency is
    0), the batch in flight, the episode counts. ``bid``/``ask`` are the quotes the agent saw at
    the decision (kept for an empty side)."""
    now = jnp.asarray(params.data_latency_ns, _I32) == 0
    seen = _tree_where(now, views(book), caps.seen)
    seen_bid, seen_ask, _ = market_quotes(with_sides(book, seen), bid, ask)
    info = plan.info
    return LatencyState(
        seen_bids=seen[0],
        seen_asks=seen[1],
        seen_bid=seen_bid,
        seen_ask=seen_ask,
        flight=plan.flight,
        flight_live=plan.flight_live,
        flight_s=plan.flight_s,
        flight_ns=plan.flight_ns,
        flight_slots=plan.flight_slots,
        flight_rest=plan.flight_rest,
        deferred=lat.deferred + info["latency_deferred"],
        dropped=lat.dropped + info["latency_dropped"],
        stale=lat.stale + info["latency_stale"],
    )
