"""`ReplayMarket`: a gymnax environment over LOBSTER windows replayed through the `jaxlob` engine.

Reset draws a window (uniformly from ``[window_lo, window_hi)``, or the fixed ``window``) and starts
from its precomputed initial book (``EnvParams.initial_books``, built once by `make_params`: gymnax
runs a reset on every step, so reset is a gather). Each step:

1. the task turns the action into target orders (`ReplayTask.targets`), which become the agent's
   messages (`envs.replay.orders`: cancellations and submissions per order slot, self-trade
   prevention). Halts (type 7): a step that starts halted, or whose data hold a halt or
   quoting-only message, withdraws the agent's orders and sends none, so nothing of the agent's
   trades while trading is halted; the agent trades again from the first step that starts with
   trading resumed (code 1) and holds no halt. Executions do not fill the agent while halted, and
   the deadline order is not sent into a halted book (its shares are unfilled, and charged);
2. the agent's messages go through the engine, then the step's data messages, each execution
   replayed queue-true (`envs.replay.queue`: the agent's orders ahead of the order it names fill
   first) and each data message naming an id in the agent's range refused (counted in
   ``data_id_refused``), then (a task that `liquidates`, at the deadline) one market order for
   `ReplayTask.deadline_order`;
3. re-synchronised mode (the default): the visible levels' volume that is not the agent's is set to
   the orderbook file's row after the step less the agent's displacement of each level
   (`envs.replay.impact`: what it took stays taken until the file refills or moves the level), by
   `jaxlob.resync`, the agent's orders keeping their queue places; ``info`` reports the shares
   added and removed. The pure replay, in which the book drifts from the file (a level-L file omits
   deeper events), is ``ReplayConfig.resync=False`` (the code is not compiled in) or
   ``EnvParams.resync=False`` (switched off at run time);
4. the task makes its reward and its end of the episode from the step's trades (`ReplayTask.step`;
   shares the deadline order cannot fill are charged at a pessimistic price, see
   `envs.replay.execution`); info (`envs.replay.step_info`) and observation
   (`envs.replay.observation`) follow.

With ``ReplayConfig.latency`` (`envs.replay.latency`) the agent's messages of step 1 travel as one
batch that enters the data of step 2 where its arrival time falls (or of a later step), and the
quotes, observation and targets come from the book as it was ``data_latency_ns`` before the step's
end; both latencies 0 give exactly the replay without latency.

Without agent orders resting, every data message reaches the engine unchanged, so a replay of the
data alone is exactly the engine's (`jaxlob.fidelity`).

The task is a static component implementing `envs.replay.task.ReplayTask` (`envs.replay.execution`,
`envs.replay.market_making`); the environment never asks which one it runs. The episode ends at the
window's deadline (or when the task is done) as a termination: the deadline is part of the task, so
nothing is ever truncated. After the end, further `step_env` calls change nothing but ``time`` and
return zero reward, so fixed-length rollouts without auto-reset see each episode once.

The object is static configuration only: every method takes the params (data included) as an
argument, and `reset`, `step`, `get_obs` and the spaces refuse to run without them rather than
fall back on `default_params`, which would compile a whole LOBSTER day into the program as
constants. Environments of one config therefore share compiled code, whatever their params.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import environment, spaces

from envs.metrics import METRICS
from envs.replay import impact
from envs.replay import latency as lag
from envs.replay import observation as layout
from envs.replay.data import ReplayData
from envs.replay.market import AGENT, imbalance, market_quotes, resting, step_trades
from envs.replay.orders import (
    AGENT_ID_BASE,
    AGENT_ID_SPAN,
    empty_slots,
    is_agent_id,
    market_order,
    order_messages,
)
from envs.replay.queue import queue_fill
from envs.replay.state import EnvParams, EnvState
from envs.replay.step_info import fill_info, market_info, step_record, when_live
from envs.replay.task import Quotes, ReplayTask, StepOutcome
from jaxlob import messages as m
from jaxlob.engine import apply_message
from jaxlob.priority import logical_index
from jaxlob.records import add_totals, zero_totals
from jaxlob.resync import resync_book, zero_stats
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState, book_from_snapshot
from jaxlob.views import mid_price, top_levels, twice_mid_change

_I32 = jnp.int32
_F32 = jnp.float32
NUM_TRADERS = 2  # 0: market data, 1: the agent

__all__ = ["EnvParams", "EnvState", "ReplayConfig", "ReplayMarket", "initial_books", "make_params"]


@dataclass(frozen=True)
class ReplayConfig:
    """Static, shape-defining choices."""

    task: ReplayTask  # ExecutionTask or MarketMakingTask
    capacity: int = 256  # orders per book side (evicts no data order on the shipped GOOG day)
    levels: int = 5  # book levels in the observation
    history: int = 4  # past steps of drift and spread in the observation
    resync: bool = True  # compile the re-synchronisation in (EnvParams.resync switches it)
    max_fills: int = 1  # fill rows per message the engine reports (totals are always complete)
    latency: bool = False  # compile order and data latency in (`envs.replay.latency`)

    def __post_init__(self):
        if not isinstance(self.task, ReplayTask):
            raise ValueError(
                f"task: {type(self.task).__name__} does not implement envs.replay.task.ReplayTask"
            )
        for name in ("capacity", "levels", "max_fills"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.history, int) or self.history < 0:
            raise ValueError(f"history: must be a non-negative integer, got {self.history!r}")


def initial_books(data: ReplayData, capacity: int, max_fills: int = 1) -> BookState:
    """One snapshot book per window (any leading axes of ``data.initial_row``)."""
    rows = jnp.asarray(data.initial_row, _I32)
    lead = rows.shape[:-1]
    flat = rows.reshape(-1, rows.shape[-1])
    levels = rows.shape[-1] // 4
    books = jax.vmap(lambda r: book_from_snapshot(r, capacity, levels, max_fills, NUM_TRADERS))(
        flat
    )
    return jax.tree.map(lambda x: x.reshape(lead + x.shape[1:]), books)


def book_extremes(book: BookState) -> jax.Array:
    """[lowest bid, highest ask] resting in the book (dummy prices for an empty side)."""
    _, valid_b = logical_index(book.bids)
    _, valid_a = logical_index(book.asks)
    low_bid = jnp.min(jnp.where(valid_b, book.bids.price, DUMMY_ASK_PRICE))
    high_ask = jnp.max(jnp.where(valid_a, book.asks.price, DUMMY_BID_PRICE))
    return jnp.stack([low_bid, high_ask])


def deadline_extremes(worst, row, last_bid, last_ask) -> tuple[jax.Array, jax.Array]:
    """The lowest bid and highest ask the book held before the deadline order or the file's row
    shows, each no better than the last quote: the prices unfilled shares are charged from."""
    bids, bid_sizes = row[2::4], row[3::4]
    asks, ask_sizes = row[0::4], row[1::4]
    row_bid = jnp.min(jnp.where((bid_sizes > 0) & (bids > DUMMY_BID_PRICE), bids, DUMMY_ASK_PRICE))
    row_ask = jnp.max(jnp.where((ask_sizes > 0) & (asks < DUMMY_ASK_PRICE), asks, DUMMY_BID_PRICE))
    low = jnp.minimum(jnp.minimum(worst[0], row_bid), last_bid)
    high = jnp.maximum(jnp.maximum(worst[1], row_ask), last_ask)
    return low.astype(_I32), high.astype(_I32)


def _tree_where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def _required(params, method: str):
    """``params``, or a one-line TypeError: a replay market never falls back on its defaults."""
    if params is None:
        raise TypeError(
            f"ReplayMarket.{method}: params is required (pass the params make() returned: the "
            "data live there and must not be compiled in as constants)"
        )
    return params


class ReplayMarket(environment.Environment):
    """gymnax environment replaying LOBSTER windows; see the module docstring."""

    def __init__(self, config: ReplayConfig, default_params: EnvParams, name: str | None = None):
        super().__init__()
        self.config = config
        self._default_params = default_params
        self._name = name
        self.obs_names = layout.market_names(config.levels, config.history) + config.task.obs_names
        self.obs_index: dict[str, int] = layout.index(self.obs_names)
        self.obs_size = len(self.obs_names)

    # -- identity: the config and the name; every number and the data arrive as params
    def _key(self):
        return (self._name, self.config) if self._name is not None else (id(self),)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other) -> bool:
        return isinstance(other, ReplayMarket) and self._key() == other._key()

    @property
    def name(self) -> str:
        return self._name or "ReplayMarket"

    @property
    def default_params(self) -> EnvParams:
        """The params `make` returned (never read by the environment's methods)."""
        return self._default_params

    @property
    def task(self) -> ReplayTask:
        return self.config.task

    @property
    def action_type(self) -> str:
        return self.config.task.action_type

    @property
    def num_actions(self) -> int:
        return len(self.config.task.action_names)

    @property
    def penalised(self) -> bool:
        """Whether the reward charges inventory penalties (`envs.interfaces.Market`)."""
        return self.config.task.penalised

    # -- spaces
    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return self.config.task.action_space(_required(params, "action_space"))

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        params = _required(params, "observation_space")
        low, high = layout.bounds(self.obs_names, self.config.task.inventory_bound(params))
        return spaces.Box(low, high, (self.obs_size,), _F32)

    # -- gymnax's jitted entry points, with the params required
    def reset(self, key: jax.Array, params: EnvParams | None = None):
        return super().reset(key, _required(params, "reset"))

    def step(self, key: jax.Array, state: EnvState, action, params: EnvParams | None = None):
        return super().step(key, state, action, _required(params, "step"))

    # -- reset
    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        c, data = self.config, params.data
        count = jnp.asarray(data.num_windows, _I32)
        lo = jnp.clip(jnp.asarray(params.window_lo, _I32), 0, count - 1)
        hi = jnp.where(params.window_hi > 0, jnp.minimum(params.window_hi, count), count)
        drawn = jax.random.randint(key, (), lo, jnp.maximum(hi, lo + 1), _I32)
        w = jnp.where(params.window >= 0, jnp.asarray(params.window, _I32), drawn)
        book = jax.tree.map(lambda x: x[w], params.initial_books)
        book = book.replace(time_s=jnp.asarray(data.start_s[w], _I32), time_ns=jnp.zeros((), _I32))
        row = jnp.asarray(data.initial_row[w], _I32)
        tick = jnp.asarray(params.tick_size, _I32)
        ask_ok = (row[1] > 0) & (row[0] < DUMMY_ASK_PRICE)
        bid_ok = (row[3] > 0) & (row[2] > DUMMY_BID_PRICE)
        ask = jnp.where(ask_ok, row[0], jnp.where(bid_ok, row[2] + tick, tick))
        bid = jnp.where(bid_ok, row[2], ask - tick)
        spread = (ask - bid).astype(_F32) / tick.astype(_F32)
        history = jnp.tile(jnp.stack([jnp.zeros((), _F32), spread]), (c.history, 1))
        zero_i, zero_f = jnp.zeros((), _I32), jnp.zeros((), _F32)
        k = c.task.num_slots
        task_state = c.task.init_state(params)
        state = EnvState(
            book=book,
            slots=empty_slots(k),
            rest=jnp.zeros((k,), _I32),
            window=w,
            time=zero_i,
            done=jnp.zeros((), bool),
            next_id=zero_i,
            last_bid=bid,
            last_ask=ask,
            arrival_bid=bid,
            arrival_ask=ask,
            history=history.reshape(c.history, 2),
            bought=zero_i,
            sold=zero_i,
            bought_notional=zero_f,
            sold_notional=zero_f,
            market_volume=zero_i,
            market_notional=zero_f,
            inventory=c.task.inventory(task_state, params),
            episode_pnl=zero_f,
            liquidated=zero_i,
            resync_added=zero_i,
            resync_removed=zero_i,
            impact=impact.empty(),
            task=task_state,
            latency=lag.init_state(book, bid, ask, k) if c.latency else None,
        )
        return self.get_obs(state, params), state

    # -- the engine part of a step
    def _run_agent(self, book, msgs):
        """The agent's messages (cancellations, then submissions) in one scan."""

        def step(carry, msg):
            book, totals = carry
            book, fills = apply_message(book, msg)
            return (book, add_totals(totals, fills.totals)), None

        (book, totals), _ = jax.lax.scan(step, (book, zero_totals(NUM_TRADERS)), msgs)
        return book, totals

    def _run_data(self, book, totals, disp, msgs, liquidate, direction, shares, lat=None):
        """The step's data messages in one scan, each execution replayed queue-true
        (`envs.replay.queue`), the agent's displacement recorded (`envs.replay.impact`) when the
        re-synchronisation is compiled in. When the task `liquidates`, a last message is added:
        with ``liquidate`` and the book trading, a market order in ``direction`` for ``shares``
        minus what the agent traded that way before it. Returns the book, the totals, the
        displacement, the shares that order traded, the messages applied (data messages as the file
        gave them, ids in the agent's range refused), the worst bid and ask after the data (before
        the deadline order), the agent's queue-true fills and the refused data messages. With
        latency compiled in, ``lat`` is the step's `envs.replay.latency.ScanInputs`: the agent's
        batch is among ``msgs`` from ``lat.position`` on, the book's sides are captured after
        messages ``lat.pre_at`` and ``lat.post_at`` and after every message stamped by the cutoff,
        and the batch's replacements follow the cancel-replace rule (returned last: the captures,
        the impact log and the shares the rule cut)."""
        liquidates = self.config.task.liquidates
        track = self.config.resync
        # The deadline order's index, after the data (when the task liquidates).
        last = msgs.shape[0]

        def step(carry, x, deadline_order=False):
            book, totals, disp, worst, queued, refused, caps = carry
            msg, i = x
            if deadline_order:
                done = jnp.where(
                    direction > 0, totals.bought_volume[AGENT], totals.sold_volume[AGENT]
                )
                size = jnp.maximum(shares - done, 0)
                send = liquidate & (book.halt_state == m.TRADING)
                msg = market_order(direction, size, send, book.time_s, book.time_ns)[0]
            bad = (
                (msg[m.TRADER_ID] != AGENT) & (msg[m.TYPE] != m.NOOP) & is_agent_id(msg[m.ORDER_ID])
            )
            msg = jnp.where(bad, jnp.zeros_like(msg), msg)
            trading = book.halt_state == m.TRADING
            if track:
                typ = msg[m.TYPE]
                from_data = msg[m.TRADER_ID] != AGENT
                reduces = (typ == m.CANCEL) | (typ == m.DELETE) | (typ == m.EXECUTE)
                # (with latency the records are applied after the scan: `impact.record` pays off
                # nothing where nothing is owed, so the gate is only a shortcut)
                owed = lat is not None or impact.owed_on_side(disp, msg[m.DIRECTION] == m.SELL)
                may_pay = reduces & from_data & owed
            if lat is not None:
                caps, filled, replaced = caps
                msg, cut = lag.replace_rule(
                    msg, i, lat.position, filled, self.config.task.num_slots
                )
                replaced = replaced + cut
            book, engine_msg, queue_totals, queued_now, found = queue_fill(book, msg, trading)
            if lat is not None:
                filled = lag.filled_in_flight(
                    msg, i, lat.position, lat.rest, found, filled, self.config.task.num_slots
                )
            book, fills = apply_message(book, engine_msg)
            cleared = (queued_now > 0) & (engine_msg[m.TYPE] == m.NOOP)
            book = book.replace(
                time_s=jnp.where(cleared, msg[m.TIME_S], book.time_s),
                time_ns=jnp.where(cleared, msg[m.TIME_NS], book.time_ns),
            )
            t = add_totals(queue_totals, fills.totals)
            if track:
                agent_traded = fills.totals.bought_volume[AGENT] + fills.totals.sold_volume[AGENT]
                crossed = jnp.where((typ == m.SUBMIT) & from_data, agent_traded, 0)
                delta = crossed - jnp.where(typ == m.EXECUTE, queued_now, 0)
                short = jnp.maximum(engine_msg[m.SIZE] - found, 0)
                short = jnp.where(may_pay & (engine_msg[m.TYPE] != m.NOOP), short, 0)
                entry = (msg[m.DIRECTION] == m.SELL, msg[m.PRICE], delta, short)
                if lat is None:
                    disp = impact.record(disp, *entry)
            log = entry if (track and lat is not None) else None
            if lat is not None:
                seen = (msg[m.TYPE] != m.NOOP) & lag.at_or_before(
                    msg[m.TIME_S], msg[m.TIME_NS], lat.cut_s, lat.cut_ns
                )
                when = jnp.stack([i == lat.pre_at, i == lat.post_at, seen & (i != last)])
                caps = (lag.capture(book, when, caps), filled, replaced)
            agent = t.bought_volume[AGENT] + t.sold_volume[AGENT]
            carry = (
                book,
                add_totals(totals, t),
                disp,
                worst,
                queued + queued_now,
                refused + bad.astype(_I32),
                caps,
            )
            return carry, (agent, msg, log)

        zero = jnp.zeros((), _I32)
        caps = None
        if lat is not None:
            caps = (lat.captures, jnp.zeros_like(lat.rest), jnp.zeros((), _I32))
        start = (book, totals, disp, jnp.zeros((2,), _I32), zero, zero, caps)
        index = jnp.arange(msgs.shape[0], dtype=_I32)
        carry, (agent, applied, log) = jax.lax.scan(step, start, (msgs, index))
        # The worst prices before the deadline order (the task's settlement), then the order itself:
        # out of the scan, so that the data messages pay for neither.
        carry = carry[:3] + (book_extremes(carry[0]),) + carry[4:]
        if liquidates:
            carry, (order_traded, order, entry) = step(
                carry, (jnp.zeros((m.NUM_FIELDS,), _I32), jnp.asarray(last, _I32)), True
            )
            applied = jnp.concatenate([applied, order[None]])
            if log is not None:
                log = jax.tree.map(lambda xs, x: jnp.concatenate([xs, x[None]]), log, entry)
        book, totals, disp, worst, queued, refused, caps = carry
        liquidated = order_traded if liquidates else jnp.zeros((), _I32)
        if lat is not None:
            caps = (caps[0], log, caps[2])
        return book, totals, disp, liquidated, applied, worst, queued, refused, caps

    # -- step
    def step_env(self, key, state: EnvState, action, params: EnvParams):
        obs, state, reward, done, info, _ = self.step_detail(key, state, action, params)
        return obs, state, reward, done, info

    def step_detail(self, key, state: EnvState, action, params: EnvParams):
        """`step_env` plus the messages of the step, in order (agent's, data, deadline order; with
        latency the agent's batch where it arrived among the data), as ``(M, NUM_FIELDS)`` int32:
        the data messages as the file gives them (executions are replayed queue-true on top of
        them, `envs.replay.queue`)."""
        c, task, data = self.config, self.config.task, params.data
        w, t = state.window, state.time
        live = ~state.done
        tick = jnp.asarray(params.tick_size, _I32)
        book0 = state.book
        # The market's quotes (the reward's) and the agent's (its view, `envs.replay.latency`).
        true_bid, true_ask, _ = market_quotes(book0, state.last_bid, state.last_ask)
        if c.latency:
            view = lag.seen_book(book0, state.latency)
            bid, ask, _ = market_quotes(view, state.latency.seen_bid, state.latency.seen_ask)
        else:
            view, bid, ask = book0, true_bid, true_ask
        book_bid, book_ask, _ = market_quotes(view, bid, ask, include_agent=True)
        quotes = Quotes(bid=bid, ask=ask, book_bid=book_bid, book_ask=book_ask)
        targets, invalid = task.targets(action, quotes, state.task, params)
        rest = resting(book0, state.slots.order_id)
        steps_w = jnp.asarray(data.num_steps[w], _I32)
        in_window = live & (t < steps_w)
        t_data = jnp.minimum(t, data.max_steps - 1)
        data_msgs = jnp.where(in_window, jnp.asarray(data.messages[w, t_data], _I32), 0)
        # Halts: a step that holds a halt (or starts halted) withdraws the agent's orders.
        halts = (data_msgs[:, m.TYPE] == m.HALT) & (
            data_msgs[:, m.PRICE] != m.HALT_CODE_RESUME_TRADING
        )
        trading = live & (book0.halt_state == m.TRADING) & ~jnp.any(halts)
        targets = targets.replace(quantity=jnp.where(trading, targets.quantity, 0))
        agent_msgs, slots, next_id, prevented = order_messages(
            state.slots, rest, targets, state.next_id, live, book0.time_s, book0.time_ns
        )
        deadline = live & (t + 1 >= steps_w)
        direction, shares = task.deadline_order(state.task, params)
        disp = state.impact
        start_row = jnp.where(
            t == 0,
            jnp.asarray(data.initial_row[w], _I32),
            jnp.asarray(data.step_rows[w, jnp.maximum(t_data - 1, 0)], _I32),
        )
        if c.latency:
            decision = lag.Decision(agent_msgs, slots, rest, prevented)
            plan = lag.plan_step(
                key,
                state.latency,
                book0,
                state.slots,
                params,
                data_msgs,
                decision,
                live,
                trading,
                deadline,
            )
            slots, prevented = plan.slots, plan.prevented
            totals = zero_totals(NUM_TRADERS)
            scan_msgs, book_a = plan.merged, book0
        else:
            book_a, totals = self._run_agent(book0, agent_msgs)
            scan_msgs = data_msgs
            if c.resync:
                disp = impact.record_taken(
                    disp,
                    impact.other_volume_at(book0, start_row, AGENT),
                    impact.other_volume_at(book_a, start_row, AGENT),
                )
        run = self._run_data(
            book_a,
            totals,
            disp,
            scan_msgs,
            deadline & trading,
            direction,
            shares,
            plan.scan if c.latency else None,
        )
        book, totals, disp, liquidated, data_applied, worst, queued, refused, caps = run
        if c.latency:
            applied = data_applied
            caps, log, replaced = caps
            plan = plan.replace(info={**plan.info, "latency_replace_cut": replaced})
            if c.resync:  # the records in message order, the batch's taking where it arrived
                post_at = plan.scan.post_at
                index = jnp.arange(log[0].shape[0], dtype=_I32)
                disp = impact.record_all(disp, log, index <= post_at)
                disp = impact.record_taken(
                    disp,
                    impact.other_volume_at(lag.with_sides(book0, caps.pre), start_row, AGENT),
                    impact.other_volume_at(lag.with_sides(book0, caps.post), start_row, AGENT),
                )
                disp = impact.record_all(disp, log, index > post_at)
        else:
            applied = jnp.concatenate([agent_msgs, data_applied])

        stats = zero_stats()
        row = jnp.asarray(data.step_rows[w, t_data], _I32)
        if c.resync:
            apply = in_window & jnp.asarray(params.resync, bool)
            settled, sizes = impact.settle(disp, row)
            synced, stats = resync_book(book, row, targets=sizes)
            book = _tree_where(apply, synced, book)
            disp = _tree_where(apply, settled, disp)
            stats = jax.tree.map(lambda x: jnp.where(apply, x, 0), stats)
        worst_bid, worst_ask = deadline_extremes(worst, row, state.last_bid, state.last_ask)

        trades = step_trades(totals)
        bid1, ask1, _ = market_quotes(book, true_bid, true_ask)
        bought = state.bought + trades.agent_bought
        sold = state.sold + trades.agent_sold
        arrival_mid = mid_price(state.arrival_bid, state.arrival_ask)
        vwap = jnp.where(
            trades.other_volume > 0,
            trades.other_notional / jnp.maximum(trades.other_volume, 1).astype(_F32),
            arrival_mid,
        )
        outcome = StepOutcome(
            trades=trades,
            mid_before=mid_price(true_bid, true_ask),
            mid_after=mid_price(bid1, ask1),
            arrival_mid=arrival_mid,
            vwap=vwap,
            liquidated=liquidated,
            deadline=deadline,
            worst_bid=worst_bid,
            worst_ask=worst_ask,
        )
        result = task.step(outcome, state.task, params)
        reward = jnp.where(live, result.reward, 0.0)
        pnl = jnp.where(live, result.pnl, 0.0)

        twice_drift = twice_mid_change(bid, ask, state.arrival_bid, state.arrival_ask)
        drift0 = twice_drift / (2.0 * tick.astype(_F32))
        spread0 = (ask - bid).astype(_F32) / tick.astype(_F32)
        history = state.history
        if c.history:
            history = jnp.concatenate([jnp.stack([drift0, spread0])[None], history[:-1]], axis=0)
        lat_state = None
        if c.latency:
            lat_state = lag.after_step(state.latency, plan, caps, book, bid, ask, params)
        new_state = EnvState(
            book=book,
            slots=slots,
            rest=resting(book, slots.order_id),
            window=w,
            time=t + 1,
            done=state.done | result.finished,
            next_id=next_id,
            last_bid=bid1,
            last_ask=ask1,
            arrival_bid=state.arrival_bid,
            arrival_ask=state.arrival_ask,
            history=history,
            bought=bought,
            sold=sold,
            bought_notional=state.bought_notional + trades.agent_bought_notional,
            sold_notional=state.sold_notional + trades.agent_sold_notional,
            market_volume=state.market_volume + trades.other_volume,
            market_notional=state.market_notional + trades.other_notional,
            inventory=task.inventory(result.state, params),
            episode_pnl=state.episode_pnl + pnl,
            liquidated=state.liquidated + liquidated,
            resync_added=state.resync_added + stats.added,
            resync_removed=state.resync_removed + stats.removed,
            impact=disp,
            task=result.state,
            latency=lat_state,
        )
        new_state = _tree_where(live, new_state, state.replace(time=t + 1))
        market_orders = jnp.where(
            direction > 0, jnp.stack([liquidated, 0]), jnp.stack([0, liquidated])
        )
        info = {
            METRICS: step_record(new_state, result, trades, market_orders, invalid, live, pnl),
            **market_info(trades, vwap, stats, book0, book, live),
            **fill_info(queued, prevented, refused, disp, state.impact, live),
            **({k: when_live(live, v) for k, v in plan.info.items()} if c.latency else {}),
            **{name: when_live(live, x) for name, x in result.reward_parts.items()},
            **task.info(new_state, params),
        }
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, new_state.done, info, applied

    def episode_summary(self, state: EnvState, params: EnvParams) -> dict[str, jax.Array]:
        """The episode so far in the task's terms (`ReplayTask.summary`): for execution the
        executed shares, average, arrival and market VWAP prices, shortfalls, unfilled and
        liquidated shares; for market making the pnl, terminal inventory and shares traded."""
        return self.config.task.summary(state, params)

    # -- observation
    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        params = _required(params, "get_obs")
        c, data = self.config, params.data
        tick = jnp.asarray(params.tick_size, _I32)
        tick_f = tick.astype(_F32)
        if c.latency:  # the book as the agent sees it (`envs.replay.latency`)
            bid, ask = state.latency.seen_bid, state.latency.seen_ask
            top = top_levels(lag.seen_book(state.book, state.latency), c.levels)
        else:
            bid, ask = state.last_bid, state.last_ask
            top = top_levels(state.book, c.levels)
        twice_drift = twice_mid_change(bid, ask, state.arrival_bid, state.arrival_ask)
        drift = twice_drift / (2.0 * tick_f)
        spread = (ask - bid).astype(_F32) / tick_f
        imb_1 = imbalance(top[3], top[1])
        imb_k = imbalance(jnp.sum(top[3::4]), jnp.sum(top[1::4]))
        w = state.window
        start = jnp.asarray(data.start_s[w], _I32)
        length = jnp.maximum(jnp.asarray(data.end_s[w], _I32) - start, 1).astype(_F32)
        elapsed = (state.book.time_s - start).astype(_F32) + state.book.time_ns.astype(_F32) * 1e-9
        market = [
            jnp.stack(
                [
                    elapsed / length,
                    state.book.time_s.astype(_F32) / 86_400.0,
                    drift,
                    spread,
                    imb_1,
                    imb_k,
                ]
            ),
            state.history.reshape(-1),
            layout.level_features(top, bid, ask, tick, c.levels),
        ]
        obs = jnp.concatenate(market + [c.task.observe(state, params)]).astype(_F32)
        low, high = layout.bounds(self.obs_names, c.task.inventory_bound(params))
        return jnp.clip(obs, low, high)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return state.done

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """Never: every window ends at its deadline, a termination (`max_steps_in_episode` is
        the longest window's length, not a cut)."""
        return jnp.zeros((), bool)


def check_data_ids(data: ReplayData) -> None:
    """Raise a one-line ValueError for the first data message naming an id in the agent's reserved
    range (`envs.replay.orders`): such a message could reach an agent order. (Traced data are
    guarded at run time instead: the environment refuses and counts them.)"""
    msgs = data.messages
    if isinstance(msgs, jax.core.Tracer):
        return
    msgs = np.asarray(msgs)
    ids = msgs[..., m.ORDER_ID].astype(np.int64)
    bad = (msgs[..., m.TYPE] != m.NOOP) & (ids >= AGENT_ID_BASE - 1)
    bad &= ids < AGENT_ID_BASE + AGENT_ID_SPAN
    if bad.any():
        where = np.argwhere(bad)[0]
        lead = ", ".join(f"{name} {int(i)}" for name, i in zip(_AXES[-len(where) :], where))
        raise ValueError(
            f"data: {lead}: order id {int(ids[tuple(where)])} lies in the agent's reserved range "
            f"[{AGENT_ID_BASE - 1}, {AGENT_ID_BASE + AGENT_ID_SPAN})"
        )


_AXES = ("day", "window", "step", "message")


def make_params(config: ReplayConfig, data: ReplayData, task_params, **fields) -> EnvParams:
    """`EnvParams` for ``data`` (host or device arrays): the initial books are built here, once.
    Data naming an id in the agent's range are refused (`check_data_ids`)."""
    check_data_ids(data)
    data = jax.tree.map(lambda x: jnp.asarray(x, _I32), data)
    books = initial_books(data, config.capacity, config.max_fills)
    return EnvParams(
        data=data,
        initial_books=books,
        task=task_params,
        max_steps_in_episode=int(data.max_steps),
        **fields,
    )
