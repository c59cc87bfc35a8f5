"""CJP 2015 §10.2 / ch. 8 by matrix exponential, and the §8.4 finite-difference QVI solver.

Oracles: ORACLES.md (CJP §10.2 table, φ = α = 0 limit), closed forms derived independently below,
and invariants (mirror symmetry, monotonicity in the controls allowed).
"""

import math

import numpy as np
import pytest
import scipy.linalg

from agents.solvers import limit_order_hjb as hjb
from agents.solvers import qvi

# (λ±, κ, T) -> (h(0,0), δ±(0,0), δ⁺(0,5), δ⁻(0,5)); φ = 0.01, α = 0.001, q in [-100, 100].
CJP_TABLE = [
    ((140, 1.5, 1), (68.255835, 0.672137, 0.617442, 0.726824)),
    ((100, 1.0, 1), (73.225863, 1.007188, 0.935317, 1.079052)),
    ((50, 2.0, 1), (18.219291, 0.507200, 0.435231, 0.579142)),
    ((50, 2.0, 2), (36.326074, 0.508190, 0.426352, 0.589975)),
]


@pytest.mark.parametrize("model, expected", CJP_TABLE)
def test_cjp_market_making_matches_published_table(model, expected):
    rate, kappa, horizon = model
    problem = hjb.market_making_problem(rate, rate, kappa, 0.01, 0.001, horizon, 100)
    h0 = hjb.value_at(problem, 0.0)
    bid, ask = hjb.depths_from_value(problem, h0)
    zero, five = 100, 105
    h00, d00, ask5, bid5 = expected
    assert h0[zero] == pytest.approx(h00, abs=1e-5)
    assert ask[zero] == pytest.approx(d00, abs=1e-5)
    assert bid[zero] == pytest.approx(d00, abs=1e-5)
    assert ask[five] == pytest.approx(ask5, abs=1e-5)
    assert bid[five] == pytest.approx(bid5, abs=1e-5)
    # The time-stepped table agrees with the one-shot exponential.
    solution = hjb.solve(problem, 50)
    assert solution.h[0, zero] == pytest.approx(h00, abs=1e-5)
    assert solution.ask_depth[0, five] == pytest.approx(ask5, abs=1e-5)


def test_no_penalty_limit_is_constant_depth_and_linear_value():
    problem = hjb.market_making_problem(140, 140, 1.5, 0.0, 0.0, 1.0, 100)
    solution = hjb.solve(problem, 20)
    assert solution.h[0, 100] == pytest.approx(2 * 140 / (np.e * 1.5), abs=1e-5)
    assert solution.h[0, 100] == pytest.approx(68.670829, abs=1e-5)
    # Away from the inventory bounds, δ = 1/κ.
    inner = slice(80, 121)  # |q| <= 20: the bounds at ±100 are out of reach (~8 sd)
    np.testing.assert_allclose(solution.ask_depth[:, inner], 1 / 1.5, atol=1e-9)
    np.testing.assert_allclose(solution.bid_depth[:, inner], 1 / 1.5, atol=1e-9)
    # h(t, 0) = 2λ(T - t)/(eκ): linear in time to go.
    np.testing.assert_allclose(
        solution.h[:, 100], 2 * 140 * (1 - solution.times) / (np.e * 1.5), atol=1e-8
    )


def test_asymmetric_rates_are_mirror_images():
    """Swapping λ⁻ and λ⁺ and reflecting q -> -q swaps the bid and ask depths."""
    a = hjb.solve(hjb.market_making_problem(30, 80, 2.0, 0.02, 0.01, 1.0, 10), 10)
    b = hjb.solve(hjb.market_making_problem(80, 30, 2.0, 0.02, 0.01, 1.0, 10), 10)
    np.testing.assert_allclose(a.h, b.h[:, ::-1], atol=1e-10)
    np.testing.assert_allclose(a.bid_depth, b.ask_depth[:, ::-1], atol=1e-10)
    # More buy orders (λ⁺ > λ⁻) lift our ask more often: the optimal quotes lean that way.
    zero = 10
    assert a.ask_depth[0, zero] > a.bid_depth[0, zero]


def test_inventory_bounds_bar_the_breaching_side():
    solution = hjb.solve(hjb.market_making_problem(50, 50, 2.0, 0.01, 0.001, 1.0, 3), 5)
    assert np.all(np.isinf(solution.bid_depth[:, -1]))  # no bid at q_max
    assert np.all(np.isinf(solution.ask_depth[:, 0]))  # no ask at q_min
    assert np.all(np.isfinite(solution.bid_depth[:, :-1]))


def test_long_horizon_does_not_overflow():
    """ω grows like e^{κ h}; the renormalised propagation stays finite where e^{κh} overflows."""
    problem = hjb.market_making_problem(500, 500, 10.0, 0.0, 0.0, 200.0, 5)
    solution = hjb.solve(problem, 200)
    assert np.all(np.isfinite(solution.h))
    assert solution.h[0, 5] * problem.kappa > 1000  # e^{κh} would overflow float64


