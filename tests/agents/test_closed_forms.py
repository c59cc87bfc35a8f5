"""Closed forms against ORACLES.md: Avellaneda–Stoikov spreads, GLFT (approximation and exact),
CJP §6.5 optimal execution, Almgren–Chriss holdings and costs."""

import numpy as np
import pytest

from agents.solvers import avellaneda_stoikov as as_formulas
from agents.solvers import execution


@pytest.mark.parametrize("gamma, spread", [(0.1, 1.49), (0.01, 1.35), (1.0, 3.02)])
def test_avellaneda_stoikov_average_spread_matches_table(gamma, spread):
    assert as_formulas.average_spread(gamma, 2.0, 1.5, 1.0) == pytest.approx(spread, abs=0.005)


def test_avellaneda_stoikov_quotes_centre_on_reservation_price():
    gamma, sigma, kappa, tau, q, s = 0.1, 2.0, 1.5, 0.4, 3.0, 100.0
    bid, ask = as_formulas.as_depths(q, gamma, sigma, kappa, tau)
    r = as_formulas.reservation_price(s, q, gamma, sigma, tau)
    assert r == pytest.approx(s - q * gamma * sigma**2 * tau)
    assert ((s - bid) + (s + ask)) / 2 == pytest.approx(r)
    assert bid + ask == pytest.approx(
        gamma * sigma**2 * tau + 2 / gamma * np.log(1 + gamma / kappa)
    )


def test_glft_approximation_matches_oracle():
    assert as_formulas.glft_constant_term(0.01, 0.3) == pytest.approx(3.278982, abs=1e-6)
    assert as_formulas.glft_root_term(0.01, 0.3, 0.3, 0.9) == pytest.approx(0.067866, abs=1e-6)
    bid, ask = as_formulas.glft_approximate_depths(np.arange(-2, 3), 0.01, 0.3, 0.3, 0.9)
    np.testing.assert_allclose(bid, [3.177184, 3.245049, 3.312915, 3.380781, 3.448647], atol=2e-6)
    assert bid[2] + ask[2] == pytest.approx(6.625830, abs=2e-6)
    np.testing.assert_allclose(ask, bid[::-1], atol=1e-12)  # symmetric in q -> -q


def test_glft_exact_solution_approaches_the_approximation():
    """Large bounds and horizon: the exact quotes near q = 0 converge to the closed form (which
    treats q as continuous, hence the remaining ~1e-3 difference)."""
    approx_bid, _ = as_formulas.glft_approximate_depths(np.arange(-2, 3), 0.01, 0.3, 0.3, 0.9)
    short = as_formulas.solve_glft(0.01, 0.3, 0.3, 0.9, 0.9, 30, 100.0, 4)
    long = as_formulas.solve_glft(0.01, 0.3, 0.3, 0.9, 0.9, 30, 2000.0, 4)
    err_short = np.max(np.abs(short.bid_depth[0, 28:33] - approx_bid))
    err_long = np.max(np.abs(long.bid_depth[0, 28:33] - approx_bid))
    assert err_long < 1e-3
    assert err_long < err_short
    assert long.bid_depth[0, 30] + long.ask_depth[0, 30] == pytest.approx(6.625830, abs=2e-3)
    # At T the exact quotes are the myopic ones: δ = (1/γ) ln(1 + γ/k) on both sides.
    np.testing.assert_allclose(long.bid_depth[-1, :-1], 3.278982, atol=1e-6)


def test_glft_exact_solution_reacts_to_inventory():
    sol = as_formulas.solve_glft(0.01, 0.3, 0.3, 0.9, 0.9, 10, 600.0, 6)
    assert np.all(np.diff(sol.bid_depth[0, :-1]) > 0)  # longer inventory: buy less eagerly
    assert np.all(np.diff(sol.ask_depth[0, 1:]) < 0)
    assert np.isinf(sol.bid_depth[0, -1]) and np.isinf(sol.ask_depth[0, 0])


@pytest.fixture
def cjp_example():
    return execution.LinearImpactProblem(
        shares=1.0, terminal_time=1.0, temporary=0.01, permanent=0.001, phi=0.01, alpha=100.0
    )


def test_cjp_execution_matches_oracle(cjp_example):
    speeds = execution.optimal_speed(cjp_example, np.array([0.0, 0.5]))
    np.testing.assert_allclose(speeds, [1.312963, 0.959436], atol=1e-6)
    assert execution.optimal_inventory(cjp_example, 0.5) == pytest.approx(0.443447, abs=1e-6)
    assert execution.optimal_inventory(cjp_example, 0.0) == pytest.approx(1.0, abs=1e-12)


