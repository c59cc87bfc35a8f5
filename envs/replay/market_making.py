"""The market-making task: quote a bid and an ask on the replayed book, earn the spread, hold little.

Action ``[bid depth, ask depth, bid size, ask size]``: depths in ticks from the other traders' mid
(``0 <= depth <= max_depth_ticks``), the bid rounded down and the ask up to the tick grid, and never
marketable (the bid stays at least a tick below the other traders' best ask, the ask a tick above
their best bid and the agent's own bid); sizes in shares (``0..max_order``). Orders rest in slots (`envs.replay.orders`), so a
quote that does not move keeps its queue position; fills happen only when replayed market flow
reaches them in the queue.

Inventory limits: the bid size is cut to ``max_inventory - q`` and the ask size to
``max_inventory + q``, so no fill can take the inventory past ``+-max_inventory``.

Reward per step, in dollars, from increments (float32 stays accurate): with the other traders' mid m
before and m' after the step, fills (b shares bought for B, s sold for S) and inventory q before,
``pnl = (S - s m') + (b m' - B) + q (m' - m)`` (so the sum over an episode is the change of cash plus
inventory marked to the mid), minus ``running_penalty * q'^2`` each step and
``terminal_penalty * q_T^2`` at the deadline. The episode ends at the window's deadline; the
inventory is kept (no deadline order), charged by the terminal penalty.

The task's own state (`MarketMakingState`) is the position. Its report (`MarketMakingTask.summary`):
the episode pnl, the terminal inventory and the shares traded.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces

from envs.replay import observation as layout
from envs.replay.execution import tick_floor
from envs.replay.orders import Targets, resting_by_side
from envs.replay.task import Quotes, StepOutcome, TaskStep
from jaxlob import messages as m

_F32 = jnp.float32
_I32 = jnp.int32


@struct.dataclass
class MarketMakingParams:
    """Numbers of the market-making task (traced)."""

    max_order: int = 100  # upper bound of each quote size (shares)
    max_depth_ticks: float = 20.0  # upper bound of the quote depths
    max_inventory: int = 500  # |inventory| bound (shares)
    running_penalty: float = 0.0  # dollars per share^2 per step
    terminal_penalty: float = 0.0  # dollars per share^2 at the deadline


@struct.dataclass
class MarketMakingState:
    """The market-making task's own state."""

    position: jax.Array  # () int32, shares held (bought minus sold)


