"""Read the numbers an agent needs from an environment's params, with one-line errors when absent.

Agents are built on the host from concrete params (their tables are precomputed once), so these
helpers return Python floats. Per-side arrays are [bid, ask]: rate[0] = λ⁻ (sell market orders that
hit our bid), rate[1] = λ⁺ (buy market orders that lift our ask).
"""

from __future__ import annotations

import numpy as np

from envs.model_based.arrivals import HawkesParams, PoissonParams
from envs.model_based.fills import ExponentialFillParams


def _scalar(value, name: str) -> float:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != ():
        raise ValueError(f"{name}: expected a scalar, got shape {array.shape}")
    return float(array)


def field(params, path: str, agent: str) -> float:
    """params.<path> as a float, or a ValueError naming the agent and the missing field."""
    value = params
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            raise ValueError(f"{agent}: this environment has no params.{path}")
    return _scalar(value, path)


def arrival_rates(params, agent: str) -> tuple[float, float]:
    """(λ⁻, λ⁺): Poisson rates, or a Hawkes process's stationary mean intensity."""
    arrivals = getattr(params, "arrivals", None)
    if isinstance(arrivals, PoissonParams):
        rate = arrivals.rate
    elif isinstance(arrivals, HawkesParams):
        branching = (float(arrivals.self_excitation) + float(arrivals.cross_excitation)) / float(
            arrivals.decay
        )
        rate = np.asarray(arrivals.baseline_rate, np.float64) / (1.0 - branching)
    else:
        raise ValueError(f"{agent}: needs market-order arrival rates (params.arrivals.rate)")
    rate = np.broadcast_to(np.asarray(rate, np.float64), (2,))
    return float(rate[0]), float(rate[1])


def fill_kappa(params, agent: str) -> float:
    """κ of an exponential fill probability e^{-κδ} (the market's fill model must be one)."""
    fill = getattr(params, "fill", None)
    if not isinstance(fill, ExponentialFillParams):
        raise ValueError(f"{agent}: needs an exponential fill model (params.fill.kappa)")
    return _scalar(fill.kappa, "fill.kappa")


def time_grid(params) -> tuple[float, int, float]:
    """(T, number of steps, dt)."""
    terminal_time = _scalar(params.terminal_time, "terminal_time")
    steps = int(params.max_steps_in_episode)
    return terminal_time, steps, terminal_time / steps


def inventory_bound(params, agent: str, cap: int | None) -> int:
    """The agent's inventory grid half-width: max_inventory, or `cap` when that is smaller."""
    q = field(params, "max_inventory", agent)
    if not float(q).is_integer() or q < 1:
        raise ValueError(f"{agent}: max_inventory must be a positive integer, got {q}")
    q = int(q)
    return q if cap is None else max(1, min(q, int(cap)))