def test_cjp_feedback_form_reproduces_the_open_loop_speed(cjp_example):
    t = np.linspace(0.0, 0.99, 12)
    feedback = execution.feedback_rate(cjp_example, 1.0 - t) * execution.optimal_inventory(
        cjp_example, t
    )
    np.testing.assert_allclose(feedback, execution.optimal_speed(cjp_example, t), rtol=1e-10)
    # Integrating the speed gives the inventory path: Q(0) - ∫ν = Q(t).
    grid = np.linspace(0.0, 0.5, 20001)
    sold = np.trapezoid(execution.optimal_speed(cjp_example, grid), grid)
    assert 1.0 - sold == pytest.approx(0.443447, abs=1e-6)


def test_cjp_buy_programme_buys(cjp_example):
    buy = execution.LinearImpactProblem(-1.0, 1.0, 0.01, 0.001, 0.01, 100.0)
    np.testing.assert_allclose(
        execution.optimal_speed(buy, [0.0, 0.5]), [-1.312963, -0.959436], atol=1e-6
    )
    assert execution.optimal_inventory(buy, 0.5) == pytest.approx(-0.443447, abs=1e-6)
    # The feedback rate is positive, so ν = g Q has the sign of the inventory held.
    assert np.all(execution.feedback_rate(buy, np.linspace(0.01, 1, 5)) > 0)


def test_cjp_limits():
    """φ -> 0 approaches the constant-speed limit; α -> ∞ with φ = 0 is TWAP (ν = Q/τ)."""
    small = execution.LinearImpactProblem(1.0, 1.0, 0.01, 0.0, 1e-10, 5.0)
    zero = execution.LinearImpactProblem(1.0, 1.0, 0.01, 0.0, 0.0, 5.0)
    t = np.array([0.0, 0.3, 0.9])
    np.testing.assert_allclose(
        execution.optimal_inventory(small, t), execution.optimal_inventory(zero, t), atol=1e-6
    )
    np.testing.assert_allclose(execution.optimal_speed(zero, t), 5.0 / (5.0 + 0.01), rtol=1e-12)
    twap = execution.LinearImpactProblem(1.0, 1.0, 0.01, 0.0, 0.0, 1e12)
    np.testing.assert_allclose(
        execution.feedback_rate(twap, [1.0, 0.5, 0.1]), [1, 2, 10], rtol=1e-9
    )


def test_cjp_rejects_unbounded_problem():
    with pytest.raises(ValueError, match="alpha"):
        execution.LinearImpactProblem(1.0, 1.0, 0.01, 1.0, 0.0, 0.1)


@pytest.fixture
def almgren_chriss():
    return execution.AlmgrenChrissProblem(
        shares=1e6,
        sigma=0.95,
        horizon=5.0,
        periods=5,
        fixed_cost=0.0625,
        permanent=2.5e-7,
        temporary=2.5e-6,
        risk_aversion=1e-6,
    )


def test_almgren_chriss_example(almgren_chriss):
    assert almgren_chriss.eta_tilde == pytest.approx(2.375e-6, rel=1e-12)
    assert execution.almgren_chriss_kappa(almgren_chriss) == pytest.approx(0.607076, abs=1e-6)
    holdings = execution.almgren_chriss_holdings(almgren_chriss)
    np.testing.assert_allclose(
        holdings, [1e6, 541955.6, 289854.2, 147897.5, 62141.8, 0.0], atol=0.06
    )
    cost, std = execution.trajectory_cost(almgren_chriss, holdings)
    assert cost == pytest.approx(911227, abs=1)
    assert std == pytest.approx(603431, abs=1)


def test_almgren_chriss_twap(almgren_chriss):
    cost, std = execution.trajectory_cost(almgren_chriss, execution.twap_holdings(almgren_chriss))
    assert cost == pytest.approx(662500, abs=0.5)
    assert std == pytest.approx(1040673, abs=1)


def test_almgren_chriss_optimum_minimises_the_criterion(almgren_chriss):
    """E + λV is smallest at the optimal trajectory among perturbed ones (an independent check)."""

    def criterion(x):
        cost, std = execution.trajectory_cost(almgren_chriss, x)
        return cost + almgren_chriss.risk_aversion * std**2

    best = execution.almgren_chriss_holdings(almgren_chriss)
    rng = np.random.default_rng(0)
    for _ in range(20):
        bumped = best.copy()
        bumped[1:-1] += rng.normal(0, 5000, 4)
        assert criterion(bumped) > criterion(best)
