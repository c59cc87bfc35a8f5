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

Unfilled shares are charged: what the deadline order cannot fill (the book it walks ran out, or
trading was halted) counts in the reward, the pnl and the report as if executed at the pessimistic
price ``P_unfilled``: for a buy the highest ask the book held before the deadline order or the
file's row showed at the deadline (never below the last best ask) plus ``unfilled_ticks`` ticks;
for a sell the lowest such bid minus ``unfilled_ticks`` ticks (not below 0). Every share the
deadline order fills costs at most that price, so leaving the task undone is never cheaper than
finishing it. The reward's term is ``unfilled_charge``: ``s Q_u (P_unfilled - P_VWAP) + lambda s Q_u
(P_VWAP - P_init)`` in dollars, the form of eqs. (9)-(10).

The task's own state (`ExecutionState`) is the number of shares still to trade. Its report
(`ExecutionTask.summary`, also in every step's info): executed shares, average price, the arrival
price and the market VWAP of the episode's steps, the shortfalls against both (bps, positive =
cost), the shares left unfilled when the episode ended and those the deadline order traded, the
price they were charged at (``unfilled_price``, dollars), their cost against the arrival price
(``unfilled_cost``, dollars) and the shortfall of the whole quantity with them charged
(``shortfall_charged_bps``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces

from envs.replay import observation as layout
from envs.replay.orders import Targets
from envs.replay.task import Quotes, StepOutcome, TaskStep
from jaxlob import messages as m
from jaxlob.views import mid_price

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
    unfilled_ticks: int = 5  # ticks beyond the worst visible price charged for unfilled shares


@struct.dataclass
class ExecutionState:
    """The execution task's own state."""

    remaining: jax.Array  # () int32, shares still to trade
    unfilled_price: jax.Array  # () float32, price units charged for unfilled shares (0: none)


def tick_floor(price, tick):
    return price - jnp.remainder(price, tick)


@dataclass(frozen=True)
class ExecutionTask:
    """Static choices of the execution task (implements `envs.replay.task.ReplayTask`)."""

    action: str = "four_prices"
    name: str = "execution"

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"action: {self.action!r} is not one of {ACTIONS}")

    @property
    def action_type(self) -> str:
        return self.action

    @property
    def action_names(self) -> tuple[str, ...]:
        return FOUR_PRICE_NAMES if self.action == "four_prices" else ("quantity", "offset")

    @property
    def obs_names(self) -> tuple[str, ...]:
        return layout.EXECUTION_FEATURES

    @property
    def num_slots(self) -> int:
        return 4 if self.action == "four_prices" else 1

    @property
    def liquidates(self) -> bool:
        return True

    @property
    def penalised(self) -> bool:
        return False

    def task_params(self, **changes) -> ExecutionParams:
        """`ExecutionParams` with ``changes``; ``max_order`` defaults to the quantity."""
        params = ExecutionParams(**changes)
        return params if "max_order" in changes else params.replace(max_order=params.quantity)

    def validate(self, p: ExecutionParams) -> None:
        if int(p.quantity) < 1:
            raise ValueError(f"quantity: must be >= 1, got {p.quantity}")
        if int(p.side) not in (1, -1):
            raise ValueError(f"side: must be 1 (buy) or -1 (sell), got {p.side}")
        if int(p.max_order) < 1:
            raise ValueError(f"max_order: must be >= 1, got {p.max_order}")
        if int(p.passive_ticks) < 0 or int(p.max_offset_ticks) < 0:
            raise ValueError("passive_ticks, max_offset_ticks: must be >= 0")
        if int(p.unfilled_ticks) < 0:
            raise ValueError(f"unfilled_ticks: must be >= 0, got {p.unfilled_ticks}")
        if float(p.liquidation_penalty) < 0:
            raise ValueError(f"liquidation_penalty: must be >= 0, got {p.liquidation_penalty}")

    def action_space(self, params) -> spaces.Box:
        p = params.task
        if self.action == "four_prices":
            return spaces.Box(0.0, jnp.asarray(p.max_order, _F32), (4,), _F32)
        low = jnp.stack([jnp.asarray(0.0, _F32), -jnp.asarray(p.max_offset_ticks, _F32)])
        high = jnp.stack(
            [jnp.asarray(p.max_order, _F32), jnp.asarray(p.max_offset_ticks, _F32)]
        ).astype(_F32)
        return spaces.Box(low, high, (2,), _F32)

    def inventory_bound(self, params) -> jax.Array:
        return params.task.quantity

    def init_state(self, params) -> ExecutionState:
        return ExecutionState(
            remaining=jnp.maximum(jnp.asarray(params.task.quantity, _I32), 0),
            unfilled_price=jnp.zeros((), _F32),
        )

    def inventory(self, task_state: ExecutionState, params) -> jax.Array:
        """Signed shares still to trade: + to sell, - to buy (0 when done)."""
        return (-params.task.side * task_state.remaining).astype(_F32)

    def targets(
        self, action, quotes: Quotes, task_state: ExecutionState, params
    ) -> tuple[Targets, jax.Array]:
        """Per-slot side, price and shares from the action and the book's quotes (the agent's
        own orders included, as in JAX-LOB)."""
        p = params.task
        tick = jnp.asarray(params.tick_size, _I32)
        bid, ask = quotes.book_bid, quotes.book_ask
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
        left = task_state.remaining.astype(_F32)
        scale = jnp.where(total > left, left / jnp.maximum(total, 1.0), 1.0)
        quantity = jnp.floor(wanted * scale).astype(_I32)
        prices = jnp.maximum(prices, tick)  # a price must stay positive
        direction = jnp.full(prices.shape, jnp.where(buy, 1, -1), _I32)
        return Targets(direction=direction, price=prices.astype(_I32), quantity=quantity), invalid

    def deadline_order(self, task_state: ExecutionState, params) -> tuple[jax.Array, jax.Array]:
        """Whatever is left, in the task's direction."""
        return jnp.asarray(params.task.side, _I32), task_state.remaining

    def step(self, outcome: StepOutcome, task_state: ExecutionState, params) -> TaskStep:
        """Eqs. (9)-(10) in dollars minus the liquidation penalty (as ``terminal_penalty``); the
        pnl is the fills' cash against the arrival price."""
        p = params.task
        trades = outcome.trades
        buy = p.side > 0
        s = jnp.where(buy, -1.0, 1.0)
        executed = jnp.where(buy, trades.agent_bought, trades.agent_sold)
        volume = executed.astype(_F32)
        notional = jnp.where(buy, trades.agent_bought_notional, trades.agent_sold_notional)
        vwap, arrival = outcome.vwap, outcome.arrival_mid
        advantage = s * (notional - volume * vwap) / m.PRICE_UNIT
        drift = p.reward_lambda * s * volume * (vwap - arrival) / m.PRICE_UNIT
        penalty = p.liquidation_penalty * outcome.liquidated.astype(_F32)
        remaining = jnp.maximum(task_state.remaining - executed, 0)
        # Unfilled at the deadline: charged at the pessimistic price (see the module docstring).
        unfilled = jnp.where(outcome.deadline, remaining, 0).astype(_F32)
        beyond = jnp.asarray(p.unfilled_ticks, _F32) * jnp.asarray(params.tick_size, _F32)
        charged = jnp.where(
            buy,
            outcome.worst_ask.astype(_F32) + beyond,
            jnp.maximum(outcome.worst_bid.astype(_F32) - beyond, 0.0),
        )
        unfilled_term = s * unfilled * (charged - vwap) / m.PRICE_UNIT
        unfilled_term += p.reward_lambda * s * unfilled * (vwap - arrival) / m.PRICE_UNIT
        pnl = s * (notional - volume * arrival + unfilled * (charged - arrival)) / m.PRICE_UNIT
        price = jnp.where(unfilled > 0, charged, task_state.unfilled_price)
        return TaskStep(
            state=ExecutionState(remaining=remaining, unfilled_price=price),
            reward=advantage + drift + unfilled_term - penalty,
            pnl=pnl,
            inventory_penalty=jnp.zeros((), _F32),
            terminal_penalty=jnp.asarray(penalty, _F32),
            finished=outcome.deadline | (remaining == 0),
            reward_parts={"advantage": advantage, "drift": drift, "unfilled_charge": unfilled_term},
        )

    def observe(self, state, params) -> jax.Array:
        p = params.task
        tick_f = jnp.asarray(params.tick_size, _I32).astype(_F32)
        quantity = jnp.maximum(jnp.asarray(p.quantity, _F32), 1.0)
        left = state.task.remaining.astype(_F32)
        summary = self.summary(state, params)
        executed_vs_arrival = jnp.where(
            summary["executed"] > 0,
            (summary["average_price"] - summary["arrival_price"]) * m.PRICE_UNIT / tick_f,
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

    def info(self, state, params) -> dict[str, jax.Array]:
        """The episode summary so far."""
        return self.summary(state, params)

    def summary(self, state, params) -> dict[str, jax.Array]:
        """Executed shares, average price, arrival price and market VWAP (dollars), shortfalls
        (bps), shares unfilled at the end, shares the deadline order traded."""
        buy = jnp.asarray(params.task.side, _I32) > 0
        executed = jnp.where(buy, state.bought, state.sold)
        notional = jnp.where(buy, state.bought_notional, state.sold_notional)
        average = notional / jnp.maximum(executed, 1).astype(_F32)
        arrival = mid_price(state.arrival_bid, state.arrival_ask)
        market = jnp.where(
            state.market_volume > 0,
            state.market_notional / jnp.maximum(state.market_volume, 1).astype(_F32),
            arrival,
        )
        sign = jnp.where(buy, 1.0, -1.0)
        has = executed > 0
        unfilled = jnp.where(state.done, state.task.remaining, 0)
        charged = jnp.where(unfilled > 0, state.task.unfilled_price, 0.0)
        u = unfilled.astype(_F32)
        unfilled_cost = sign * u * (charged - arrival) / m.PRICE_UNIT
        total = executed.astype(_F32) + u
        charged_average = (notional + u * charged) / jnp.maximum(total, 1.0)
        return {
            "executed": executed,
            "average_price": jnp.where(has, average / m.PRICE_UNIT, 0.0),
            "arrival_price": arrival / m.PRICE_UNIT,
            "market_vwap": market / m.PRICE_UNIT,
            "shortfall_arrival_bps": jnp.where(
                has, sign * (average - arrival) / arrival * 1e4, 0.0
            ),
            "shortfall_vwap_bps": jnp.where(has, sign * (average - market) / market * 1e4, 0.0),
            "unfilled": unfilled,
            "liquidated": state.liquidated,
            "unfilled_price": charged / m.PRICE_UNIT,
            "unfilled_cost": jnp.where(unfilled > 0, unfilled_cost, 0.0),
            "shortfall_charged_bps": jnp.where(
                total > 0, sign * (charged_average - arrival) / arrival * 1e4, 0.0
            ),
        }
