"""Monte Carlo checks of the optimal agents in the environments.

Statistical tolerances are stated in standard errors (se). Where the Monte Carlo mean is compared
with a continuous-time value, the gap also contains the O(dt) error of acting on a time grid; that
error is computed exactly (not estimated) by `policy_value` in conftest.py, a backward recursion
over the same discrete-time rules, so each test separates the two.
"""

import jax
import numpy as np
import pytest

import envs
from agents import evaluate_policy as evaluate
from agents import make_agent

# Avellaneda & Stoikov (2008), Table 1-3: (γ, symmetric) -> spread, profit mean/std, q_T mean/std.
AS_TABLE = [
    (0.1, False, 1.49, 65.0, 6.6, 0.08, 2.9),
    (0.1, True, 1.49, 68.4, 12.7, 0.26, 8.4),
    (0.01, False, 1.35, 68.6, 8.7, 0.12, 5.1),
    (0.01, True, 1.35, 68.8, 12.8, 0.09, 8.7),
    (1.0, False, 3.02, 31.4, 5.0, 0.02, 1.7),
    (1.0, True, 3.02, 44.0, 11.0, 0.00, 5.1),
]
AS_PATHS = 2000  # the paper used 1000; its own standard errors enter the comparison too
PAPER_PATHS = 1000


@pytest.mark.parametrize("gamma, symmetric, spread, mean, std, q_mean, q_std", AS_TABLE)
def test_avellaneda_stoikov_tables(gamma, symmetric, spread, mean, std, q_mean, q_std):
    """The paper's protocol: s=100, T=1, σ=2, dt=0.005, k=1.5, A=140, a fill with probability
    A e^{-kδ} dt per step, quotes through the mid allowed (the preset `avellaneda_stoikov`).
    Means within 4 combined se (ours and the paper's), standard deviations within 15 %, the mean
    spread within 1 % (the table rounds; we average over the 200 decision times)."""
    env, params = envs.make("avellaneda_stoikov")
    policy = make_agent("avellaneda_stoikov", env, params, gamma=gamma, symmetric=symmetric)
    result = evaluate(env, params, policy, AS_PATHS, jax.random.key(2008))
    profit, q_t = result["pnl"], result["terminal_inventory"]
    se_profit = np.hypot(profit["stderr"], std / np.sqrt(PAPER_PATHS))
    se_q = np.hypot(q_t["stderr"], q_std / np.sqrt(PAPER_PATHS))
    assert abs(profit["mean"] - mean) < 4 * se_profit
    assert profit["std"] == pytest.approx(std, rel=0.15)
    assert abs(q_t["mean"] - q_mean) < 4 * se_q
    assert q_t["std"] == pytest.approx(q_std, rel=0.15)
    assert result["mean_spread"]["mean"] == pytest.approx(spread, rel=0.01)


MM_EPISODES = 10_000
# Stated discretisation allowance for cartea_jaimungal_mm (300 steps, λdt = 0.1): |E[return] -
# h(0,0)| <= 0.3 dt. The exact discrete-time value computed below sits 0.19 dt above h(0,0).
MM_ALLOWANCE_PER_DT = 0.3


@pytest.fixture(scope="module")
def market_making():
    env, params = envs.make("cartea_jaimungal_mm")
    optimal = make_agent("cartea_jaimungal_mm", env, params)
    fixed = make_agent("fixed_spread", env, params)  # half-spread 1/κ
    key = jax.random.key(10)
    return (
        env,
        params,
        optimal,
        evaluate(env, params, optimal, MM_EPISODES, key),
        evaluate(env, params, fixed, MM_EPISODES, jax.random.fold_in(key, 1)),
    )


def test_optimal_market_maker_attains_its_value(market_making, exact_policy_value):
    env, params, optimal, result, _ = market_making
    h00 = float(optimal.value(0.0, 0))
    ret = result["return"]
    dt = 1.0 / int(params.max_steps_in_episode)
    # 1. The simulation against the exact mean of the same discrete-time policy: 4 se.
    exact = exact_policy_value(optimal, params)[0 - optimal.q_min]
    assert abs(ret["mean"] - exact) < 4 * ret["stderr"]
    # 2. Against the continuous-time value h(0,0): 4 se plus the stated allowance.
    assert abs(ret["mean"] - h00) < 4 * ret["stderr"] + MM_ALLOWANCE_PER_DT * dt
    assert abs(exact - h00) < MM_ALLOWANCE_PER_DT * dt


def test_optimal_market_maker_beats_fixed_spread(market_making):
    _, _, _, optimal, fixed = market_making
    gap = optimal["return"]["mean"] - fixed["return"]["mean"]
    se = np.hypot(optimal["return"]["stderr"], fixed["return"]["stderr"])
    assert gap > 8 * se
    # It earns that by managing inventory: the optimum ends flatter.
    assert optimal["abs_terminal_inventory"]["mean"] < fixed["abs_terminal_inventory"]["mean"]


