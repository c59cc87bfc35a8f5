"""Optimal execution with linear price impact: CJP 2015 §6.5 and Almgren–Chriss 2001.

CJP §6.5 (continuous time): dQ = -ν dt, dS = -bν dt + σ dW, execution price S - kν, criterion
E[X_T + Q_T(S_T - αQ_T) - φ∫Q² du]. With γ = √(φ/k), a = α - b/2, c = √(kφ),
ζ = (a + c)/(a - c):

    Q*_t = N (ζ e^{γτ} - e^{-γτ}) / (ζ e^{γT} - e^{-γT}),  ν*_t = γN (ζ e^{γτ} + e^{-γτ}) / (ζ e^{γT} - e^{-γT}),

τ = T - t. Dividing the two gives the feedback form ν = g(τ) Q with
g(τ) = γ ((a+c) e^{2γτ} + (a-c)) / ((a+c) e^{2γτ} - (a-c)), which is what a policy should use: it
reacts to the inventory actually held and has the sign of Q, so a buy programme (Q < 0) buys.
It is written with (a ± c) rather than ζ so that a = c (ζ infinite) is harmless; φ = 0 is the limit
g(τ) = a / (aτ + k) (TWAP, 1/τ, when α -> ∞).

Almgren–Chriss (discrete, N periods of length τ): with η̃ = η - γτ/2 and κ from
(2/τ²)(cosh κτ - 1) = λσ²/η̃, holdings x_j = X sinh(κ(T - t_j)) / sinh(κT); a trajectory's expected
cost is ½γX² + ε Σ|n_j| + (η̃/τ) Σ n_j² and its variance σ² τ Σ x_j².
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class LinearImpactProblem:
    """CJP §6.5 parameters (N > 0 sells, N < 0 buys)."""

    shares: float  # N = Q_0
    terminal_time: float
    temporary: float  # k
    permanent: float  # b
    phi: float
    alpha: float

    def __post_init__(self):
        if self.temporary <= 0:
            raise ValueError(f"temporary impact k must be > 0, got {self.temporary}")
        if self.phi < 0:
            raise ValueError(f"phi must be >= 0, got {self.phi}")
        if self.alpha - self.permanent / 2 + np.sqrt(self.temporary * self.phi) <= 0:
            raise ValueError("need alpha - b/2 + sqrt(k phi) > 0 for a finite optimal strategy")


def _gamma(p: LinearImpactProblem) -> float:
    return float(np.sqrt(p.phi / p.temporary))


def feedback_rate(p: LinearImpactProblem, time_to_go):
    """g(τ) with ν* = g(τ) Q: selling speed per unit of inventory held, τ = T - t > 0."""
    tau = np.asarray(time_to_go, dtype=np.float64)
    a = p.alpha - p.permanent / 2.0
    if p.phi == 0.0:
        return a / (a * tau + p.temporary)
    g = _gamma(p)
    c = np.sqrt(p.temporary * p.phi)
    grow = np.exp(-2.0 * g * tau)  # divide through by e^{2γτ} to stay finite for long horizons
    return g * ((a + c) + (a - c) * grow) / ((a + c) - (a - c) * grow)


def _flows(p: LinearImpactProblem, t):
    """(e^{γτ}-weighted numerators) shared by the inventory and speed formulas."""
    g = _gamma(p)
    a = p.alpha - p.permanent / 2.0
    c = np.sqrt(p.temporary * p.phi)
    tau = p.terminal_time - np.asarray(t, dtype=np.float64)
    big = (a + c) * np.exp(g * tau)
    small = (a - c) * np.exp(-g * tau)
    denom = (a + c) * np.exp(g * p.terminal_time) - (a - c) * np.exp(-g * p.terminal_time)
    return g, big, small, denom


def optimal_inventory(p: LinearImpactProblem, t):
    """Q*_t; for φ = 0 the limit Q_t = N (a(T - t) + k) / (aT + k), a constant speed."""
    if p.phi == 0.0:
        a = p.alpha - p.permanent / 2.0
        tau = p.terminal_time - np.asarray(t, dtype=np.float64)
        return p.shares * (a * tau + p.temporary) / (a * p.terminal_time + p.temporary)
    _, big, small, denom = _flows(p, t)
    return p.shares * (big - small) / denom


def optimal_speed(p: LinearImpactProblem, t):
    """ν*_t (positive sells)."""
    if p.phi == 0.0:
        a = p.alpha - p.permanent / 2.0
        return (
            p.shares * a / (a * p.terminal_time + p.temporary) * np.ones_like(np.asarray(t, float))
        )
    g, big, small, denom = _flows(p, t)
    return g * p.shares * (big + small) / denom


@dataclasses.dataclass(frozen=True)
class AlmgrenChrissProblem:
    shares: float  # X
    sigma: float  # $/share/period^½
    horizon: float  # T
    periods: int  # N
    fixed_cost: float  # ε
    permanent: float  # γ
    temporary: float  # η
    risk_aversion: float  # λ

    @property
    def tau(self) -> float:
        return self.horizon / self.periods

    @property
    def eta_tilde(self) -> float:
        return self.temporary - self.permanent * self.tau / 2.0


def almgren_chriss_kappa(p: AlmgrenChrissProblem) -> float:
    """κ solving (2/τ²)(cosh κτ - 1) = λσ²/η̃."""
    return float(
        np.arccosh(1.0 + p.risk_aversion * p.sigma**2 * p.tau**2 / (2.0 * p.eta_tilde)) / p.tau
    )


def almgren_chriss_holdings(p: AlmgrenChrissProblem) -> np.ndarray:
    """x_j at t_j = jτ, j = 0..N (x_0 = X, x_N = 0)."""
    k = almgren_chriss_kappa(p)
    t = np.arange(p.periods + 1) * p.tau
    if k == 0.0:
        return p.shares * (1.0 - t / p.horizon)
    return p.shares * np.sinh(k * (p.horizon - t)) / np.sinh(k * p.horizon)


def twap_holdings(p: AlmgrenChrissProblem) -> np.ndarray:
    return p.shares * (1.0 - np.arange(p.periods + 1) / p.periods)


def trajectory_cost(p: AlmgrenChrissProblem, holdings) -> tuple[float, float]:
    """(expected cost, standard deviation of cost) of a holdings trajectory x_0..x_N."""
    x = np.asarray(holdings, dtype=np.float64)
    n = x[:-1] - x[1:]
    expected = (
        0.5 * p.permanent * p.shares**2
        + p.fixed_cost * np.abs(n).sum()
        + p.eta_tilde / p.tau * (n**2).sum()
    )
    variance = p.sigma**2 * p.tau * (x[1:] ** 2).sum()
    return float(expected), float(np.sqrt(variance))
