"""Action types: how an action vector becomes this step's quotes, market orders and trading speed.

Every type decodes to the same `Orders`, so one environment step serves them all:
- `LimitQuotes` ("limit"): float (2,) [bid depth, ask depth] in [min_depth, max_depth] (min_depth
  is 0 except in Avellaneda–Stoikov presets, whose optimal quotes may cross the mid);
- `TouchQuotes` ("touch"): int (2,) [post bid, post ask] in {0, 1}, quotes at the best prices
  (half_spread from the mid), which fill whenever a market order arrives;
- `LimitAndMarketOrders` ("limit_and_market"): (4,) [bid depth, ask depth, buy market order,
  sell market order], flags > 0.5 send one unit at half_spread from the mid;
- `TouchAndMarketOrders` ("touch_and_market"): int (4,) [post bid, post ask, buy, sell];
- `TradingSpeed` ("trading_speed"): float (1,) selling speed nu in [-max_speed, max_speed]
  (dQ = -nu dt).
Out-of-range values are clipped into the space; a NaN action is replaced by "do nothing" and
flagged in the step metrics' `invalid_action`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from gymnax.environments import spaces

from envs.model_based.components import ActionType, Orders
from envs.model_based.draws import real_dtype
from envs.spaces import MultiBinary


def _no_orders() -> Orders:
    return Orders(
        depths=jnp.zeros((2,), real_dtype()),
        quoted=jnp.zeros((2,), bool),
        market=jnp.zeros((2,), real_dtype()),
        speed=jnp.zeros((), real_dtype()),
    )


def _cleaned(action: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """The action as a real (size,) vector with NaNs replaced by 0, and whether it had any."""
    action = jnp.asarray(action, real_dtype()).reshape((size,))
    invalid = jnp.any(jnp.isnan(action))
    return jnp.where(invalid, 0.0, action), invalid


def _depth_quotes(orders: Orders, depths: jax.Array, params, invalid) -> Orders:
    depths = jnp.clip(depths, params.min_depth, params.max_depth)
    return orders.replace(depths=depths, quoted=jnp.ones((2,), bool) & ~invalid)


def _touch_quotes(orders: Orders, flags: jax.Array, params, invalid) -> Orders:
    depths = jnp.full((2,), params.half_spread, real_dtype())
    return orders.replace(depths=depths, quoted=(flags > 0.5) & ~invalid)


def _market_orders(orders: Orders, flags: jax.Array) -> Orders:
    return orders.replace(market=(flags > 0.5).astype(real_dtype()))


def _depth_box(params, with_market_flags: bool) -> spaces.Box:
    low, high = [params.min_depth] * 2, [params.max_depth] * 2
    if with_market_flags:
        low, high = low + [0.0, 0.0], high + [1.0, 1.0]
    low, high = jnp.stack(low).astype(real_dtype()), jnp.stack(high).astype(real_dtype())
    return spaces.Box(low, high, (len(low),), real_dtype())


class _QuotesAtDepth(ActionType):
    """Quotes at chosen depths: they fill with the fill model's probability."""

    needs_fill: ClassVar[bool] = True

    def fill_probability(self, fill, fill_params, orders: Orders, quoted, fill_state=None):
        return fill.probability(fill_params, orders.depths, fill_state) * quoted


class _QuotesAtTouch(ActionType):
    """Quotes at the best prices: every market order that arrives on their side fills them."""

    def fill_probability(self, fill, fill_params, orders: Orders, quoted, fill_state=None):
        return quoted.astype(real_dtype())


@dataclass(frozen=True)
class LimitQuotes(_QuotesAtDepth):
    """[bid depth, ask depth]."""

    name: ClassVar[str] = "limit"
    size: ClassVar[int] = 2

    def space(self, params) -> spaces.Box:
        return spaces.Box(params.min_depth, params.max_depth, (2,), real_dtype())

    def decode(self, action, params):
        action, invalid = _cleaned(action, self.size)
        return _depth_quotes(_no_orders(), action, params, invalid), invalid


@dataclass(frozen=True)
class TouchQuotes(_QuotesAtTouch):
    """[post bid, post ask] at the touch."""

    name: ClassVar[str] = "touch"
    size: ClassVar[int] = 2

    def space(self, params) -> MultiBinary:
        return MultiBinary(self.size)

    def decode(self, action, params):
        action, invalid = _cleaned(action, self.size)
        return _touch_quotes(_no_orders(), action, params, invalid), invalid


@dataclass(frozen=True)
class LimitAndMarketOrders(_QuotesAtDepth):
    """[bid depth, ask depth, buy market order, sell market order]."""

    name: ClassVar[str] = "limit_and_market"
    size: ClassVar[int] = 4

    def space(self, params) -> spaces.Box:
        return _depth_box(params, with_market_flags=True)

    def decode(self, action, params):
        action, invalid = _cleaned(action, self.size)
        orders = _depth_quotes(_no_orders(), action[:2], params, invalid)
        return _market_orders(orders, action[2:4]), invalid


@dataclass(frozen=True)
class TouchAndMarketOrders(_QuotesAtTouch):
    """[post bid, post ask, buy market order, sell market order]."""

    name: ClassVar[str] = "touch_and_market"
    size: ClassVar[int] = 4

    def space(self, params) -> MultiBinary:
        return MultiBinary(self.size)

    def decode(self, action, params):
        action, invalid = _cleaned(action, self.size)
        orders = _touch_quotes(_no_orders(), action[:2], params, invalid)
        return _market_orders(orders, action[2:4]), invalid


@dataclass(frozen=True)
class TradingSpeed(ActionType):
    """[selling speed nu]: trades continuously through the market's price impact model."""

    name: ClassVar[str] = "trading_speed"
    size: ClassVar[int] = 1
    needs_impact: ClassVar[bool] = True

    def space(self, params) -> spaces.Box:
        return spaces.Box(-params.max_speed, params.max_speed, (1,), real_dtype())

    def decode(self, action, params):
        action, invalid = _cleaned(action, self.size)
        speed = jnp.clip(action[0], -params.max_speed, params.max_speed)
        return _no_orders().replace(speed=speed), invalid

    def fill_probability(self, fill, fill_params, orders: Orders, quoted, fill_state=None):
        return jnp.zeros((2,), real_dtype())


ACTION_TYPES: tuple[type[ActionType], ...] = (
    LimitQuotes,
    TouchQuotes,
    LimitAndMarketOrders,
    TouchAndMarketOrders,
    TradingSpeed,
)

__all__ = [
    "ACTION_TYPES",
    "LimitAndMarketOrders",
    "LimitQuotes",
    "Orders",
    "TouchAndMarketOrders",
    "TouchQuotes",
    "TradingSpeed",
]