def test_liquidation_closed_form_without_penalties():
    """Ask-only, φ = α = 0: ω_q(τ) = Σ_{j<=q} (λe^{-1}τ)^j / j!, so h(0, 1) = ln(1 + λτ/e)/κ."""
    rate, kappa, horizon = 50.0, 2.0, 1.5
    problem = hjb.liquidation_problem(rate, kappa, 0.0, 0.0, horizon, 4)
    h0 = hjb.value_at(problem, 0.0)
    x = rate * np.exp(-1) * horizon
    expected = [
        np.log(sum(x**j / math.factorial(j) for j in range(q + 1))) / kappa for q in range(5)
    ]
    np.testing.assert_allclose(h0, expected, rtol=1e-12, atol=1e-12)
    # Buy programme: the mirror image, bids only.
    buy = hjb.value_at(hjb.liquidation_problem(rate, kappa, 0.0, 0.0, horizon, -4), 0.0)
    np.testing.assert_allclose(buy[::-1], expected, rtol=1e-12, atol=1e-12)


def test_finite_differences_match_matrix_exponential_market_making():
    problem = hjb.market_making_problem(140, 140, 1.5, 0.01, 0.001, 1.0, 20)
    exact = hjb.solve(problem, 40)
    # Market orders allowed but dearer than any limit-order gain: the projection never binds.
    numeric = qvi.solve(
        problem, 40, qvi.MarketOrderOptions(cost=1e3, allow_sell=True, allow_buy=True)
    )
    assert not numeric.sell_market_order.any() and not numeric.buy_market_order.any()
    np.testing.assert_allclose(numeric.h, exact.h, atol=1e-6)
    np.testing.assert_allclose(numeric.ask_depth[:, 1:], exact.ask_depth[:, 1:], atol=1e-6)


def test_finite_differences_match_matrix_exponential_liquidation():
    # (α = 1e-3 keeps the free depths near zero; a stiffer terminal penalty drives them deeply
    # negative, which the matrix exponential shrugs off but an explicit scheme must not.)
    problem = hjb.liquidation_problem(50, 100.0, 1e-3, 1e-3, 1.0, 10)
    exact = hjb.solve(problem, 30)
    numeric = qvi.solve(problem, 30, qvi.MarketOrderOptions(cost=10.0))
    assert not numeric.sell_market_order.any()
    np.testing.assert_allclose(numeric.h, exact.h, atol=1e-9)


def test_market_orders_only_closed_form():
    """λ = 0: holding only costs, so sell k now and hold the rest:
    h(t, q) = max_k [-kξ - (φ(T - t) + α)(q - k)²] (a check of the projection alone)."""
    phi, alpha, cost = 0.5, 0.12, 0.3
    problem = hjb.liquidation_problem(0.0, 2.0, phi, alpha, 1.0, 10)
    solution = qvi.solve(problem, 50, qvi.MarketOrderOptions(cost=cost))
    for n in (0, 25, 49, 50):
        c = phi * (1 - solution.times[n]) + alpha
        expected = [max(-k * cost - c * (q - k) ** 2 for k in range(q + 1)) for q in range(11)]
        np.testing.assert_allclose(solution.h[n], expected, atol=1e-12)
        sells = [
            int(np.argmax([-k * cost - c * (q - k) ** 2 for k in range(q + 1)]) > 0)
            for q in range(11)
        ]
        np.testing.assert_array_equal(solution.sell_market_order[n], np.array(sells, bool))


@pytest.fixture(scope="module")
def execution_with_market_orders():
    problem = hjb.liquidation_problem(50, 100.0, 1e-2, 0.05, 1.0, 10)
    lo_only = hjb.solve(problem, 60)
    coarse = qvi.solve(problem, 60, qvi.MarketOrderOptions(cost=0.005), substeps=4)
    fine = qvi.solve(problem, 60, qvi.MarketOrderOptions(cost=0.005), substeps=16)
    finer = qvi.solve(problem, 60, qvi.MarketOrderOptions(cost=0.005), substeps=64)
    return problem, lo_only, coarse, fine, finer


def test_qvi_solution_satisfies_its_constraints(execution_with_market_orders):
    problem, lo_only, _, _, solution = execution_with_market_orders
    # Where market orders bind the scheme is exact in the constraint; elsewhere it is slack.
    gap = solution.h[:, :-1] - 0.005 - solution.h[:, 1:]
    assert np.all(gap <= 1e-12)
    binding = solution.sell_market_order[:, 1:]
    assert binding.any(), "this calibration should use market orders near T at large inventory"
    np.testing.assert_allclose(gap[binding], 0.0, atol=1e-12)
    # More controls never hurt: the QVI value dominates the limit-order-only value.
    assert np.all(solution.h >= lo_only.h - 1e-9)
    assert np.any(solution.h > lo_only.h + 1e-4)


