"""The CPU baseline: `cartea_jaimungal_mm` as mbt_gym computes it, a Python loop over steps on
vectorised NumPy arrays (one row per trajectory), written lean (no per-step object overhead).

Same model as the JAX environment: per side one uniform decides arrival (U < lambda dt) and fill
(U < lambda dt e^{-kappa delta}); fills within +-max_inventory; mid moves after the fills; reward =
spread captured + Q dS - phi Q^2 dt, and -alpha Q_T^2 at the end. Also used by the tests as an
independent implementation of the dynamics.
"""

from __future__ import annotations

import numpy as np


def fixed_spread_returns(
    num_trajectories: int,
    half_spread: float,
    *,
    rate: float = 30.0,
    kappa: float = 100.0,
    sigma: float = 0.01,
    phi: float = 2e-4,
    alpha: float = 1e-4,
    max_inventory: float = 3.0,
    terminal_time: float = 1.0,
    num_steps: int = 300,
    seed: int = 0,
    dtype=np.float64,
) -> np.ndarray:
    """Episode returns of the fixed-spread agent (depth `half_spread` both sides).

    `dtype` of the random draws: float64 is NumPy's (and mbt_gym's) default; float32 is leaner."""
    rng = np.random.default_rng(seed)
    n = num_trajectories
    dt = terminal_time / num_steps
    fill_threshold = rate * dt * np.exp(-kappa * half_spread)
    arrival_threshold = rate * dt
    inventory = np.zeros(n)
    total = np.zeros(n)
    for step in range(num_steps):
        u = rng.random((2, n), dtype=dtype)
        bid = (
            (u[0] < fill_threshold) & (u[0] < arrival_threshold) & (inventory + 1 <= max_inventory)
        )
        ask = (
            (u[1] < fill_threshold) & (u[1] < arrival_threshold) & (inventory - 1 >= -max_inventory)
        )
        bid_fill, ask_fill = bid.astype(np.float64), ask.astype(np.float64)
        inventory = inventory + bid_fill - ask_fill
        d_mid = sigma * np.sqrt(dt) * rng.standard_normal(n, dtype=dtype)
        total += half_spread * (bid_fill + ask_fill) + inventory * d_mid - phi * inventory**2 * dt
        if step == num_steps - 1:
            total -= alpha * inventory**2
    return total
