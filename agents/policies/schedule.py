"""Schedule agents: TWAP and VWAP execution of the initial inventory by the horizon T.

A volume curve v(u) on [0, T] (piecewise constant over equal buckets; flat for TWAP) defines the
schedule: of what is left at t, the share v(t) / ∫_t^T v is traded per unit time. In feedback form
this is ν = Q_t v(t) / ∫_t^T v for a trading-speed action (it follows the schedule exactly when no
noise moves Q, and re-plans when fills do). With one-unit market orders it sends a sell (buy) order
whenever the inventory is at least half a unit above (below) the schedule's target for the end of
the step: Q_0 ∫_{t+dt}^T v / ∫_0^T v.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents import model
from agents.observation import ObsReader, make_reader, step_index
from agents.policy import Stateless

SCHEDULE_TYPES = ("trading_speed", "limit_and_market", "touch_and_market")


def default_volume_curve(buckets: int = 13) -> np.ndarray:
    """A U-shaped intraday volume profile, v(u) = 1 + 3 (2u - 1)² at bucket midpoints."""
    u = (np.arange(buckets) + 0.5) / buckets
    return 1.0 + 3.0 * (2.0 * u - 1.0) ** 2


def remaining_volume(curve, terminal_time: float, num_steps: int) -> np.ndarray:
    """∫_{t_n}^T v for t_n = n T / N, n = 0..N, with v piecewise constant over equal buckets."""
    curve = np.asarray(curve, np.float64)
    if curve.ndim != 1 or curve.size == 0 or np.any(curve < 0) or curve.sum() <= 0:
        raise ValueError("volume_curve: needs nonnegative bucket weights with a positive sum")
    edges = np.linspace(0.0, terminal_time, curve.size + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(curve * np.diff(edges))])
    t = np.arange(num_steps + 1) * terminal_time / num_steps
    done = np.interp(t, edges, cumulative)
    return cumulative[-1] - done


@struct.dataclass
class SchedulePolicy(Stateless):
    remaining: jax.Array  # (N + 1,) ∫_{t_n}^T v
    initial_inventory: jax.Array
    max_speed: jax.Array
    park_depth: jax.Array  # where unused limit quotes sit (max_depth)
    reader: ObsReader
    dt: float = struct.field(pytree_node=False)
    num_steps: int = struct.field(pytree_node=False)
    action_kind: str = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        q = self.reader.inventory(obs)
        n = step_index(self.reader.time(obs), self.dt, self.num_steps)
        if self.action_kind == "trading_speed":
            share = (self.remaining[n] - self.remaining[n + 1]) / jnp.maximum(
                self.remaining[n], 1e-30
            )
            speed = q * share / self.dt
            return jnp.clip(speed, -self.max_speed, self.max_speed).reshape((1,))
        target = self.initial_inventory * self.remaining[n + 1] / self.remaining[0]
        excess = q - target
        sell = (excess >= 0.5).astype(jnp.float32)
        buy = (excess <= -0.5).astype(jnp.float32)
        if self.action_kind == "touch_and_market":
            return jnp.stack([0.0, 0.0, buy, sell]).astype(jnp.int32)
        return jnp.stack([self.park_depth, self.park_depth, buy, sell])


def make_schedule(env, params, volume_curve=None) -> SchedulePolicy:
    kind = env.action_type
    if kind not in SCHEDULE_TYPES:
        raise ValueError(f"schedule agents need one of {SCHEDULE_TYPES}, not {kind!r}")
    terminal_time, steps, dt = model.time_grid(params)
    curve = default_volume_curve() if volume_curve is None else volume_curve
    remaining = remaining_volume(curve, terminal_time, steps)
    return SchedulePolicy(
        remaining=jnp.asarray(remaining, jnp.float32),
        initial_inventory=jnp.asarray(float(params.initial_inventory), jnp.float32),
        max_speed=jnp.asarray(float(params.max_speed), jnp.float32),
        park_depth=jnp.asarray(float(params.max_depth), jnp.float32),
        reader=make_reader(env, params),
        dt=dt,
        num_steps=steps,
        action_kind=kind,
    )


def make_twap(env, params) -> SchedulePolicy:
    return make_schedule(env, params, volume_curve=np.ones(1))


def make_vwap(env, params, volume_curve: tuple[float, ...] | None = None) -> SchedulePolicy:
    """`volume_curve`: bucket weights over equal slices of [0, T] (default: a U-shaped day)."""
    return make_schedule(env, params, volume_curve=volume_curve)
