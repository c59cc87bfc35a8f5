"""Optimal execution agents: CJP §6.5 (trading speed), ch. 8 (limit orders), §8.4 (limit + market).

All three take the programme from the environment: sell when initial_inventory > 0, buy when < 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents import model
from agents.observation import ObsReader, make_reader, step_index
from agents.policies.market_making import cartea_jaimungal_problem
from agents.policies.tables import (
    QuoteTablePolicy,
    after_market_orders,
    hjb_table_policy,
    make_table_policy,
)
from agents.policy import Stateless
from agents.solvers import execution as execution_formulas
from agents.solvers import limit_order_hjb, qvi


@struct.dataclass
class FeedbackSpeedPolicy(Stateless):
    """ν_n = g(T - t_n) Q_n: the §6.5 optimum in feedback form, so its sign is that of the inventory
    held (a buy programme buys) and it corrects for whatever moved Q."""

    rate: jax.Array  # (N,) g(T - t_n)
    max_speed: jax.Array
    reader: ObsReader
    dt: float = struct.field(pytree_node=False)
    num_steps: int = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        n = step_index(self.reader.time(obs), self.dt, self.num_steps)
        speed = self.rate[n] * self.reader.inventory(obs)
        return jnp.clip(speed, -self.max_speed, self.max_speed).reshape((1,))


def linear_impact_problem(params) -> execution_formulas.LinearImpactProblem:
    agent = "cartea_jaimungal_execution"
    return execution_formulas.LinearImpactProblem(
        shares=model.field(params, "initial_inventory", agent),
        terminal_time=model.field(params, "terminal_time", agent),
        temporary=model.field(params, "impact.temporary", agent),
        permanent=model.field(params, "impact.permanent", agent),
        phi=model.field(params, "reward.phi", agent),
        alpha=model.field(params, "reward.alpha", agent),
    )


def make_cartea_jaimungal_execution(env, params) -> FeedbackSpeedPolicy:
    agent = "cartea_jaimungal_execution"
    if env.action_type != "trading_speed":
        raise ValueError(f"{agent}: needs action type 'trading_speed', not {env.action_type!r}")
    exponent = getattr(getattr(params, "impact", None), "temporary_exponent", 1.0)
    if float(exponent) != 1.0:
        raise ValueError(f"{agent}: needs linear temporary impact (temporary_exponent=1)")
    problem = linear_impact_problem(params)
    terminal_time, steps, dt = model.time_grid(params)
    time_to_go = terminal_time - np.arange(steps) * dt
    return FeedbackSpeedPolicy(
        rate=jnp.asarray(execution_formulas.feedback_rate(problem, time_to_go), jnp.float32),
        max_speed=jnp.asarray(float(params.max_speed), jnp.float32),
        reader=make_reader(env, params),
        dt=dt,
        num_steps=steps,
    )


def liquidation_problem_for(params, agent: str) -> limit_order_hjb.LimitOrderProblem:
    """CJP ch. 8 on the whole reachable range: [0, Q_max] for a sale, [-Q_max, 0] for a purchase
    (the solution on [0, N] does not depend on levels above N, so one table serves any N)."""
    shares = model.field(params, "initial_inventory", agent)
    if shares == 0:
        raise ValueError(f"{agent}: initial_inventory is 0: nothing to execute")
    bound = model.inventory_bound(params, agent, None)
    rate_bid, rate_ask = model.arrival_rates(params, agent)
    return limit_order_hjb.liquidation_problem(
        rate=rate_ask if shares > 0 else rate_bid,
        kappa=model.fill_kappa(params, agent),
        phi=model.field(params, "reward.phi", agent),
        alpha=model.field(params, "reward.alpha", agent),
        terminal_time=model.field(params, "terminal_time", agent),
        shares=bound if shares > 0 else -bound,
    )


def make_limit_order_liquidation(env, params) -> QuoteTablePolicy:
    """Limit orders only (CJP ch. 8, matrix exponential); the other side is parked at max_depth."""
    agent = "limit_order_liquidation"
    return hjb_table_policy(env, params, liquidation_problem_for(params, agent), agent)


def make_limit_market_liquidation(
    env, params, substeps: int | None = None, free_depth: bool = False, two_sided: bool = False
) -> QuoteTablePolicy:
    """Limit and market orders (CJP §8.4): the QVI solved by the backward finite-difference scheme.

    Default, the textbook problem: sell limit orders and one-unit sell market orders (paying
    half_spread) on [0, Q_max] (mirrored for a buy programme), running penalty φq², terminal -αq²;
    the unused bid is parked at max_depth. `two_sided=True` solves the environment's own problem
    instead: both limit sides optimised, market orders either way, on ±max_inventory; that is the
    continuous-time optimum of a `limit_and_market` market with `execution_side=0`. The QVI
    allows any number of market orders at one instant, the environment one per step: on
    `cj_execution_lo_mo` this agent is 1.7 % below the exact optimum of the steps
    (`discrete_optimal`, the preset's reference).
    Depths are restricted to [min_depth, max_depth] unless `free_depth`.
    """
    agent = "limit_market_liquidation"
    if env.action_type != "limit_and_market":
        raise ValueError(f"{agent}: needs action type 'limit_and_market', not {env.action_type!r}")
    if two_sided:
        if float(params.execution_side) != 0.0:
            raise ValueError(
                f"{agent}: two_sided needs an environment that trades both ways "
                f"(execution_side=0), not execution_side={float(params.execution_side):g}"
            )
        problem = cartea_jaimungal_problem(params, agent=agent)
        orders = qvi.MarketOrderOptions(
            cost=float(params.half_spread), allow_sell=True, allow_buy=True
        )
    else:
        problem = liquidation_problem_for(params, agent)
        orders = qvi.MarketOrderOptions(
            cost=float(params.half_spread),
            allow_sell=problem.allow_ask,
            allow_buy=problem.allow_bid,
        )
    solution = qvi.solve(
        problem,
        int(params.max_steps_in_episode),
        orders,
        substeps=substeps,
        min_depth=None if free_depth else float(params.min_depth),
        max_depth=None if free_depth else float(params.max_depth),
    )
    # A market order is sent before the quotes meet the flow: where one is sent the quotes are
    # those of the inventory it leaves (q - 1 for a sale, q + 1 for a purchase).
    sell, buy = solution.sell_market_order, solution.buy_market_order
    bid, ask = after_market_orders((solution.bid_depth, solution.ask_depth), sell, buy)
    return make_table_policy(
        env,
        params,
        make_reader(env, params),
        problem.q_min,
        solution.h,
        bid,
        ask,
        sell_market_order=sell,
        buy_market_order=buy,
        agent=agent,
    )
