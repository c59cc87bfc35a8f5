"""Action types: how an action vector becomes this step's quotes, market orders and trading speed.

Every type decodes to the same `Orders`, so one environment step serves them all:
- `limit`: float (2,) [bid depth, ask depth] in [min_depth, max_depth] (min_depth is 0 except in
  Avellaneda–Stoikov presets, whose optimal quotes may cross the mid);
- `touch`: int (2,) [post bid, post ask] in {0, 1}, quotes at the best prices (half_spread from mid);
- `limit_and_market`: (4,) [bid depth, ask depth, buy market order, sell market order], flags > 0.5 send
  one unit at half_spread from the mid;
- `touch_and_market`: int (4,) [post bid, post ask, buy market order, sell market order];
- `trading_speed`: float (1,) selling speed nu in [-max_speed, max_speed] (dQ = -nu dt).
Out-of-range values are clipped into the space; a NaN action is replaced by "do nothing" and
flagged in `info["invalid_action"]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces

from envs.model_based.draws import real_dtype
from envs.spaces import MultiBinary

ACTION_TYPES = ("limit", "touch", "limit_and_market", "touch_and_market", "trading_speed")


@struct.dataclass
class Orders:
    depths: jax.Array  # (2,) [bid, ask] distance from mid of our quotes
    quoted: jax.Array  # (2,) bool: a quote is live on that side
    market: jax.Array  # (2,) float {0,1}: [buy, sell] one-unit market orders
    speed: jax.Array  # () selling speed nu


def _no_orders() -> Orders:
    return Orders(
        depths=jnp.zeros((2,), real_dtype()),
        quoted=jnp.zeros((2,), bool),
        market=jnp.zeros((2,), real_dtype()),
        speed=jnp.zeros((), real_dtype()),
    )


@dataclass(frozen=True)
class ActionType:
    kind: str = "limit"

    def __post_init__(self):
        if self.kind not in ACTION_TYPES:
            raise ValueError(f"action_type: unknown {self.kind!r}; choose one of {ACTION_TYPES}")

    @property
    def size(self) -> int:
        return {"limit": 2, "touch": 2, "limit_and_market": 4, "touch_and_market": 4}.get(
            self.kind, 1
        )

    def space(self, params) -> spaces.Space:
        if self.kind == "limit":
            return spaces.Box(params.min_depth, params.max_depth, (2,), real_dtype())
        if self.kind in ("touch", "touch_and_market"):
            return MultiBinary(self.size)
        if self.kind == "limit_and_market":
            low = jnp.stack([params.min_depth, params.min_depth, 0.0, 0.0]).astype(real_dtype())
            high = jnp.stack([params.max_depth, params.max_depth, 1.0, 1.0]).astype(real_dtype())
            return spaces.Box(low, high, (4,), real_dtype())
        return spaces.Box(-params.max_speed, params.max_speed, (1,), real_dtype())

    def decode(self, action: jax.Array, params) -> tuple[Orders, jax.Array]:
        """Return the orders an action means and whether it was invalid (NaN)."""
        action = jnp.asarray(action, real_dtype()).reshape((self.size,))
        invalid = jnp.any(jnp.isnan(action))
        action = jnp.where(invalid, 0.0, action)
        orders = _no_orders()
        if self.kind in ("limit", "limit_and_market"):
            depths = jnp.clip(action[:2], params.min_depth, params.max_depth)
            quoted = jnp.ones((2,), bool) & ~invalid
            orders = orders.replace(depths=depths, quoted=quoted)
        if self.kind in ("touch", "touch_and_market"):
            quoted = (action[:2] > 0.5) & ~invalid
            depths = jnp.full((2,), params.half_spread, real_dtype())
            orders = orders.replace(depths=depths, quoted=quoted)
        if self.kind in ("limit_and_market", "touch_and_market"):
            orders = orders.replace(market=(action[2:4] > 0.5).astype(real_dtype()))
        if self.kind == "trading_speed":
            orders = orders.replace(speed=jnp.clip(action[0], -params.max_speed, params.max_speed))
        return orders, invalid
