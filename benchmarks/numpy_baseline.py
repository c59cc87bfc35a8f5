"""The CPU baseline: `cartea_jaimungal_mm` as mbt_gym computes it, a Python loop over steps on
vectorised NumPy arrays (one row per trajectory), without mbt_gym's per-step object overhead.

Same model as the JAX environment: market orders arrive with probability lambda dt per side and
step, fill our quote with probability e^{-kappa delta}, within +-max_inventory; the mid moves after
the fills; reward = spread captured + Q dS - phi Q^2 dt, and -alpha Q_T^2 at the end.
Two styles:
- `"mbt_gym"`: as mbt_gym does it: an action array of depths per trajectory, separate uniform
  draws for arrivals and for fills, fill probabilities computed per trajectory, float64;
- `"lean"`: the leanest loop we could write: one uniform per side decides arrival and fill
  (U < lambda dt e^{-kappa delta}), the fill probability computed once, float32 draws.
Both are also independent implementations of the dynamics that the tests compare with the JAX env.
"""

from __future__ import annotations

import numpy as np

STYLES = ("mbt_gym", "lean")


def fixed_spread_returns(
    num_trajectories: int,
    half_spread: float,
    *,
    style: str = "mbt_gym",
    rate: float = 30.0,
    kappa: float = 100.0,
    sigma: float = 0.01,
    phi: float = 2e-4,
    alpha: float = 1e-4,
    max_inventory: float = 3.0,
    terminal_time: float = 1.0,
    num_steps: int = 300,
    seed: int = 0,
) -> np.ndarray:
    """Episode returns of the fixed-spread agent (depth `half_spread` both sides)."""
    if style not in STYLES:
        raise ValueError(f"style: unknown {style!r}; choose one of {STYLES}")
    rng = np.random.default_rng(seed)
    n = num_trajectories
    dt = terminal_time / num_steps
    inventory = np.zeros(n)
    total = np.zeros(n)
    depths = np.full((n, 2), half_spread)  # the agent's action, one row per trajectory
    lean_threshold = rate * dt * np.exp(-kappa * half_spread)
    for step in range(num_steps):
        if style == "mbt_gym":
            arrivals = rng.random((n, 2)) < rate * dt
            fill_probability = np.exp(-kappa * depths)
            fills = arrivals & (rng.random((n, 2)) < fill_probability)
            bid = fills[:, 0] & (inventory + 1 <= max_inventory)
            ask = fills[:, 1] & (inventory - 1 >= -max_inventory)
            d_mid = sigma * np.sqrt(dt) * rng.standard_normal(n)
        else:
            u = rng.random((2, n), dtype=np.float32)
            bid = (u[0] < lean_threshold) & (inventory + 1 <= max_inventory)
            ask = (u[1] < lean_threshold) & (inventory - 1 >= -max_inventory)
            d_mid = sigma * np.sqrt(dt) * rng.standard_normal(n, dtype=np.float32)
        bid_fill, ask_fill = bid.astype(np.float64), ask.astype(np.float64)
        inventory = inventory + bid_fill - ask_fill
        total += half_spread * (bid_fill + ask_fill) + inventory * d_mid - phi * inventory**2 * dt
        if step == num_steps - 1:
            total -= alpha * inventory**2
    return total
