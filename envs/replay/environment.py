"""`ReplayMarket`: a gymnax environment over LOBSTER windows replayed through the `jaxlob` engine.

Reset draws a window (uniformly from ``[window_lo, window_hi)``, or the fixed ``window``) and starts
from its precomputed initial book (``EnvParams.initial_books``, built once by `make_params`: gymnax
runs a reset on every step, so reset is a gather). Each step:

1. the action becomes the agent's messages (`envs.replay.orders`: cancellations and submissions per
   order slot; nothing while the book is halted), priced off the other traders' quotes;
2. the agent's messages, then the step's data messages, then (execution task, at the deadline) one
   market order for what is left go through the engine in one scan, in that order;
3. re-synchronised mode (the default): the visible levels' volume that is not the agent's is set to
   the orderbook file's row after the step (`jaxlob.resync`), the agent's orders keeping their queue
   places; ``info`` reports the shares added and removed. The pure replay, in which the book drifts
   from the file (a level-L file omits deeper events), is ``ReplayConfig.resync=False`` (the code is
   not compiled in) or ``EnvParams.resync=False`` (switched off at run time);
4. reward, info and observation from the step's trades (`envs.replay.market.step_trades`).

The task (execution or market making) is a static component; see `envs.replay.execution` and
`envs.replay.market_making` for actions and rewards, `envs.replay.observation` for the layout.
After the episode ends, further `step_env` calls change nothing but ``time`` and return zero reward,
so fixed-length rollouts without auto-reset (`agents.evaluate`) see each episode once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from envs.replay import observation as layout
from envs.replay.data import ReplayData
from envs.replay.market import (
    AGENT,
    StepTrades,
    imbalance,
    market_quotes,
    resting,
    step_trades,
)
from envs.replay.orders import Slots, empty_slots, market_order, order_messages
from jaxlob import messages as m
from jaxlob.engine import apply_message
from jaxlob.records import add_totals, zero_totals
from jaxlob.resync import ResyncStats, resync_book, zero_stats
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState, book_from_snapshot
from jaxlob.views import top_levels

_I32 = jnp.int32
_F32 = jnp.float32
NUM_TRADERS = 2  # 0: market data, 1: the agent


@struct.dataclass
class EnvParams:
    """Data and numbers of a replay market (traced; vmap over ``data``/``initial_books`` for days)."""

    data: ReplayData
    initial_books: BookState  # one book per window, leading axis = window
    task: Any  # ExecutionParams or MarketMakingParams
    window: int = -1  # >= 0: always this window; -1: draw one at reset
    window_lo: int = 0  # windows drawn from [window_lo, window_hi)
    window_hi: int = 0  # 0: up to the number of windows
    tick_size: int = 100  # price units (1/10000 dollar) per tick
    resync: bool = True  # re-synchronise (when the config compiled it in: ReplayConfig.resync)
    max_steps_in_episode: int = struct.field(pytree_node=False, default=1)  # static: scan length


@struct.dataclass
class EnvState:
    book: BookState
    slots: Slots
    rest: jax.Array  # (K,) int32, shares resting per slot after the last step
    window: jax.Array  # () int32
    time: jax.Array  # () int32, steps taken
    done: jax.Array  # () bool, the episode is over (terminal state reached)
    next_id: jax.Array  # () int32, agent order id counter
    last_bid: jax.Array  # () int32, other traders' best bid (last known when a side is empty)
    last_ask: jax.Array
    arrival_twice_mid: jax.Array  # () int32, best bid + best ask when the episode started
    history: jax.Array  # (H, 2) float32, [drift, spread] in ticks at the end of past steps
    bought: jax.Array  # () int32, agent shares bought this episode
    sold: jax.Array
    bought_notional: jax.Array  # () float32, price units times shares
    sold_notional: jax.Array
    market_volume: jax.Array  # () int32, other traders' trades this episode
    market_notional: jax.Array  # () float32
    inventory: jax.Array  # () float32, the task's inventory (see the observation layout)
    episode_pnl: jax.Array  # () float32, dollars
    liquidated: jax.Array  # () int32, shares the deadline market order traded
    unfilled: jax.Array  # () int32, shares left when the episode ended
    resync_added: jax.Array  # () int32, episode totals of the re-synchronisation
    resync_removed: jax.Array


@dataclass(frozen=True)
class ReplayConfig:
    """Static, shape-defining choices."""

    task: Any  # ExecutionTask or MarketMakingTask
    capacity: int = 64  # orders per book side
    levels: int = 5  # book levels in the observation
    history: int = 4  # past steps of drift and spread in the observation
    resync: bool = True  # compile the re-synchronisation in (EnvParams.resync switches it)
    max_fills: int = 1  # fill rows per message the engine reports (totals are always complete)

    def __post_init__(self):
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


def _tree_where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


class ReplayMarket(environment.Environment):
    """gymnax environment replaying LOBSTER windows; see the module docstring."""

    def __init__(self, config: ReplayConfig, default_params: EnvParams, name: str | None = None):
        super().__init__()
        self.config = config
        self._default_params = default_params
        self._name = name
        self.obs_names = layout.market_names(config.levels, config.history) + layout.task_names(
            config.task.name
        )
        self.obs_index: dict[str, int] = layout.index(self.obs_names)
        self.obs_size = len(self.obs_names)

    # -- identity: same preset and config share compiled code
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
        return self._default_params

    @property
    def task(self):
        return self.config.task

    @property
    def action_type(self) -> str:
        return getattr(self.config.task, "action", self.config.task.name)

    @property
    def num_actions(self) -> int:
        return len(self.config.task.action_names)

    # -- spaces
    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return self.config.task.action_space(self.default_params if params is None else params)

    def _inventory_bound(self, params: EnvParams):
        p = params.task
        return p.quantity if self.config.task.name == "execution" else p.max_inventory

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        params = self.default_params if params is None else params
        low, high = layout.bounds(self.obs_names, self._inventory_bound(params))
        return spaces.Box(low, high, (self.obs_size,), _F32)

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
            arrival_twice_mid=bid + ask,
            history=history.reshape(c.history, 2),
            bought=zero_i,
            sold=zero_i,
            bought_notional=zero_f,
            sold_notional=zero_f,
            market_volume=zero_i,
            market_notional=zero_f,
            inventory=self._task_inventory(zero_i, zero_i, params),
            episode_pnl=zero_f,
            liquidated=zero_i,
            unfilled=zero_i,
            resync_added=zero_i,
            resync_removed=zero_i,
        )
        return self.get_obs(state, params), state

    def _task_inventory(self, bought, sold, params):
        return self.config.task.inventory(bought, sold, params)

    # -- the engine part of a step
    def _run_messages(self, book, msgs, liquidate, remaining, side):
        """Apply ``msgs`` in one scan. With ``liquidate`` the last message is replaced by a market
        order for ``remaining`` minus what the agent traded (in direction ``side``) before it.
        Returns the book, the totals, the agent's volume per message and the messages applied."""
        last = msgs.shape[0] - 1

        def step(carry, x):
            book, totals = carry
            msg, i = x
            if self.config.task.liquidates:
                done = jnp.where(side > 0, totals.bought_volume[AGENT], totals.sold_volume[AGENT])
                size = jnp.maximum(remaining - done, 0)
                order = market_order(side, size, liquidate, book.time_s, book.time_ns)[0]
                msg = jnp.where(i == last, order, msg)
            book, fills = apply_message(book, msg)
            t = fills.totals
            agent = t.bought_volume[AGENT] + t.sold_volume[AGENT]
            return (book, add_totals(totals, t)), (agent, msg)

        start = (book, zero_totals(NUM_TRADERS))
        index = jnp.arange(msgs.shape[0], dtype=_I32)
        (book, totals), (agent, applied) = jax.lax.scan(step, start, (msgs, index))
        return book, totals, agent, applied

    # -- step
    def step_env(self, key, state: EnvState, action, params: EnvParams):
        obs, state, reward, done, info, _ = self.step_detail(key, state, action, params)
        return obs, state, reward, done, info

    def step_detail(self, key, state: EnvState, action, params: EnvParams):
        """`step_env` plus the messages the engine applied, in order (agent's, data, deadline
        order), as ``(M, NUM_FIELDS)`` int32: what an independent book must replay to agree."""
        c, task, data = self.config, self.config.task, params.data
        w, t = state.window, state.time
        live = ~state.done
        tick = jnp.asarray(params.tick_size, _I32)
        book0 = state.book
        bid, ask, _ = market_quotes(book0, state.last_bid, state.last_ask)
        position = state.bought - state.sold
        execution = task.name == "execution"
        if execution:
            side = jnp.asarray(params.task.side, _I32)
            remaining = task.remaining(state.bought, state.sold, params)
            book_bid, book_ask, _ = market_quotes(book0, bid, ask, include_agent=True)
            targets, invalid = task.targets(action, book_bid, book_ask, remaining, params)
        else:
            side = jnp.zeros((), _I32)
            remaining = jnp.zeros((), _I32)
            targets, invalid = task.targets(action, bid, ask, position, params)
        rest = resting(book0, state.slots.order_id)
        trading = live & (book0.halt_state == m.TRADING)
        agent_msgs, slots, next_id = order_messages(
            state.slots, rest, targets, state.next_id, trading, book0.time_s, book0.time_ns
        )
        steps_w = jnp.asarray(data.num_steps[w], _I32)
        in_window = live & (t < steps_w)
        t_data = jnp.minimum(t, data.max_steps - 1)
        data_msgs = jnp.where(in_window, jnp.asarray(data.messages[w, t_data], _I32), 0)
        deadline = live & (t + 1 >= steps_w)
        parts = [agent_msgs, data_msgs]
        if task.liquidates:
            parts.append(jnp.zeros((1, m.NUM_FIELDS), _I32))
        msgs = jnp.concatenate(parts)
        book, totals, agent_per_msg, applied = self._run_messages(
            book0, msgs, deadline & trading, remaining, side
        )
        liquidated = agent_per_msg[-1] if task.liquidates else jnp.zeros((), _I32)

        stats = zero_stats()
        if c.resync:
            row = jnp.asarray(data.step_rows[w, t_data], _I32)
            synced, stats = resync_book(book, row)
            apply = in_window & jnp.asarray(params.resync, bool)
            book = _tree_where(apply, synced, book)
            stats = jax.tree.map(lambda x: jnp.where(apply, x, 0), stats)

        trades = step_trades(totals)
        bid1, ask1, _ = market_quotes(book, bid, ask)
        bought = state.bought + trades.agent_bought
        sold = state.sold + trades.agent_sold
        arrival_mid = state.arrival_twice_mid.astype(_F32) / 2.0
        vwap = jnp.where(
            trades.other_volume > 0,
            trades.other_notional / jnp.maximum(trades.other_volume, 1).astype(_F32),
            arrival_mid,
        )
        rest_after = resting(book, slots.order_id)
        if execution:
            reward, parts_info = task.reward(trades, vwap, arrival_mid, liquidated, params)
            s = jnp.where(side > 0, -1.0, 1.0)
            volume = jnp.where(side > 0, trades.agent_bought, trades.agent_sold).astype(_F32)
            notional = jnp.where(side > 0, trades.agent_bought_notional, trades.agent_sold_notional)
            pnl = s * (notional - volume * arrival_mid) / 10_000.0
            left = task.remaining(bought, sold, params)
            finished = deadline | (left == 0)
            unfilled = jnp.where(finished, left, 0)
        else:
            mid0 = (bid + ask).astype(_F32) / 2.0
            mid1 = (bid1 + ask1).astype(_F32) / 2.0
            reward, pnl, running, terminal = task.reward(
                trades, mid0, mid1, position, bought - sold, deadline, params
            )
            parts_info = {"inventory_penalty": running, "terminal_penalty": terminal}
            finished = deadline
            unfilled = jnp.zeros((), _I32)
        reward = jnp.where(live, reward, 0.0)
        pnl = jnp.where(live, pnl, 0.0)

        drift0 = (bid + ask - state.arrival_twice_mid).astype(_F32) / (2.0 * tick.astype(_F32))
        spread0 = (ask - bid).astype(_F32) / tick.astype(_F32)
        history = state.history
        if c.history:
            history = jnp.concatenate([jnp.stack([drift0, spread0])[None], history[:-1]], axis=0)
        market_volume = state.market_volume + trades.other_volume
        market_notional = state.market_notional + trades.other_notional
        new_state = EnvState(
            book=book,
            slots=slots,
            rest=rest_after,
            window=w,
            time=t + 1,
            done=state.done | finished,
            next_id=next_id,
            last_bid=bid1,
            last_ask=ask1,
            arrival_twice_mid=state.arrival_twice_mid,
            history=history,
            bought=bought,
            sold=sold,
            bought_notional=state.bought_notional + trades.agent_bought_notional,
            sold_notional=state.sold_notional + trades.agent_sold_notional,
            market_volume=market_volume,
            market_notional=market_notional,
            inventory=self._task_inventory(bought, sold, params),
            episode_pnl=state.episode_pnl + pnl,
            liquidated=state.liquidated + liquidated,
            unfilled=state.unfilled + unfilled,
            resync_added=state.resync_added + stats.added,
            resync_removed=state.resync_removed + stats.removed,
        )
        new_state = _tree_where(live, new_state, state.replace(time=t + 1))
        c0, c1 = book0.counters, book.counters
        parts_info["evicted_orders"] = c1.evicted_orders - c0.evicted_orders
        parts_info["unmatched_messages"] = (
            c1.unmatched_cancels
            + c1.unmatched_executions
            - c0.unmatched_cancels
            - c0.unmatched_executions
        )
        info = self._info(
            new_state, trades, stats, vwap, pnl, liquidated, invalid, parts_info, live, params
        )
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, new_state.done, info, applied

    def _info(
        self,
        state: EnvState,
        trades: StepTrades,
        stats: ResyncStats,
        vwap,
        pnl,
        liquidated,
        invalid,
        parts,
        live,
        params,
    ) -> dict:
        """The step's info (fixed keys and shapes; zero after the episode ended). Besides the
        task's numbers: the agent's and the other traders' traded volume, the step's VWAP, what the
        re-synchronisation added, removed and dropped, orders evicted from a full side (the agent's
        among them) and data messages naming an order the book does not have."""
        zero = lambda x: jnp.where(live, x, jnp.zeros_like(x))  # noqa: E731
        task = self.config.task
        bid_rest, ask_rest = self._side_resting(state)
        quoted = jnp.stack([bid_rest > 0, ask_rest > 0]) & live
        agent_prices = self._quoted_prices(state)
        liquidation = jnp.where(
            jnp.asarray(getattr(params.task, "side", 1)) > 0,
            jnp.stack([liquidated, 0]),
            jnp.stack([0, liquidated]),
        ).astype(_F32)
        info = {
            "pnl": pnl,
            "fills": zero(jnp.stack([trades.agent_bought, trades.agent_sold]).astype(_F32)),
            "market_orders": zero(liquidation),
            "quoted": quoted,
            "both_quoted": quoted[0] & quoted[1],
            "spread": jnp.where(
                quoted[0] & quoted[1], (agent_prices[1] - agent_prices[0]) / 10_000.0, 0.0
            ),
            "invalid_action": zero(invalid),
            "agent_volume": zero(trades.agent_bought + trades.agent_sold),
            "other_volume": zero(trades.other_volume),
            "total_volume": zero(trades.total_volume),
            "step_vwap": zero(vwap / 10_000.0),
            "resync_added": zero(stats.added),
            "resync_removed": zero(stats.removed),
            "resync_dropped": zero(stats.dropped_orders),
            "inventory": state.inventory,
        }
        info.update({k: zero(v) for k, v in parts.items()})
        if task.name == "execution":
            info.update(self._execution_summary(state, params))
            info["liquidated"] = zero(liquidated)
        return info

    def _side_resting(self, state: EnvState):
        bid = jnp.sum(jnp.where(state.slots.direction > 0, state.rest, 0), dtype=_I32)
        ask = jnp.sum(jnp.where(state.slots.direction < 0, state.rest, 0), dtype=_I32)
        return bid, ask

    def _quoted_prices(self, state: EnvState):
        """Best resting agent bid and ask prices (price units, float32; 0 when none)."""
        live = state.rest > 0
        bid = jnp.max(jnp.where(live & (state.slots.direction > 0), state.slots.price, 0))
        ask = jnp.min(
            jnp.where(live & (state.slots.direction < 0), state.slots.price, DUMMY_ASK_PRICE)
        )
        return jnp.stack([bid, jnp.where(ask == DUMMY_ASK_PRICE, 0, ask)]).astype(_F32)

    def _execution_summary(self, state: EnvState, params) -> dict:
        """Executed quantity, average price and shortfalls (bps) so far."""
        side = jnp.asarray(params.task.side, _I32)
        buy = side > 0
        executed = jnp.where(buy, state.bought, state.sold)
        notional = jnp.where(buy, state.bought_notional, state.sold_notional)
        average = notional / jnp.maximum(executed, 1).astype(_F32)
        arrival = state.arrival_twice_mid.astype(_F32) / 2.0
        market = jnp.where(
            state.market_volume > 0,
            state.market_notional / jnp.maximum(state.market_volume, 1).astype(_F32),
            arrival,
        )
        sign = jnp.where(buy, 1.0, -1.0)
        has = executed > 0
        return {
            "executed": executed,
            "average_price": jnp.where(has, average / 10_000.0, 0.0),
            "arrival_price": arrival / 10_000.0,
            "market_vwap": market / 10_000.0,
            "shortfall_arrival_bps": jnp.where(
                has, sign * (average - arrival) / arrival * 1e4, 0.0
            ),
            "shortfall_vwap_bps": jnp.where(has, sign * (average - market) / market * 1e4, 0.0),
            "unfilled": state.unfilled,
        }

    # -- observation
    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        params = self.default_params if params is None else params
        c, data = self.config, params.data
        tick = jnp.asarray(params.tick_size, _I32)
        tick_f = tick.astype(_F32)
        bid, ask = state.last_bid, state.last_ask
        twice_mid = bid + ask
        drift = (twice_mid - state.arrival_twice_mid).astype(_F32) / (2.0 * tick_f)
        spread = (ask - bid).astype(_F32) / tick_f
        top = top_levels(state.book, c.levels)
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
            layout.level_features(top, twice_mid, tick, c.levels),
        ]
        obs = jnp.concatenate(market + [self._task_obs(state, params, tick_f)]).astype(_F32)
        low, high = layout.bounds(self.obs_names, self._inventory_bound(params))
        return jnp.clip(obs, low, high)

    def _task_obs(self, state: EnvState, params, tick_f) -> jax.Array:
        task = self.config.task
        if task.name == "execution":
            p = params.task
            quantity = jnp.maximum(jnp.asarray(p.quantity, _F32), 1.0)
            left = task.remaining(state.bought, state.sold, params).astype(_F32)
            summary = self._execution_summary(state, params)
            executed_vs_arrival = jnp.where(
                summary["executed"] > 0,
                (summary["average_price"] - summary["arrival_price"]) * 10_000.0 / tick_f,
                0.0,
            )
            return jnp.stack(
                [
                    state.inventory,
                    left / quantity,
                    jnp.sum(state.rest).astype(_F32) / quantity,
                    executed_vs_arrival,
                    jnp.asarray(p.side, _F32),
                ]
            )
        bid_rest, ask_rest = self._side_resting(state)
        return jnp.stack(
            [state.inventory, state.episode_pnl, bid_rest.astype(_F32), ask_rest.astype(_F32)]
        )

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return state.done


def make_params(config: ReplayConfig, data: ReplayData, task_params, **fields) -> EnvParams:
    """`EnvParams` for ``data`` (host or device arrays): the initial books are built here, once."""
    data = jax.tree.map(lambda x: jnp.asarray(x, _I32), data)
    books = initial_books(data, config.capacity, config.max_fills)
    return EnvParams(
        data=data,
        initial_books=books,
        task=task_params,
        max_steps_in_episode=int(data.max_steps),
        **fields,
    )
