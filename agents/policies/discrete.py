"""`discrete_optimal`: the exact optimum of a model-based market's own discrete-time dynamics.

Quoting markets (limit or touch quotes, with or without market orders; Poisson arrivals; an
arithmetic Brownian mid, with arrival-driven jumps under CARA utility) become a table policy over
(step, inventory) from `solvers.discrete_optimum.solve`; trading-speed markets with linear
temporary and permanent impact become the exact linear feedback ν_n = g_n Q_n / dt of
`solvers.discrete_optimum.solve_speed`. Anything else (Hawkes arrivals, alpha signals, other
impact or fill models, exact Poisson counts) is refused with a one-line error: its optimum is not
a function of (step, inventory) alone, and this agent claims exactness.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from agents import model
from agents.observation import make_reader
from agents.policies.execution import FeedbackSpeedPolicy
from agents.policies.tables import TABLE_TYPES, QuoteTablePolicy, make_table_policy
from agents.solvers import discrete_optimum
from envs.model_based import rewards
from envs.model_based.arrivals import NoArrivals, NonlinearPoissonArrivals, PoissonArrivals
from envs.model_based.impact import TemporaryPermanentImpact
from envs.model_based.midprice import BrownianMotion, BrownianMotionJump

AGENT = "discrete_optimal"
# P(an order this step) = 1 - e^{-λdt} instead of min(λdt, 1)
NONLINEAR_POISSON = NonlinearPoissonArrivals
# Rewards whose episode total is Y_T - Y_0 - φ Σ|Q|^p dt - α|Q_T|^p (dense or not)
PENALISED = (
    rewards.RunningInventoryPenalty,
    rewards.CJExecution,
    rewards.CJMarketMakingCriterion,
    rewards.CJExecutionCriterion,
)


def _criterion(env, params) -> tuple[float, float, float, float]:
    """(φ, α, γ, p) of the market's reward; γ > 0 means CARA (the exact utility: the
    environment's float32-stable form equals it wherever γ (Y_0 - Y_T) <= its cap)."""
    reward = env.config.reward
    exponent = float(getattr(params.reward, "inventory_exponent", 2.0))
    if isinstance(reward, rewards.ExponentialUtility):
        return 0.0, 0.0, model.field(params, "reward.gamma", AGENT), exponent
    if isinstance(reward, rewards.PnL):
        return 0.0, 0.0, 0.0, exponent
    if isinstance(reward, PENALISED):
        phi = model.field(params, "reward.phi", AGENT)
        return phi, model.field(params, "reward.alpha", AGENT), 0.0, exponent
    raise ValueError(f"{AGENT}: no exact recursion for reward {reward.name!r}")


def _grid(params, lower: float, upper: float, steps: int, per_step: int) -> tuple[int, int]:
    """The inventories reachable from the start: q0 -+ width -+ per_step * steps, within bounds."""
    q0 = float(params.initial_inventory)
    below, above = np.broadcast_to(np.asarray(params.initial_inventory_width, np.float64), (2,))
    low = np.floor(q0) - below - per_step * steps
    high = np.ceil(q0) + above + per_step * steps
    return int(max(lower, low)), int(min(upper, high))