def test_finer_time_grid_shrinks_the_gap_to_the_value(exact_policy_value):
    """O(dt): four times the steps, about a quarter of the gap (computed exactly, no noise)."""
    gaps = []
    for steps in (300, 1200):
        env, params = envs.make("cartea_jaimungal_mm", max_steps_in_episode=steps)
        policy = make_agent("cartea_jaimungal_mm", env, params)
        exact = exact_policy_value(policy, params)[0 - policy.q_min]
        gaps.append(abs(exact - float(policy.value(0.0, 0))))
    assert gaps[1] < 0.35 * gaps[0]


def test_limit_and_market_order_agent_attains_its_value(exact_policy_value):
    """CJP §8.4 on cj_execution_lo_mo (a liquidation: sell orders only): the QVI liquidator's Monte
    Carlo mean matches the exact discrete-time mean within 4 se and h(0, 10) within 4 se plus an
    allowance of 4 dt (λdt = 1/6 here, and the market-order projection is first order), and it
    liquidates. On the two-sided variant (execution_side=0) the two-sided QVI agent solves the
    environment's problem in continuous time: it attains its own value and beats the one-sided
    liquidator. (Neither is the optimum of the discrete steps: `discrete_optimal` is, see
    test_discrete_optimum.py.)"""
    key = jax.random.key(84)
    env, params = envs.make("cj_execution_lo_mo")
    textbook_agent = make_agent("limit_market_liquidation", env, params)
    textbook = evaluate(env, params, textbook_agent, 4000, key)
    ret = textbook["return"]
    exact = exact_policy_value(textbook_agent, params)[10 - textbook_agent.q_min]
    assert abs(ret["mean"] - exact) < 4 * ret["stderr"]
    dt = 1.0 / int(params.max_steps_in_episode)
    assert abs(ret["mean"] - float(textbook_agent.value(0.0, 10))) < 4 * ret["stderr"] + 4 * dt
    assert textbook["abs_terminal_inventory"]["mean"] < 1.0  # it does liquidate
    assert textbook["fills_bid"]["mean"] == 0.0 and textbook["market_orders_buy"]["mean"] == 0.0

    env2, params2 = envs.make("cj_execution_lo_mo", execution_side=0)
    optimal = make_agent("limit_market_liquidation", env2, params2, two_sided=True)
    result = evaluate(env2, params2, optimal, 4000, jax.random.fold_in(key, 1))
    two = result["return"]
    exact_two = exact_policy_value(optimal, params2)[10 - optimal.q_min]
    assert abs(two["mean"] - exact_two) < 4 * two["stderr"]
    assert abs(two["mean"] - float(optimal.value(0.0, 10))) < 4 * two["stderr"] + 4 * dt
    one_sided = evaluate(
        env2,
        params2,
        make_agent("limit_market_liquidation", env2, params2),
        4000,
        jax.random.fold_in(key, 2),
    )
    gap = two["mean"] - one_sided["return"]["mean"]
    assert gap > 8 * np.hypot(two["stderr"], one_sided["return"]["stderr"])
    with pytest.raises(ValueError, match="execution_side"):
        make_agent("limit_market_liquidation", env, params, two_sided=True)


def test_touch_agent_attains_its_value_and_beats_always_posting(exact_policy_value):
    """CJP §10.2.2 at the touch, with penalties large enough that switching a side off pays
    (φ = 0.05, α = 0.01): Monte Carlo against the exact discrete-time mean (4 se), against h(0,0)
    (4 se plus an allowance of 2 dt), and against posting both sides always (8 se)."""
    env, params = envs.make("cartea_jaimungal_touch", phi=0.05, alpha=0.01)
    key = jax.random.key(1022)
    optimal = make_agent("cartea_jaimungal_touch", env, params)
    result = evaluate(env, params, optimal, 4000, key)
    always = evaluate(env, params, make_agent("fixed_spread", env, params), 4000, key)
    ret = result["return"]
    exact = exact_policy_value(optimal, params)[0 - optimal.q_min]
    assert abs(ret["mean"] - exact) < 4 * ret["stderr"]
    dt = 1.0 / int(params.max_steps_in_episode)
    assert abs(ret["mean"] - float(optimal.value(0.0, 0))) < 4 * ret["stderr"] + 2 * dt
    gap = ret["mean"] - always["return"]["mean"]
    assert gap > 8 * np.hypot(ret["stderr"], always["return"]["stderr"])


def test_exact_cara_agent_attains_its_certainty_equivalent_with_jumps():
    """glft_jump in the environment itself: the Monte Carlo mean utility of `discrete_optimal`
    against -exp(-γ CE), CE its exactly computed certainty equivalent (the recursion models the
    mid's jumps on market orders, the CARA transform and the fills as the environment does), 4 se.
    """
    env, params = envs.make("glft_jump")
    agent = make_agent("discrete_optimal", env, params)
    result = evaluate(env, params, agent, 4000, jax.random.key(52))
    exact = -np.exp(-float(params.reward.gamma) * float(agent.value(0.0, 0)))
    assert abs(result["return"]["mean"] - exact) < 4 * result["return"]["stderr"]
