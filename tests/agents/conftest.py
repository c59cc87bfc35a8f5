"""Shared helpers for the agents tests: an exact reference for the expected return of a table policy.

`policy_value` evaluates, by backward recursion over (step, inventory), the expected episode return
of a `QuoteTablePolicy` in a Poisson/exponential-fill environment with the environment's own
discrete-time rules (written here independently of `envs`): market orders first, within the
inventory bounds; then each side's quote fills with probability min(min(λdt, 1) e^{-κδ}, 1)
(at the touch: min(λdt, 1) if posted, earning the half-spread), independently, unless a fill
would breach ±max_inventory or go against a one-way programme (`execution_side`); the running penalty φ Q_{n+1}² dt and the
terminal -α Q_N². The mid is a martingale, so E[Q dS] = 0 drops out. This is the exact mean that a
Monte Carlo of the policy estimates, so it separates simulation error from discretisation error.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest


def policy_value(policy, params) -> np.ndarray:
    """Expected return from t = 0 for every start inventory q_min..q_max of the policy's table."""
    rate_bid, rate_ask = np.broadcast_to(np.asarray(params.arrivals.rate, np.float64), (2,))
    touch = policy.action_kind.startswith("touch")
    kappa = 0.0 if touch else float(params.fill.kappa)
    phi, alpha = float(params.reward.phi), float(params.reward.alpha)
    steps = int(params.max_steps_in_episode)
    dt = float(params.terminal_time) / steps
    bound = float(params.max_inventory)
    cost = float(params.half_spread)
    q = np.arange(policy.q_min, policy.q_max + 1, dtype=np.float64)
    bid = np.asarray(policy.bid_depth, np.float64)
    ask = np.asarray(policy.ask_depth, np.float64)
    if touch:  # the tables say whether to post; a posted quote fills every arrival, earning ξ
        post_bid, post_ask = bid, ask
        bid = np.full_like(post_bid, cost)
        ask = np.full_like(post_ask, cost)
    else:
        post_bid, post_ask = np.ones_like(bid), np.ones_like(ask)
    buy_flag = np.asarray(policy.buy_market_order, np.float64)
    sell_flag = np.asarray(policy.sell_market_order, np.float64)
    value = -alpha * q**2
    side = float(getattr(params, "execution_side", 0.0))  # +1 sell only, -1 buy only
    may_buy, may_sell = float(side < 0.5), float(side > -0.5)
    upper = 0.0 if side < -0.5 else bound  # a one-way programme never trades through zero
    lower = 0.0 if side > 0.5 else -bound

    def at(v, inventory):
        return np.interp(inventory, q, v)  # inventories stay on the integer grid

    for n in range(steps - 1, -1, -1):
        buy = buy_flag[n] * (q + 1 <= upper) * may_buy
        q1 = q + buy
        sell = sell_flag[n] * (q1 - 1 >= lower) * may_sell
        q2 = q1 - sell
        p_bid = np.minimum(min(rate_bid * dt, 1.0) * np.exp(-kappa * bid[n]), 1.0) * post_bid[n]
        p_ask = np.minimum(min(rate_ask * dt, 1.0) * np.exp(-kappa * ask[n]), 1.0) * post_ask[n]
        p_bid = p_bid * (q2 + 1 <= upper) * may_buy
        p_ask = p_ask * (q2 - 1 >= lower) * may_sell
        new = -cost * (buy + sell)
        for fb in (0.0, 1.0):
            for fa in (0.0, 1.0):
                weight = (p_bid if fb else 1 - p_bid) * (p_ask if fa else 1 - p_ask)
                q3 = q2 + fb - fa
                gain = fb * bid[n] + fa * ask[n] - phi * q3**2 * dt + at(value, q3)
                new = new + weight * gain
        value = new
    return value


@pytest.fixture(scope="session")
def exact_policy_value():
    return policy_value


@pytest.fixture(scope="session")
def oracle():
    """`exact_recursion` (this folder): the independent exact recursion of a market's own steps
    (tests are not a package, so it is loaded from its path)."""
    path = Path(__file__).with_name("exact_recursion.py")
    spec = importlib.util.spec_from_file_location("tests_agents_exact_recursion", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
