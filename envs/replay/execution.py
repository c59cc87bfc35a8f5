"""The execution task (JAX-LOB §5.2): buy or sell a quantity by the end of the window.

Actions (``ExecutionTask.action``):

- ``"four_prices"`` (the paper's): shares to rest at four prices, ``[far touch, mid, near touch,
  passive]``. For a buy the far touch is the best ask, the near touch the best bid, the mid the
  mid-price rounded down to the tick grid, the passive price ``passive_ticks`` ticks below the best
  bid (mirrored for a sell). The prices are the book's best, the agent's own orders included (as in
  JAX-LOB): an order that is itself the near touch stays there. A far-touch order trades what it
  can at once and the rest rests at that price.
- ``"single_price"``: ``[shares, offset]``: one limit order at the near touch moved ``offset`` ticks
  towards the other side (``offset`` >= the spread crosses it and walks the book up to that price;
  negative is deeper in the own side), ``|offset| <= max_offset_ticks``.

Quantities are target resting sizes (`envs.replay.orders`), rounded to whole shares, clipped to
``[0, max_order]``; when they add up to more than is left to trade they are scaled down (floored),
so the task is never overfilled. A NaN component counts as an invalid action and as 0.

Reward per step (eqs. 9-10), with s = +1 for a sell and -1 for a buy, in dollars:
``s * sum_j Q_j (P_j - P_VWAP) + lambda * s * sum_j Q_j (P_VWAP - P_init)`` over the agent's fills j
in the step, where P_VWAP is the volume-weighted price of the step's trades between other traders
(hidden executions included) and falls back to the arrival price P_init (the mid when the episode
starts) when the step has none. Whatever is left at the deadline is sent as one market order
(walking the book) after the last step's data messages; an optional ``liquidation_penalty`` (dollars
per share) is charged on its size. The episode terminates when the quantity is done or at the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces

from envs.replay.orders import Targets

ACTIONS = ("four_prices", "single_price")
FOUR_PRICE_NAMES = ("far_touch", "mid", "near_touch", "passive")
_F32 = jnp.float32
_I32 = jnp.int32


@struct.dataclass
class ExecutionParams:
    """Numbers of the execution task (traced)."""

    quantity: int = 500  # shares to trade
    side: int = 1  # 1 buy, -1 sell
    max_order: int = 500  # upper bound of each action quantity (shares)
    passive_ticks: int = 2  # depth of the passive price behind the near touch
    max_offset_ticks: int = 50  # bound of the single-price offset
    reward_lambda: float = 0.0  # weight of the drift term
    liquidation_penalty: float = 0.0  # dollars per share sent to the deadline market order


def tick_floor(price, tick):
    return price - jnp.remainder(price, tick)


@dataclass(frozen=True)
class ExecutionTask:
    """Static choices of the execution task."""

    action: str = "four_prices"
    name: str = "execution"

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"action: {self.action!r} is not one of {ACTIONS}")

    @property
    def num_slots(self) -> int:
        return 4 if self.action == "four_prices" else 1

    @property
    def liquidates(self) -> bool:
        return True

    @property
    def action_names(self) -> tuple[str, ...]:
        return FOUR_PRICE_NAMES if self.action == "four_prices" else ("quantity", "offset")

    def action_space(self, params) -> spaces.Box:
        p = params.task
        if self.action == "four_prices":
            return spaces.Box(0.0, jnp.asarray(p.max_order, _F32), (4,), _F32)
        low = jnp.stack([jnp.asarray(0.0, _F32), -jnp.asarray(p.max_offset_ticks, _F32)])
        high = jnp.stack(
            [jnp.asarray(p.max_order, _F32), jnp.asarray(p.max_offset_ticks, _F32)]
        ).astype(_F32)
        return spaces.Box(low, high, (2,), _F32)

    def remaining(self, bought, sold, params) -> jax.Array:
        """Shares still to trade."""
        p = params.task
        done = jnp.where(p.side > 0, bought, sold)
        return jnp.maximum(jnp.asarray(p.quantity, _I32) - done, 0)

    def inventory(self, bought, sold, params) -> jax.Array:
        """Signed shares still to trade: + to sell, - to buy (0 when done)."""
        return (-params.task.side * self.remaining(bought, sold, params)).astype(_F32)

    def targets(self, action, bid, ask, remaining, params) -> tuple[Targets, jax.Array]:
        """Per-slot side, price and shares from the action and the other traders' quotes."""
        p = params.task
        tick = jnp.asarray(params.tick_size, _I32)
        buy = p.side > 0
        action = jnp.asarray(action, _F32)
        invalid = jnp.sum(jnp.isnan(action)).astype(_F32)
        action = jnp.where(jnp.isnan(action), 0.0, action)
        near = jnp.where(buy, bid, ask)
        far = jnp.where(buy, ask, bid)
        toward = jnp.where(buy, 1, -1)  # direction from the near touch towards the other side
        if self.action == "four_prices":
            half = tick_floor((ask - bid) // 2, tick)
            mid = jnp.where(buy, bid + half, ask - half)
            passive = near - toward * jnp.asarray(p.passive_ticks, _I32) * tick
            prices = jnp.stack([far, mid, near, passive])
            wanted = jnp.round(jnp.clip(action, 0.0, jnp.asarray(p.max_order, _F32)))
        else:
            offset = jnp.round(
                jnp.clip(action[1], -jnp.asarray(p.max_offset_ticks, _F32), p.max_offset_ticks)
            ).astype(_I32)
            prices = (near + toward * offset * tick)[None]
            wanted = jnp.round(jnp.clip(action[:1], 0.0, jnp.asarray(p.max_order, _F32)))
        total = jnp.sum(wanted)
        left = remaining.astype(_F32)
        scale = jnp.where(total > left, left / jnp.maximum(total, 1.0), 1.0)
        quantity = jnp.floor(wanted * scale).astype(_I32)
        prices = jnp.maximum(prices, tick)  # a price must stay positive
        direction = jnp.full(prices.shape, jnp.where(buy, 1, -1), _I32)
        return Targets(direction=direction, price=prices.astype(_I32), quantity=quantity), invalid

    def reward(self, trades, vwap, arrival_mid, liquidated, params) -> tuple[jax.Array, dict]:
        """Eqs. (9)-(10) in dollars, minus the liquidation penalty; and its parts (the penalty as
        ``terminal_penalty``, ``inventory_penalty`` 0, the names `agents.evaluate` reads)."""
        p = params.task
        buy = p.side > 0
        s = jnp.where(buy, -1.0, 1.0)
        volume = jnp.where(buy, trades.agent_bought, trades.agent_sold).astype(_F32)
        notional = jnp.where(buy, trades.agent_bought_notional, trades.agent_sold_notional)
        advantage = s * (notional - volume * vwap) / 10_000.0
        drift = p.reward_lambda * s * volume * (vwap - arrival_mid) / 10_000.0
        penalty = p.liquidation_penalty * liquidated.astype(_F32)
        parts = {
            "advantage": advantage,
            "drift": drift,
            "inventory_penalty": jnp.zeros((), _F32),
            "terminal_penalty": penalty,
        }
        return advantage + drift - penalty, parts
