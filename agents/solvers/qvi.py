"""Limit plus market orders (CJP 2015 §8.4): the quasi-variational inequality by finite differences.

With market orders (one unit, paying the half-spread ξ against the mid) the value h(t, q) solves

    max{ ∂_t h - φq² + λ⁺ H(h(q-1) - h(q)) + λ⁻ H(h(q+1) - h(q)),
         h(q-1) - ξ - h(q)   [sell market order],   h(q+1) - ξ - h(q)   [buy market order] } = 0,

H(Δ) = sup_{δ >= δ_min} e^{-κδ}(δ + Δ), h(T, q) given. There is no closed form. The scheme marches
backward on a (t, q) grid: a classical fourth-order Runge–Kutta step of the limit-order equation
(the q-direction is already discrete), then the projection h(q) <- max(h(q), h(q-1) - ξ) swept
upward in q (a chain of market orders is allowed) and h(q) <- max(h(q), h(q+1) - ξ) swept downward.
Where the projection never binds (ξ large) this is the matrix-exponential solution to RK4 accuracy;
where it binds, the operator splitting is first order in the time step.

An explicit scheme needs dt · (fill rate at the optimal depth) small; the solver checks this at
every step and raises with the number of substeps to use instead of returning garbage.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from agents.solvers.limit_order_hjb import LimitOrderProblem, depths_from_value


@dataclasses.dataclass(frozen=True)
class MarketOrderOptions:
    """Which market orders are allowed and what one costs per unit (ξ, the half-spread)."""

    cost: float = 0.0
    allow_sell: bool = True
    allow_buy: bool = False


@dataclasses.dataclass(frozen=True)
class QVISolution:
    """Values and decisions on the output grid t_n = n T / N, n = 0..N (levels q_min..q_max)."""

    problem: LimitOrderProblem
    times: np.ndarray
    h: np.ndarray  # (N + 1, levels)
    bid_depth: np.ndarray  # +inf where no bid may rest
    ask_depth: np.ndarray
    sell_market_order: np.ndarray  # bool (N + 1, levels): the sell-MO constraint binds
    buy_market_order: np.ndarray
    post_bid: np.ndarray  # bool (N + 1, levels): a quote there is worth posting
    post_ask: np.ndarray
    substeps: int


def _hamiltonian(delta_value: np.ndarray, kappa: float, bounds):
    """(H(Δ), δ*) for H(Δ) = sup_{lo <= δ <= hi} e^{-κδ}(δ + Δ) (the objective is unimodal in δ,
    so the constrained optimum is the free one, 1/κ - Δ, clipped)."""
    depth = 1.0 / kappa - delta_value
    lo, hi = bounds
    if lo is not None or hi is not None:
        depth = np.clip(depth, lo, hi)
    return np.exp(-kappa * depth) * (depth + delta_value), depth


def _side(delta_value, p: LimitOrderProblem, bounds, touch: float | None):
    """(H(Δ), fill probability per arrival at the optimum) for one side.

    Limit orders: H(Δ) = sup_δ e^{-κδ}(δ + Δ). At the touch (half-spread ξ, every arrival fills a
    posted quote): H(Δ) = max(0, ξ + Δ), post iff ξ + Δ > 0.
    """
    if touch is None:
        ham, depth = _hamiltonian(delta_value, p.kappa, bounds)
        return ham, np.exp(-p.kappa * depth)
    gain = touch + delta_value
    return np.maximum(gain, 0.0), (gain > 0).astype(np.float64)


def _drift(h: np.ndarray, p: LimitOrderProblem, bounds, bid_mask, ask_mask, penalty, touch=None):
    """-∂_t h of the limit-order (or at-the-touch) equation, and the largest fill rate (for the
    stability check)."""
    out = -penalty.copy()
    rate = 0.0
    if p.rate_ask > 0 and ask_mask.any():
        ham, fill = _side(h[:-1] - h[1:], p, bounds, touch)
        out[1:] += np.where(ask_mask[1:], p.rate_ask * ham, 0.0)
        rate = max(rate, float(np.max(np.where(ask_mask[1:], p.rate_ask * fill, 0.0))))
    if p.rate_bid > 0 and bid_mask.any():
        ham, fill = _side(h[1:] - h[:-1], p, bounds, touch)
        out[:-1] += np.where(bid_mask[:-1], p.rate_bid * ham, 0.0)
        rate = max(rate, float(np.max(np.where(bid_mask[:-1], p.rate_bid * fill, 0.0))))
    return out, rate


def _project(h: np.ndarray, options: MarketOrderOptions):
    """Impose h(q) >= h(q-1) - ξ (upward sweep) and h(q) >= h(q+1) - ξ (downward sweep).

    A sweep is a running maximum: h(q) = max_{j <= q} (h(j) - (q - j) ξ) for the upward one. After
    both sweeps both constraints hold (ξ >= 0), so a chain of market orders is one projection.
    """
    index = np.arange(h.size, dtype=np.float64) * options.cost
    sell = np.zeros(h.shape, dtype=bool)
    buy = np.zeros(h.shape, dtype=bool)
    if options.allow_sell:
        shifted = h + index
        running = np.maximum.accumulate(shifted)
        sell = running > shifted  # compared where shifted, so no rounding can flag a tie
        h = np.where(sell, running - index, h)
    if options.allow_buy:
        shifted = h - index
        running = np.maximum.accumulate(shifted[::-1])[::-1]
        buy = running > shifted
        sell = sell & ~buy
        h = np.where(buy, running + index, h)
    return h, sell, buy


def solve(
    problem: LimitOrderProblem,
    num_steps: int,
    market_orders: MarketOrderOptions | None = None,
    substeps: int | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
    touch: float | None = None,
    max_rate_dt: float = 0.5,
) -> QVISolution:
    """Backward scheme with `substeps` RK4 steps per output step (default: chosen from the rates).

    `market_orders=None` solves the limit-order equation alone (no projection). `min_depth` and
    `max_depth` restrict depths to an environment's action space; None leaves them free, as the
    closed forms do. `touch=ξ` solves the at-the-touch problem instead (CJP §10.2.2): quotes rest
    at the best prices, half-spread ξ from the mid, and every arrival fills a posted quote; then
    `post_bid`/`post_ask` say where to post and the depth fields are not meaningful.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    dt_out = problem.terminal_time / num_steps
    if substeps is None:
        # A fill rate of eλ (a depth of -1/κ) is a safe first guess; the check below catches worse.
        guess = max(problem.rate_ask, problem.rate_bid, 1.0) * math.e
        substeps = max(1, math.ceil(dt_out * guess / (0.25 * max_rate_dt)))
    dt = dt_out / substeps
    bid_mask = problem.can_bid()
    ask_mask = problem.can_ask()
    penalty = problem.phi * problem.inventories**2
    options = market_orders or MarketOrderOptions(allow_sell=False, allow_buy=False)

    levels = problem.num_levels
    h_out = np.empty((num_steps + 1, levels))
    sell_out = np.zeros((num_steps + 1, levels), dtype=bool)
    buy_out = np.zeros((num_steps + 1, levels), dtype=bool)
    h, sell, buy = _project(problem.terminal_value.astype(np.float64), options)
    h_out[num_steps], sell_out[num_steps], buy_out[num_steps] = h, sell, buy

    def drift(values):
        out, rate = _drift(
            values, problem, (min_depth, max_depth), bid_mask, ask_mask, penalty, touch
        )
        if rate * dt > max_rate_dt:
            needed = math.ceil(rate * dt_out / (0.5 * max_rate_dt))
            raise ValueError(
                f"qvi.solve: fill rate {rate:.4g} times step {dt:.4g} exceeds {max_rate_dt};"
                f" use substeps >= {needed}"
            )
        return out

    for n in range(num_steps - 1, -1, -1):
        for _ in range(substeps):
            # Backward in time: h(t - dt) = h(t) + dt * F(h), F = -∂_t h.
            k1 = drift(h)
            k2 = drift(h + 0.5 * dt * k1)
            k3 = drift(h + 0.5 * dt * k2)
            k4 = drift(h + dt * k3)
            h = h + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            h, sell, buy = _project(h, options)
        h_out[n], sell_out[n], buy_out[n] = h, sell, buy

    bid, ask = depths_from_value(problem, h_out)
    if min_depth is not None or max_depth is not None:
        barred_bid, barred_ask = np.isinf(bid), np.isinf(ask)
        bid = np.where(barred_bid, bid, np.clip(bid, min_depth, max_depth))
        ask = np.where(barred_ask, ask, np.clip(ask, min_depth, max_depth))
    if touch is None:
        post_bid, post_ask = np.isfinite(bid), np.isfinite(ask)
    else:
        post_bid = np.zeros(h_out.shape, bool)
        post_ask = np.zeros(h_out.shape, bool)
        post_bid[:, :-1] = touch + h_out[:, 1:] - h_out[:, :-1] > 0
        post_ask[:, 1:] = touch + h_out[:, :-1] - h_out[:, 1:] > 0
        post_bid &= bid_mask
        post_ask &= ask_mask
    times = np.arange(num_steps + 1) * dt_out
    return QVISolution(
        problem, times, h_out, bid, ask, sell_out, buy_out, post_bid, post_ask, substeps
    )