def test_qvi_converges_as_the_time_step_shrinks(execution_with_market_orders):
    _, _, coarse, fine, finer = execution_with_market_orders
    d1 = np.max(np.abs(coarse.h - finer.h))
    d2 = np.max(np.abs(fine.h - finer.h))
    assert d2 < 0.5 * d1  # at least first order: 4x the steps, well under half the error
    assert d2 < 1e-3


def test_qvi_respects_depth_bounds():
    problem = hjb.market_making_problem(50, 50, 100.0, 1e-3, 0.01, 1.0, 10)
    solution = qvi.solve(
        problem,
        30,
        qvi.MarketOrderOptions(cost=0.005, allow_buy=True),
        min_depth=0.0,
        max_depth=0.046,
    )
    finite = np.isfinite(solution.ask_depth)
    assert np.all(solution.ask_depth[finite] >= 0.0) and np.all(solution.ask_depth[finite] <= 0.046)
    # Constrained controls cannot beat free ones.
    free = qvi.solve(problem, 30, qvi.MarketOrderOptions(cost=0.005, allow_buy=True))
    assert np.all(solution.h <= free.h + 1e-9)


def test_unstable_step_is_an_error_not_garbage():
    problem = hjb.market_making_problem(140, 140, 1.5, 0.01, 0.001, 1.0, 20)
    with pytest.raises(ValueError, match="substeps"):
        qvi.solve(problem, 1, substeps=1)


def test_bad_problems_are_rejected():
    with pytest.raises(ValueError, match="kappa"):
        hjb.market_making_problem(10, 10, 0.0, 0.0, 0.0, 1.0, 3)
    with pytest.raises(ValueError, match="terminal_value"):
        hjb.LimitOrderProblem(1, 1, 1, 0, 1, -1, 1, np.zeros(2))
    with pytest.raises(ValueError, match="shares"):
        hjb.liquidation_problem(1, 1, 0, 0, 1, 0)


def _touch_problem(phi, alpha, q_max, rate=30.0):
    return hjb.LimitOrderProblem(
        rate_bid=rate,
        rate_ask=rate,
        kappa=1.0,
        phi=phi,
        terminal_time=1.0,
        q_min=-q_max,
        q_max=q_max,
        terminal_value=hjb.quadratic_terminal(-q_max, q_max, alpha),
    )


def test_touch_without_penalty_always_posts():
    """φ = α = 0 at the touch: posting is free, so post always; away from the bounds
    h(t, q) = (λ⁺ + λ⁻) ξ (T - t)."""
    solution = qvi.solve(_touch_problem(0.0, 0.0, 60), 20, touch=0.005)
    inner = slice(40, 81)  # |q| <= 20
    expected = np.broadcast_to((60 * 0.005 * (1 - solution.times))[:, None], (21, 41))
    np.testing.assert_allclose(solution.h[:, inner], expected, atol=1e-10)
    assert solution.post_bid[:, :-1].all() and solution.post_ask[:, 1:].all()
    assert not solution.post_bid[:, -1].any() and not solution.post_ask[:, 0].any()


def test_touch_switches_off_the_side_that_adds_inventory():
    solution = qvi.solve(_touch_problem(0.05, 0.01, 3), 30, touch=0.005)
    zero = 3
    # Long inventory: stop buying, keep selling (and the mirror image when short).
    assert solution.post_ask[0, zero + 1] and not solution.post_bid[0, zero + 1]
    assert solution.post_bid[0, zero - 1] and not solution.post_ask[0, zero - 1]
    assert solution.post_bid[0, zero] and solution.post_ask[0, zero]
    np.testing.assert_allclose(solution.h, solution.h[:, ::-1], atol=1e-12)
    # Switching can only help: the value dominates always posting, whose value solves the linear
    # system dh/dτ = L h + c (computed here by an augmented matrix exponential).
    rate, xi, phi, alpha = 30.0, 0.005, 0.05, 0.01
    q = np.arange(-3, 4, dtype=float)
    can_bid, can_ask = q < 3, q > -3
    gen = np.diag(-rate * (can_bid + can_ask).astype(float))
    gen[np.arange(6), np.arange(1, 7)] = rate  # bid fill: q -> q + 1
    gen[np.arange(1, 7), np.arange(6)] = rate  # ask fill: q -> q - 1
    c = -phi * q**2 + rate * xi * (can_bid.astype(float) + can_ask)
    aug = np.zeros((8, 8))
    aug[:7, :7], aug[:7, 7] = gen, c
    always = (scipy.linalg.expm(aug) @ np.append(-alpha * q**2, 1.0))[:7]
    assert np.all(solution.h[0] >= always - 1e-9)
    assert solution.h[0, zero] > always[zero] + 0.05
