"""Exact limit-order HJB solutions by matrix exponential (Cartea–Jaimungal–Penalva 2015, §10.2, ch. 8).

With exponential fill probabilities e^{-κδ} and Poisson market orders, the HJB equation of a trader
who posts limit orders and pays a running inventory penalty φq² linearises under h = (1/κ) ln ω:

    ∂_t ω + A ω = 0,   ω(T, q) = exp(κ h_T(q)),

where A is tridiagonal over the inventory grid q_min..q_max: A_qq = -φκq², λ⁺e^{-1} on ω(q-1) (our
ask is lifted by a buy market order) and λ⁻e^{-1} on ω(q+1) (our bid is hit by a sell market order).
A side that is not allowed (at an inventory bound, or by choice) drops its term. Then

    h(t) = (1/κ) ln(exp(A (T-t)) ω_T),   δ⁺*(t,q) = 1/κ + h(t,q) - h(t,q-1),
                                          δ⁻*(t,q) = 1/κ + h(t,q) - h(t,q+1).

Market making (§10.2) is the two-sided case on [-Q, Q]; limit-order liquidation (ch. 8) is the
ask-only case on [0, N]. Everything here is float64 NumPy/SciPy: h(0,0) ~ 70 needs ~1e-7 relative
accuracy that float32 does not have; policies store float32 tables built from these.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg


@dataclasses.dataclass(frozen=True)
class LimitOrderProblem:
    """Model and criterion of a limit-order trader (per-side arrays are [bid, ask]).

    `terminal_value[i]` is h(T, q_min + i), e.g. -α q² (terminal inventory penalty) or -q(ξ + αq)
    (liquidation by market order at the end).
    """

    rate_bid: float  # λ⁻: sell market orders that can hit our bid (q -> q + 1)
    rate_ask: float  # λ⁺: buy market orders that can lift our ask (q -> q - 1)
    kappa: float  # fill probability e^{-κ δ}
    phi: float  # running inventory penalty φ q²
    terminal_time: float
    q_min: int
    q_max: int
    terminal_value: np.ndarray
    allow_bid: bool = True
    allow_ask: bool = True

    def __post_init__(self):
        if self.q_max < self.q_min:
            raise ValueError(f"q_max={self.q_max} must be >= q_min={self.q_min}")
        if not self.kappa > 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if self.rate_bid < 0 or self.rate_ask < 0:
            raise ValueError(f"arrival rates must be >= 0, got {self.rate_bid}, {self.rate_ask}")
        if self.terminal_time <= 0:
            raise ValueError(f"terminal_time must be > 0, got {self.terminal_time}")
        value = np.asarray(self.terminal_value, dtype=np.float64)
        if value.shape != (self.num_levels,):
            raise ValueError(
                f"terminal_value must have shape ({self.num_levels},), got {value.shape}"
            )
        object.__setattr__(self, "terminal_value", value)

    @property
    def num_levels(self) -> int:
        return self.q_max - self.q_min + 1

    @property
    def inventories(self) -> np.ndarray:
        return np.arange(self.q_min, self.q_max + 1, dtype=np.float64)

    def can_bid(self) -> np.ndarray:
        """Whether a bid may rest at each inventory (a fill must not breach q_max)."""
        return np.asarray(self.allow_bid) & (self.inventories < self.q_max)

    def can_ask(self) -> np.ndarray:
        return np.asarray(self.allow_ask) & (self.inventories > self.q_min)


def quadratic_terminal(q_min: int, q_max: int, alpha: float, cost_per_share: float = 0.0):
    """h(T, q) = -q (ξ + α q) for ξ >= 0 charged on |q|: -α q² - ξ|q| (ξ = 0: the §10.2 penalty)."""
    q = np.arange(q_min, q_max + 1, dtype=np.float64)
    return -alpha * q**2 - cost_per_share * np.abs(q)


def generator(problem: LimitOrderProblem) -> np.ndarray:
    """The matrix A of ∂_t ω + A ω = 0 (a Metzler matrix, so exp(Aτ) keeps ω positive)."""
    q = problem.inventories
    n = problem.num_levels
    a = np.diag(-problem.phi * problem.kappa * q**2)
    ask_coef = problem.rate_ask * np.exp(-1.0) * problem.can_ask()
    bid_coef = problem.rate_bid * np.exp(-1.0) * problem.can_bid()
    idx = np.arange(n)
    a[idx[1:], idx[1:] - 1] = ask_coef[1:]  # row q couples to q - 1 through our ask
    a[idx[:-1], idx[:-1] + 1] = bid_coef[:-1]  # row q couples to q + 1 through our bid
    return a


@dataclasses.dataclass(frozen=True)
class LimitOrderSolution:
    """h on the uniform grid t_n = n T / N (n = 0..N) and the optimal depths there.

    Depths are +inf where a side may not quote. Depths are unconstrained (they may be negative far
    from zero inventory, as in CJP); a policy clips them to the action space.
    """

    problem: LimitOrderProblem
    times: np.ndarray  # (N + 1,)
    h: np.ndarray  # (N + 1, levels)
    bid_depth: np.ndarray  # (N + 1, levels)
    ask_depth: np.ndarray  # (N + 1, levels)

    def value(self, t: float, q: int) -> float:
        """h(t, q) exactly (a fresh matrix exponential; not restricted to the grid)."""
        return float(value_at(self.problem, t)[int(q) - self.problem.q_min])


def depths_from_value(problem: LimitOrderProblem, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """δ⁻* = 1/κ + h(q) - h(q+1), δ⁺* = 1/κ + h(q) - h(q-1); +inf where the side may not quote."""
    h = np.asarray(h, dtype=np.float64)
    inv_kappa = 1.0 / problem.kappa
    bid = np.full_like(h, np.inf)
    ask = np.full_like(h, np.inf)
    bid[..., :-1] = inv_kappa + h[..., :-1] - h[..., 1:]
    ask[..., 1:] = inv_kappa + h[..., 1:] - h[..., :-1]
    bid = np.where(problem.can_bid(), bid, np.inf)
    ask = np.where(problem.can_ask(), ask, np.inf)
    return bid, ask


def value_at(problem: LimitOrderProblem, t: float) -> np.ndarray:
    """h(t, ·) = (1/κ) ln(exp(A (T - t)) ω_T) in float64, computed with a log-scaled ω_T."""
    tau = problem.terminal_time - float(t)
    if tau < 0:
        raise ValueError(f"t={t} is after terminal_time={problem.terminal_time}")
    log_omega_terminal = problem.kappa * problem.terminal_value
    shift = log_omega_terminal.max()
    omega = scipy.linalg.expm(generator(problem) * tau) @ np.exp(log_omega_terminal - shift)
    return (np.log(omega) + shift) / problem.kappa


def solve(problem: LimitOrderProblem, num_steps: int) -> LimitOrderSolution:
    """h and depths on t_n = n T / num_steps, by repeated exact propagation ω_n = exp(A dt) ω_{n+1}.

    ω is renormalised every step (its log scale carried separately) so that long horizons and large
    rates cannot overflow.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    dt = problem.terminal_time / num_steps
    step = scipy.linalg.expm(generator(problem) * dt)
    log_omega = problem.kappa * problem.terminal_value
    scale = log_omega.max()
    omega = np.exp(log_omega - scale)
    h = np.empty((num_steps + 1, problem.num_levels))
    h[num_steps] = problem.terminal_value
    for n in range(num_steps - 1, -1, -1):
        omega = step @ omega
        top = omega.max()
        omega = omega / top
        scale += np.log(top)
        h[n] = (np.log(omega) + scale) / problem.kappa
    bid, ask = depths_from_value(problem, h)
    times = np.arange(num_steps + 1) * dt
    return LimitOrderSolution(problem, times, h, bid, ask)