def quoting_market(env, params) -> discrete_optimum.DiscreteMarket:
    """The `DiscreteMarket` of a quoting environment, or a one-line error naming what is not exact."""
    c = env.config
    kind = env.action_type
    if kind not in TABLE_TYPES:
        raise ValueError(f"{AGENT}: needs a quoting action type or trading_speed, not {kind!r}")
    poisson = isinstance(c.arrivals, PoissonArrivals | NONLINEAR_POISSON)
    if not poisson or c.arrivals.exact_counts:
        raise ValueError(
            f"{AGENT}: exact only with Poisson arrivals, at most one per side per step "
            f"(this market has {c.arrivals.name!r}"
            f"{' with exact_counts' if getattr(c.arrivals, 'exact_counts', False) else ''})"
        )
    if c.impact is not None:
        raise ValueError(f"{AGENT}: no exact recursion for quotes with price impact")
    if not isinstance(c.midprice, BrownianMotion | BrownianMotionJump):
        raise ValueError(
            f"{AGENT}: exact only for an arithmetic Brownian mid (with or without arrival jumps), "
            f"not {c.midprice.name!r}"
        )
    phi, alpha, gamma, exponent = _criterion(env, params)
    jump = (0.0, 0.0)
    if isinstance(c.midprice, BrownianMotionJump):
        jump_size = np.broadcast_to(np.asarray(params.midprice.jump_size, np.float64), (2,))
        jump = (float(jump_size[0]), float(jump_size[1]))
        if gamma == 0.0 and any(jump):
            raise ValueError(f"{AGENT}: arrival jumps are solved under CARA utility only")
    drift = float(getattr(params.midprice, "drift", 0.0))
    _, steps, dt = model.time_grid(params)
    rate_bid, rate_ask = model.arrival_rates(params, AGENT)
    if isinstance(c.arrivals, NONLINEAR_POISSON):
        arrival_prob = (-np.expm1(-rate_bid * dt), -np.expm1(-rate_ask * dt))
    else:
        arrival_prob = (min(rate_bid * dt, 1.0), min(rate_ask * dt, 1.0))
    touch = kind.startswith("touch")
    market_orders = kind.endswith("_and_market")
    bound = model.field(params, "max_inventory", AGENT)
    side = float(params.execution_side)
    upper = 0.0 if side < -0.5 else bound
    lower = 0.0 if side > 0.5 else -bound
    q_min, q_max = _grid(params, lower, upper, steps, 2 if market_orders else 1)
    return discrete_optimum.DiscreteMarket(
        num_steps=steps,
        dt=dt,
        arrival_prob=arrival_prob,
        kappa=None if touch else model.fill_kappa(params, AGENT),
        half_spread=model.field(params, "half_spread", AGENT),
        min_depth=float(params.min_depth),
        max_depth=float(params.max_depth),
        q_min=q_min,
        q_max=q_max,
        lower=lower,
        upper=upper,
        may_buy=side < 0.5,
        may_sell=side > -0.5,
        market_orders=market_orders,
        phi=phi,
        alpha=alpha,
        exponent=exponent,
        gamma=gamma,
        sigma=model.field(params, "midprice.sigma", AGENT),
        drift=drift,
        jump=jump,
    )


def speed_problem(env, params) -> discrete_optimum.SpeedProblem:
    """The `SpeedProblem` of a trading-speed environment (linear temporary + permanent impact)."""
    c = env.config
    if not isinstance(c.impact, TemporaryPermanentImpact) or not isinstance(c.arrivals, NoArrivals):
        raise ValueError(
            f"{AGENT}: trading speed is exact with temporary_permanent impact and no arrivals"
        )
    if float(params.impact.temporary_exponent) != 1.0:
        raise ValueError(f"{AGENT}: needs linear temporary impact (temporary_exponent=1)")
    phi, alpha, gamma, exponent = _criterion(env, params)
    if exponent != 2.0:
        raise ValueError(f"{AGENT}: trading speed is solved for quadratic penalties only")
    if gamma > 0:
        raise ValueError(f"{AGENT}: trading speed is solved for risk-neutral criteria only")
    _, steps, dt = model.time_grid(params)
    return discrete_optimum.SpeedProblem(
        num_steps=steps,
        dt=dt,
        temporary=model.field(params, "impact.temporary", AGENT),
        permanent=model.field(params, "impact.permanent", AGENT),
        phi=phi,
        alpha=alpha,
    )


def make_discrete_optimal(env, params) -> QuoteTablePolicy | FeedbackSpeedPolicy:
    """The exact discrete-time optimum of `(env, params)`; `.value(t, q)` of the quoting tables is
    the expected rest-of-episode return (CARA: its certainty equivalent)."""
    if env.action_type == "trading_speed":
        problem = speed_problem(env, params)
        _, gain = discrete_optimum.solve_speed(problem)
        return FeedbackSpeedPolicy(
            rate=jnp.asarray(gain / problem.dt, jnp.float32),
            max_speed=jnp.asarray(float(params.max_speed), jnp.float32),
            reader=make_reader(env, params),
            dt=problem.dt,
            num_steps=problem.num_steps,
        )
    market = quoting_market(env, params)
    solution = discrete_optimum.solve(market)
    touch = market.touch
    return make_table_policy(
        env,
        params,
        make_reader(env, params),
        market.q_min,
        solution.value,
        solution.post_bid if touch else solution.bid_depth,
        solution.post_ask if touch else solution.ask_depth,
        sell_market_order=solution.sell_market_order,
        buy_market_order=solution.buy_market_order,
        agent=AGENT,
        kinds=TABLE_TYPES,
    )
