"""Baseline agents: random, a fixed action, a fixed spread around the mid.

Each policy is a frozen pytree with `__call__(key, obs) -> action`, so one compiled evaluation
serves every agent of the same class and shapes (its numbers are traced, not baked in).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents.policy import Stateless
from envs.model_based.fills import ExponentialFillParams, PowerFillParams

QUOTING_TYPES = ("limit", "touch", "limit_and_market", "touch_and_market")


@struct.dataclass
class RandomPolicy(Stateless):
    """A uniform draw from the action space, from the key it is given: evaluation hands every
    trajectory and step its own key, so trajectories are independent (not one draw for all)."""

    params: object
    env: object = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        return self.env.action_space(self.params).sample(key)


@struct.dataclass
class FixedActionPolicy(Stateless):
    action: jax.Array

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        return self.action


@struct.dataclass
class FixedSpreadPolicy(Stateless):
    """Quotes at mid + offset -/+ half_spread: bid depth half_spread - offset, ask half_spread + offset.

    At the touch it posts both sides (the spread is the market's); market-order flags are 0.
    """

    depths: jax.Array  # (2,) [bid, ask], already clipped to the action space
    action_kind: str = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        if self.action_kind in ("touch", "touch_and_market"):
            post = jnp.ones((2,), jnp.int32)
            if self.action_kind == "touch":
                return post
            return jnp.concatenate([post, jnp.zeros((2,), jnp.int32)])
        if self.action_kind == "limit":
            return self.depths
        return jnp.concatenate([self.depths, jnp.zeros((2,), jnp.float32)])


def make_random(env, params) -> RandomPolicy:
    return RandomPolicy(params=params, env=env)


def make_fixed_action(env, params, action: tuple[float, ...] | None = None) -> FixedActionPolicy:
    """`action` must have the action space's shape; it is clipped into the space (default: its
    lower bound for boxes, zeros for binary choices)."""
    space = env.action_space(params)
    shape = tuple(space.shape)
    dtype = space.dtype
    if action is None:
        value = np.asarray(getattr(space, "low", np.zeros(shape)), np.float64)
        value = np.broadcast_to(value, shape)
    else:
        value = np.asarray(action, np.float64).reshape(-1)
        if value.shape != (int(np.prod(shape)),):
            raise ValueError(
                f"fixed_action: action needs {int(np.prod(shape))} values for this environment,"
                f" got {value.size}"
            )
        value = value.reshape(shape)
    if hasattr(space, "low"):
        value = np.clip(value, np.asarray(space.low), np.asarray(space.high))
    return FixedActionPolicy(action=jnp.asarray(value, dtype))


def make_fixed_spread(
    env, params, half_spread: float | None = None, offset: float = 0.0
) -> FixedSpreadPolicy:
    """Default half-spread: 1/κ of an exponential fill model (the φ = α = 0 optimum of CJP §10.2)."""
    kind = env.action_type
    if kind not in QUOTING_TYPES:
        raise ValueError(f"fixed_spread: needs a quoting action type, not {kind!r}")
    if kind.startswith("touch") and (half_spread is not None or offset != 0.0):
        raise ValueError(
            "fixed_spread: at the touch the spread is the market's; drop half_spread/offset"
        )
    if half_spread is None:
        fill = getattr(params, "fill", None)
        if isinstance(fill, ExponentialFillParams | PowerFillParams):  # models with a kappa
            half_spread = 1.0 / float(fill.kappa)
        else:
            half_spread = float(params.half_spread)
    depths = np.array([half_spread - offset, half_spread + offset], np.float64)
    if kind in ("limit", "limit_and_market"):
        depths = np.clip(depths, float(params.min_depth), float(params.max_depth))
    return FixedSpreadPolicy(depths=jnp.asarray(depths, jnp.float32), action_kind=kind)
