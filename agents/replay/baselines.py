"""Baseline policies for the replay tasks, each built from ``(env, params, **args)`` and a pure
``policy(key, obs) -> action`` (a frozen pytree: one compiled rollout serves every agent of a class).

Execution (`lobster_execution`), all reading ``time`` (elapsed share of the window), ``remaining``
and the task quantity from the observation and params:

- ``twap``: by the end of the coming step, ``quantity * min(time + dt, 1)`` should be done (dt: one
  step's average share of a window in the data); the shortfall is sent aggressively.
- ``vwap``: the same with time mapped through the window volume curve estimated from the data
  (`agents.replay.estimation.cumulative_volume_share`: cumulative share of traded volume by elapsed time, averaged
  over the day's windows; an in-sample curve, as a one-day sample allows).
- ``all_at_once``: everything at the first step.

"Aggressively" means: with the four-price action, a limit order at the far touch (what does not fill
rests there and is re-priced next step); with the single-price action, a limit ``aggression`` ticks
through the near touch (default ``max_offset_ticks``), which walks the book like a market order.

Both tasks:

- ``fixed_action``: the same action every step, ``action`` one value per component of the action
  space (checked against its bounds, one-line error naming the component); default all zeros, which
  on both tasks is doing nothing (no order rests; an execution task's deadline order still buys or
  sells what is left, at the price the task charges).

Market making (`lobster_market_making`):

- ``fixed_spread``: bid and ask ``depth`` ticks from the mid (default: half the median spread in the
  data), ``size`` shares each (default ``max_order``).
- ``avellaneda_stoikov``: Avellaneda and Stoikov (2008) quotes around the reservation price
  ``r = s - q gamma sigma^2 (T - t)`` with total spread ``gamma sigma^2 (T - t) + (2/gamma)
  ln(1 + gamma/k)``, in ticks and seconds, the inventory q in lots of ``size`` shares; sigma, A and k
  are estimated from the data (`agents.replay.estimation.estimate_market`). On the GOOG day sigma is
  about 3.6 ticks per sqrt(second) and k about 0.1 per tick, so over a 30-minute window
  sigma^2 T is about 23,000 ticks^2: the default ``gamma = 1e-4`` (per tick and lot) leans the
  quotes about 2 ticks per lot at the start, with a total spread near 2/k = 19 ticks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents.policies.baseline import FixedActionPolicy
from agents.policy import Stateless
from agents.replay import estimation

_F32 = jnp.float32
CURVE_POINTS = 31  # every schedule's curve has this many points: one compiled rollout serves all


def _task(env, expected: str, agent: str) -> None:
    name = getattr(getattr(env, "config", None), "task", None)
    if getattr(name, "name", None) != expected:
        raise ValueError(f"{agent}: needs a replay {expected} environment")


def _one_day(params, agent: str):
    if np.asarray(params.data.num_windows).ndim:
        raise ValueError(f"{agent}: build it from the params of one day, not stacked days")


@struct.dataclass
class WindowSchedulePolicy(Stateless):
    """Trade towards ``quantity * curve(time + dt)`` (piecewise linear ``curve`` on [0, 1])."""

    curve: jax.Array  # (B + 1,) cumulative share done at equal steps of elapsed time
    quantity: jax.Array
    dt: jax.Array
    aggression: jax.Array  # single-price offset in ticks
    time_index: int = struct.field(pytree_node=False)
    remaining_index: int = struct.field(pytree_node=False)
    action: str = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        obs = jnp.asarray(obs, _F32)
        t = jnp.clip(obs[self.time_index] + self.dt, 0.0, 1.0)
        grid = jnp.linspace(0.0, 1.0, self.curve.shape[0])
        target = self.quantity * jnp.interp(t, grid, self.curve)
        done = self.quantity * (1.0 - obs[self.remaining_index])
        deficit = jnp.clip(jnp.ceil(target - done), 0.0, self.quantity)
        return _aggressive(deficit, self.aggression, self.action)


def _aggressive(shares, aggression, action: str) -> jax.Array:
    if action == "four_prices":
        zero = jnp.zeros((), _F32)
        return jnp.stack([shares, zero, zero, zero]).astype(_F32)
    return jnp.stack([shares, aggression]).astype(_F32)


def _schedule(
    env, params, curve: np.ndarray, dt: float, aggression, agent: str
) -> WindowSchedulePolicy:
    _task(env, "execution", agent)
    p = params.task
    action = env.config.task.action
    aggression = float(p.max_offset_ticks) if aggression is None else float(aggression)
    return WindowSchedulePolicy(
        curve=jnp.asarray(curve, _F32),
        quantity=jnp.asarray(float(p.quantity), _F32),
        dt=jnp.asarray(dt, _F32),
        aggression=jnp.asarray(aggression, _F32),
        time_index=env.obs_index["time"],
        remaining_index=env.obs_index["remaining"],
        action=action,
    )


def make_twap(env, params, aggression: float | None = None) -> WindowSchedulePolicy:
    """Time-weighted schedule over the window (see the module docstring)."""
    _one_day(params, "twap")
    dt = estimation.mean_step_fraction(params.data)
    return _schedule(env, params, np.linspace(0.0, 1.0, CURVE_POINTS), dt, aggression, "twap")


def make_vwap(
    env, params, aggression: float | None = None, volume_curve=None
) -> WindowSchedulePolicy:
    """Volume-weighted schedule. ``volume_curve``: bucket weights over equal slices of the window
    (the convention of every vwap agent, as `agents.policies.schedule`); default: estimated from
    the data."""
    _one_day(params, "vwap")
    if volume_curve is None:
        curve = estimation.cumulative_volume_share(params.data, CURVE_POINTS - 1)
    else:
        curve = cumulative_curve(volume_curve)
    dt = estimation.mean_step_fraction(params.data)
    return _schedule(env, params, curve, dt, aggression, "vwap")


def cumulative_curve(weights) -> np.ndarray:
    """Bucket weights over equal slices of [0, 1] -> the cumulative share done at the
    `CURVE_POINTS` equally spaced times (piecewise linear within a bucket)."""
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 1 or weights.size < 1 or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("vwap: volume_curve needs nonnegative bucket weights with a positive sum")
    edges = np.linspace(0.0, 1.0, weights.size + 1)
    done = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    return np.interp(np.linspace(0.0, 1.0, CURVE_POINTS), edges, done)


def make_all_at_once(env, params, aggression: float | None = None) -> WindowSchedulePolicy:
    """Everything at the first step (a schedule already complete at time 0)."""
    return _schedule(env, params, np.ones(CURVE_POINTS), 0.0, aggression, "all_at_once")


@struct.dataclass
class QuotePolicy(Stateless):
    """Market-making quotes: depths in ticks from the mid and sizes; Avellaneda-Stoikov when
    ``risk`` > 0 (reservation price and spread from the inventory and the time left)."""

    depth: jax.Array  # fixed spread: depth per side (ticks)
    size: jax.Array  # shares per quote
    gamma: jax.Array
    sigma2: jax.Array  # ticks^2 per second
    spread_term: jax.Array  # (2/gamma) ln(1 + gamma/k), ticks
    window_seconds: jax.Array
    max_depth: jax.Array
    avellaneda_stoikov: jax.Array  # () bool (traced: both kinds share one compilation)
    inventory_index: int = struct.field(pytree_node=False)
    time_index: int = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        obs = jnp.asarray(obs, _F32)
        left = jnp.clip(1.0 - obs[self.time_index], 0.0, 1.0) * self.window_seconds
        lots = obs[self.inventory_index] / self.size
        risk = self.gamma * self.sigma2 * left
        half = 0.5 * (risk + self.spread_term)
        reservation = jnp.stack([lots * risk + half, -lots * risk + half])
        depths = jnp.where(
            self.avellaneda_stoikov, reservation, jnp.stack([self.depth, self.depth])
        )
        depths = jnp.clip(depths, 0.0, self.max_depth)
        return jnp.concatenate([depths, jnp.stack([self.size, self.size])]).astype(_F32)


def _quote_policy(env, params, depth, size, gamma, est, avellaneda_stoikov) -> QuotePolicy:
    p = params.task
    size = float(p.max_order) if size is None else float(size)
    if not 0 < size <= float(p.max_order):
        raise ValueError(f"size: must lie in (0, max_order={p.max_order}], got {size}")
    if gamma <= 0:
        raise ValueError(f"gamma: must be > 0, got {gamma}")
    data = params.data
    count = int(np.asarray(data.num_windows))
    seconds = float(np.mean(np.asarray(data.end_s)[:count] - np.asarray(data.start_s)[:count]))
    return QuotePolicy(
        depth=jnp.asarray(depth, _F32),
        size=jnp.asarray(size, _F32),
        gamma=jnp.asarray(gamma, _F32),
        sigma2=jnp.asarray(est.sigma**2, _F32),
        spread_term=jnp.asarray((2.0 / gamma) * np.log1p(gamma / est.intensity_k), _F32),
        window_seconds=jnp.asarray(seconds, _F32),
        max_depth=jnp.asarray(float(p.max_depth_ticks), _F32),
        avellaneda_stoikov=jnp.asarray(avellaneda_stoikov),
        inventory_index=env.obs_index["inventory"],
        time_index=env.obs_index["time"],
    )


def make_fixed_spread(
    env, params, depth: float | None = None, size: float | None = None
) -> QuotePolicy:
    """Quotes ``depth`` ticks either side of the mid (default half the data's median spread)."""
    _task(env, "market_making", "fixed_spread")
    _one_day(params, "fixed_spread")
    est = estimation.estimate_market(params.data, int(params.tick_size))
    depth = est.median_spread / 2.0 if depth is None else float(depth)
    if depth < 0:
        raise ValueError(f"depth: must be >= 0, got {depth}")
    return _quote_policy(env, params, depth, size, 1.0, est, False)


def make_avellaneda_stoikov(
    env, params, gamma: float = 1e-4, size: float | None = None
) -> QuotePolicy:
    """Avellaneda-Stoikov quotes with sigma and k estimated from the data (module docstring)."""
    _task(env, "market_making", "avellaneda_stoikov")
    _one_day(params, "avellaneda_stoikov")
    est = estimation.estimate_market(params.data, int(params.tick_size))
    return _quote_policy(env, params, 0.0, size, float(gamma), est, True)


def make_fixed_action(env, params, action=None) -> FixedActionPolicy:
    """The same ``action`` every step (default zeros: do nothing), within the action space."""
    if getattr(getattr(env, "config", None), "task", None) is None:
        raise ValueError("fixed_action: needs a replay environment")
    space = env.action_space(params)
    names = env.config.task.action_names
    low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape)
    high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape)
    value = np.zeros(space.shape) if action is None else np.asarray(action, np.float64).ravel()
    if value.shape != tuple(space.shape):
        raise ValueError(
            f"fixed_action: action needs {space.shape[0]} values ({', '.join(names)}), "
            f"got {value.size}"
        )
    for name, x, lo, hi in zip(names, value, low, high, strict=True):
        if not lo <= x <= hi:
            raise ValueError(f"fixed_action: action {name}={x:g} outside [{lo:g}, {hi:g}]")
    return FixedActionPolicy(action=jnp.asarray(value, space.dtype))


BASELINES = {
    "twap": make_twap,
    "vwap": make_vwap,
    "all_at_once": make_all_at_once,
    "fixed_spread": make_fixed_spread,
    "avellaneda_stoikov": make_avellaneda_stoikov,
    "fixed_action": make_fixed_action,
}
# Argument types, in the form `agents.registry.AgentSpec.args` uses.
BASELINE_ARGS = {
    "twap": {"aggression": "float"},
    "vwap": {"aggression": "float", "volume_curve": "floats"},
    "all_at_once": {"aggression": "float"},
    "fixed_spread": {"depth": "float", "size": "float"},
    "avellaneda_stoikov": {"gamma": "float", "size": "float"},
    "fixed_action": {"action": "floats"},
}


def make_baseline(name: str, env, params, **args):
    """Build baseline ``name`` (one of `BASELINES`)."""
    if name not in BASELINES:
        raise ValueError(f"{name}: unknown replay baseline; known: {', '.join(BASELINES)}")
    unknown = set(args) - set(BASELINE_ARGS[name])
    if unknown:
        raise ValueError(f"{name}: unknown argument(s) {sorted(unknown)}")
    return BASELINES[name](env, params, **args)
