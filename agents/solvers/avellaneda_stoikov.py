"""Avellaneda–Stoikov (2008) quotes and the Guéant–Lehalle–Fernandez-Tapia (2013) solution.

Model: dS = σ dW, a quote at depth δ is filled at rate A e^{-kδ}, CARA utility with risk aversion γ.

* AS 2008 (finite-horizon approximation): reservation price r = s - qγσ²(T-t), total spread
  γσ²(T-t) + (2/γ) ln(1 + γ/k) centred on r.
* GLFT 2013, exact with inventory bounds: u = -exp(-γ(x + qs + θ(t,q))), θ = (1/k) ln v, and v solves
  the linear system ∂_t v = M v, v(T) = 1 (or e^{-kℓ(q)}), with M tridiagonal:
  M_qq = ½kγσ²q², off-diagonal -A(1+γ/k)^{-(1+k/γ)}. Then
  δ_b(t,q) = (1/k) ln(v_q / v_{q+1}) + (1/γ) ln(1+γ/k),  δ_a(t,q) = (1/k) ln(v_q / v_{q-1}) + (1/γ) ln(1+γ/k).
* GLFT closed-form approximation (T -> ∞, continuous q):
  δ_b(q) ≈ c + (2q+1)/2 · r,  δ_a(q) ≈ c - (2q-1)/2 · r,  c = (1/γ) ln(1+γ/k),
  r = √(σ²γ/(2kA) (1+γ/k)^{1+k/γ}).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg


def reservation_price(mid, inventory, gamma, sigma, time_to_go):
    """AS 2008: r = s - q γ σ² (T - t)."""
    return mid - inventory * gamma * sigma**2 * time_to_go


def optimal_spread(gamma, sigma, kappa, time_to_go):
    """AS 2008 total spread: γσ²(T - t) + (2/γ) ln(1 + γ/k)."""
    return gamma * sigma**2 * time_to_go + (2.0 / gamma) * np.log1p(gamma / kappa)


def as_depths(inventory, gamma, sigma, kappa, time_to_go):
    """[bid depth, ask depth] from the mid for the AS 2008 quotes (may be negative for large |q|)."""
    half = 0.5 * optimal_spread(gamma, sigma, kappa, time_to_go)
    skew = inventory * gamma * sigma**2 * time_to_go  # mid - r
    return skew + half, half - skew


def average_spread(gamma, sigma, kappa, terminal_time):
    """Time average over [0, T] of the AS spread: the 'symmetric' strategy of the AS tables."""
    return gamma * sigma**2 * terminal_time / 2.0 + (2.0 / gamma) * np.log1p(gamma / kappa)


def glft_constant_term(gamma, kappa):
    """(1/γ) ln(1 + γ/k)."""
    return np.log1p(gamma / kappa) / gamma


def glft_root_term(gamma, sigma, kappa, intensity):
    """√(σ²γ/(2kA) (1+γ/k)^{1+k/γ})."""
    return np.sqrt(
        sigma**2
        * gamma
        / (2.0 * kappa * intensity)
        * (1.0 + gamma / kappa) ** (1.0 + kappa / gamma)
    )


def glft_approximate_depths(inventory, gamma, sigma, kappa, intensity):
    """GLFT closed-form approximation: ([bid depth], [ask depth]) at inventory q."""
    c = glft_constant_term(gamma, kappa)
    r = glft_root_term(gamma, sigma, kappa, intensity)
    q = np.asarray(inventory, dtype=np.float64)
    return c + (2 * q + 1) / 2 * r, c - (2 * q - 1) / 2 * r


@dataclasses.dataclass(frozen=True)
class GLFTSolution:
    """θ(t, q) and the optimal depths on t_n = n T / N, q in [-Q, Q]; +inf where a side is barred."""

    times: np.ndarray
    inventories: np.ndarray
    theta: np.ndarray  # (N + 1, levels)
    bid_depth: np.ndarray
    ask_depth: np.ndarray


def glft_matrix(gamma, sigma, kappa, intensity_bid, intensity_ask, max_inventory):
    """M of ∂_t v = M v (bid fills couple q to q + 1, ask fills to q - 1)."""
    q = np.arange(-max_inventory, max_inventory + 1, dtype=np.float64)
    factor = (1.0 + gamma / kappa) ** (-(1.0 + kappa / gamma))
    m = np.diag(0.5 * kappa * gamma * sigma**2 * q**2)
    idx = np.arange(q.size)
    m[idx[:-1], idx[:-1] + 1] = -intensity_bid * factor
    m[idx[1:], idx[1:] - 1] = -intensity_ask * factor
    return m


def solve_glft(
    gamma: float,
    sigma: float,
    kappa: float,
    intensity_bid: float,
    intensity_ask: float,
    max_inventory: int,
    terminal_time: float,
    num_steps: int,
    terminal_penalty: float = 0.0,
) -> GLFTSolution:
    """Exact GLFT quotes with |q| <= max_inventory, by v_n = exp(-M dt) v_{n+1} (renormalised).

    `terminal_penalty` b gives the terminal condition v(T, q) = exp(-k b q²) (liquidation penalty).
    """
    if num_steps < 1 or max_inventory < 1:
        raise ValueError("num_steps and max_inventory must be >= 1")
    q = np.arange(-max_inventory, max_inventory + 1, dtype=np.float64)
    dt = terminal_time / num_steps
    step = scipy.linalg.expm(
        -glft_matrix(gamma, sigma, kappa, intensity_bid, intensity_ask, max_inventory) * dt
    )
    log_v = -kappa * terminal_penalty * q**2
    scale = log_v.max()
    v = np.exp(log_v - scale)
    theta = np.empty((num_steps + 1, q.size))
    theta[num_steps] = log_v / kappa
    for n in range(num_steps - 1, -1, -1):
        v = step @ v
        top = v.max()
        v = v / top
        scale += np.log(top)
        theta[n] = (np.log(v) + scale) / kappa
    c = glft_constant_term(gamma, kappa)
    bid = np.full_like(theta, np.inf)
    ask = np.full_like(theta, np.inf)
    bid[:, :-1] = theta[:, :-1] - theta[:, 1:] + c
    ask[:, 1:] = theta[:, 1:] - theta[:, :-1] + c
    times = np.arange(num_steps + 1) * dt
    return GLFTSolution(times, q, theta, bid, ask)