def market_making_problem(
    rate_bid: float,
    rate_ask: float,
    kappa: float,
    phi: float,
    alpha: float,
    terminal_time: float,
    max_inventory: int,
) -> LimitOrderProblem:
    """CJP §10.2: two-sided limit orders on [-Q, Q], running penalty φq², terminal -αq²."""
    q = int(max_inventory)
    return LimitOrderProblem(
        rate_bid=rate_bid,
        rate_ask=rate_ask,
        kappa=kappa,
        phi=phi,
        terminal_time=terminal_time,
        q_min=-q,
        q_max=q,
        terminal_value=quadratic_terminal(-q, q, alpha),
    )


def liquidation_problem(
    rate: float,
    kappa: float,
    phi: float,
    alpha: float,
    terminal_time: float,
    shares: int,
    cost_per_share: float = 0.0,
) -> LimitOrderProblem:
    """CJP ch. 8: liquidate `shares` (> 0) with sell limit orders only, on q in [0, shares].

    Terminal value -q(ξ + αq): what is left is sold by market order at a cost ξ per share plus a
    penalty αq² (ξ = 0 gives the running-penalty presets' -αq²). A buy programme (shares < 0) is the
    mirror image: bids only on [shares, 0].
    """
    n = int(shares)
    if n == 0:
        raise ValueError("shares must be nonzero")
    lo, hi = (0, n) if n > 0 else (n, 0)
    return LimitOrderProblem(
        rate_bid=rate,
        rate_ask=rate,
        kappa=kappa,
        phi=phi,
        terminal_time=terminal_time,
        q_min=lo,
        q_max=hi,
        terminal_value=quadratic_terminal(lo, hi, alpha, cost_per_share),
        allow_bid=n < 0,
        allow_ask=n > 0,
    )