@dataclass(frozen=True)
class MarketMakingTask:
    """Static choices of the market-making task (implements `envs.replay.task.ReplayTask`)."""

    name: str = "market_making"
    action_names: tuple[str, ...] = ("bid_depth", "ask_depth", "bid_size", "ask_size")

    @property
    def action_type(self) -> str:
        return "quotes"

    @property
    def obs_names(self) -> tuple[str, ...]:
        return layout.MARKET_MAKING_FEATURES

    @property
    def num_slots(self) -> int:
        return 2

    @property
    def liquidates(self) -> bool:
        return False

    @property
    def penalised(self) -> bool:
        return True

    def task_params(self, **changes) -> MarketMakingParams:
        return MarketMakingParams(**changes)

    def validate(self, p: MarketMakingParams) -> None:
        if int(p.max_order) < 1 or int(p.max_inventory) < 1:
            raise ValueError("max_order, max_inventory: must be >= 1")
        if float(p.max_depth_ticks) <= 0:
            raise ValueError(f"max_depth_ticks: must be > 0, got {p.max_depth_ticks}")
        if float(p.running_penalty) < 0 or float(p.terminal_penalty) < 0:
            raise ValueError("running_penalty, terminal_penalty: must be >= 0")

    def action_space(self, params) -> spaces.Box:
        p = params.task
        depth = jnp.asarray(p.max_depth_ticks, _F32)
        size = jnp.asarray(p.max_order, _F32)
        low = jnp.zeros((4,), _F32)
        high = jnp.stack([depth, depth, size, size]).astype(_F32)
        return spaces.Box(low, high, (4,), _F32)

    def inventory_bound(self, params) -> jax.Array:
        return params.task.max_inventory

    def init_state(self, params) -> MarketMakingState:
        return MarketMakingState(position=jnp.zeros((), _I32))

    def inventory(self, task_state: MarketMakingState, params) -> jax.Array:
        return task_state.position.astype(_F32)

    def targets(
        self, action, quotes: Quotes, task_state: MarketMakingState, params
    ) -> tuple[Targets, jax.Array]:
        """Bid and ask slots from the action, the other traders' quotes and the position."""
        p = params.task
        tick = jnp.asarray(params.tick_size, _I32)
        bid, ask = quotes.bid, quotes.ask
        position = task_state.position
        action = jnp.asarray(action, _F32)
        invalid = jnp.sum(jnp.isnan(action)).astype(_F32)
        action = jnp.where(jnp.isnan(action), 0.0, action)
        depth = jnp.clip(action[:2], 0.0, jnp.asarray(p.max_depth_ticks, _F32))
        # Integer arithmetic on twice the mid (exact): depth rounded to whole price units. Twice the
        # mid is 2 (q tick + r) + spread with q, r = divmod(bid, tick), so the ticks below it are
        # q plus those of 2 r + spread: bid + ask itself would overflow int32 above $107,374.
        units = 2 * jnp.round(depth * tick.astype(_F32)).astype(_I32)
        q, r = jnp.floor_divide(bid, tick), jnp.remainder(bid, tick)
        twice_mid_above_q = 2 * r + (ask - bid)
        bid_price = (q + jnp.floor_divide(twice_mid_above_q - units[0], 2 * tick)) * tick
        ask_price = (q - jnp.floor_divide(-(twice_mid_above_q + units[1]), 2 * tick)) * tick
        bid_price = jnp.maximum(jnp.minimum(bid_price, tick_floor(ask, tick) - tick), tick)
        ask_price = jnp.maximum(ask_price, tick_floor(bid, tick) + tick)
        ask_price = jnp.maximum(ask_price, bid_price + tick)  # never against its own bid
        size = jnp.round(jnp.clip(action[2:], 0.0, jnp.asarray(p.max_order, _F32))).astype(_I32)
        limit = jnp.asarray(p.max_inventory, _I32)
        size = jnp.minimum(size, jnp.stack([limit - position, limit + position]))
        size = jnp.maximum(size, 0)
        return Targets(
            direction=jnp.asarray([1, -1], _I32),
            price=jnp.stack([bid_price, ask_price]),
            quantity=size,
        ), invalid

    def deadline_order(self, task_state: MarketMakingState, params) -> tuple[jax.Array, jax.Array]:
        """None (`liquidates` is False): the inventory is kept."""
        return jnp.zeros((), _I32), jnp.zeros((), _I32)

    def step(self, outcome: StepOutcome, task_state: MarketMakingState, params) -> TaskStep:
        """Step pnl in dollars (from increments), the penalties, and the reward."""
        p = params.task
        trades = outcome.trades
        sold = trades.agent_sold.astype(_F32)
        bought = trades.agent_bought.astype(_F32)
        mid_before, mid_after = outcome.mid_before, outcome.mid_after
        before = task_state.position
        after = before + trades.agent_bought - trades.agent_sold
        pnl = (
            (trades.agent_sold_notional - sold * mid_after)
            + (bought * mid_after - trades.agent_bought_notional)
            + before.astype(_F32) * (mid_after - mid_before)
        ) / m.PRICE_UNIT
        q = after.astype(_F32)
        running = p.running_penalty * q * q
        terminal = jnp.where(outcome.deadline, p.terminal_penalty * q * q, 0.0)
        return TaskStep(
            state=MarketMakingState(position=after),
            reward=pnl - running - terminal,
            pnl=pnl,
            inventory_penalty=jnp.asarray(running, _F32),
            terminal_penalty=jnp.asarray(terminal, _F32),
            finished=outcome.deadline,
            reward_parts={},
        )

    def observe(self, state, params) -> jax.Array:
        bid_rest, ask_rest = resting_by_side(state.slots, state.rest)
        return jnp.stack(
            [state.inventory, state.episode_pnl, bid_rest.astype(_F32), ask_rest.astype(_F32)]
        )

    def info(self, state, params) -> dict[str, jax.Array]:
        """Nothing beyond the step metrics and the market's entries."""
        return {}

    def summary(self, state, params) -> dict[str, jax.Array]:
        """Episode pnl (dollars), terminal inventory and shares traded."""
        return {
            "pnl": state.episode_pnl,
            "terminal_inventory": state.inventory,
            "traded": state.bought + state.sold,
        }
