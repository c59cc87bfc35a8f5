"""The literature's market makers: Avellaneda–Stoikov 2008 (an asymptotic approximation), GLFT 2013
and Cartea–Jaimungal–Penalva §10.2 (continuous-time optima).

The formulas live in `agents.solvers`; here they become policies on an environment's grid. The
exact optimum of an environment's own discrete steps is `agents.policies.discrete`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from agents import model
from agents.observation import ObsReader, make_reader
from agents.policies.tables import (
    QuoteTablePolicy,
    after_market_orders,
    hjb_table_policy,
    make_table_policy,
)
from agents.policy import Stateless
from agents.solvers import avellaneda_stoikov as as_formulas
from agents.solvers import limit_order_hjb, qvi


@struct.dataclass
class AvellanedaStoikovPolicy(Stateless):
    """AS 2008 quotes: reservation price s - qγσ²(T-t), spread γσ²(T-t) + (2/γ)ln(1+γ/k).

    These are the paper's asymptotic approximation, not the optimum of the CARA problem: on
    `avellaneda_stoikov` their certainty equivalent is 3.8 % below the exact optimum of the
    environment's steps at γ = 0.1 (`discrete_optimal`, the preset's reference).

    `symmetric=True` is the paper's comparison strategy: the time-averaged AS spread, centred on
    the mid. Depths are clipped to [min_depth, max_depth] (the AS preset allows quotes through the
    mid, as the paper's simulation does). mbt_gym passes its agent's crossing quotes unclipped to
    its environment, where they fill at the arrival rate on the wrong side of the mid: on a market
    with min_depth = 0 that alone makes its mean return lower (64.096 vs 64.189 exactly on the AS
    market with a running penalty; tests/agents/test_mbt_gym_comparison.py). The constants come from `solvers.avellaneda_stoikov`
    (float64, on the host).
    """

    risk_per_time: jax.Array  # γσ²
    constant_spread: jax.Array  # (2/γ) ln(1 + γ/k)
    average_spread: jax.Array  # the symmetric strategy's spread
    terminal_time: jax.Array
    min_depth: jax.Array
    max_depth: jax.Array
    reader: ObsReader
    symmetric: bool = struct.field(pytree_node=False)
    action_kind: str = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        if self.symmetric:
            depths = jnp.full((2,), 0.5 * self.average_spread)
        else:
            time_to_go = jnp.maximum(self.terminal_time - self.reader.time(obs), 0.0)
            skew = self.reader.inventory(obs) * self.risk_per_time * time_to_go  # s - r
            half = 0.5 * (self.risk_per_time * time_to_go + self.constant_spread)
            depths = jnp.stack([skew + half, half - skew])
        depths = jnp.clip(depths, self.min_depth, self.max_depth).astype(jnp.float32)
        if self.action_kind == "limit":
            return depths
        return jnp.concatenate([depths, jnp.zeros((2,), jnp.float32)])


def _risk_aversion(params, gamma: float | None, agent: str) -> float:
    if gamma is None:
        gamma = float(getattr(getattr(params, "reward", None), "gamma", 0.0) or 0.0)
        if gamma <= 0:
            gamma = 0.1
    if not gamma > 0:
        raise ValueError(f"{agent}: gamma must be > 0, got {gamma}")
    return float(gamma)


def make_avellaneda_stoikov(
    env, params, gamma: float | None = None, symmetric: bool = False
) -> AvellanedaStoikovPolicy:
    """γ defaults to the environment's CARA risk aversion (reward.gamma), else 0.1."""
    agent = "avellaneda_stoikov"
    if env.action_type not in ("limit", "limit_and_market"):
        raise ValueError(f"{agent}: needs action type 'limit' or 'limit_and_market'")
    rate_bid, rate_ask = model.arrival_rates(params, agent)  # checks the model has them
    del rate_bid, rate_ask

    gamma = _risk_aversion(params, gamma, agent)
    sigma = model.field(params, "midprice.sigma", agent)
    kappa = model.fill_kappa(params, agent)
    terminal_time = model.field(params, "terminal_time", agent)

    def f32(x):
        return jnp.asarray(x, jnp.float32)

    return AvellanedaStoikovPolicy(
        risk_per_time=f32(gamma * sigma**2),
        constant_spread=f32(as_formulas.optimal_spread(gamma, sigma, kappa, 0.0)),
        average_spread=f32(as_formulas.average_spread(gamma, sigma, kappa, terminal_time)),
        terminal_time=f32(terminal_time),
        min_depth=f32(float(params.min_depth)),
        max_depth=f32(float(params.max_depth)),
        reader=make_reader(env, params),
        symmetric=bool(symmetric),
        action_kind=env.action_type,
    )


def make_glft(
    env, params, gamma: float | None = None, inventory_bound: int | None = 50
) -> QuoteTablePolicy:
    """GLFT's exact continuous-time quotes with |q| <= min(max_inventory, inventory_bound)
    (beyond: the edge row). The model has a Brownian mid without jumps: on `glft_jump` the agent
    ignores the jumps market orders cause (its certainty equivalent is then 6e-6 below the exact
    discrete optimum, `discrete_optimal`, which solves with them); on a Hawkes flow it quotes for
    the stationary mean intensity."""
    agent = "glft"
    terminal_time, steps, _ = model.time_grid(params)
    rate_bid, rate_ask = model.arrival_rates(params, agent)
    q = model.inventory_bound(params, agent, inventory_bound)
    solution = as_formulas.solve_glft(
        gamma=_risk_aversion(params, gamma, agent),
        sigma=model.field(params, "midprice.sigma", agent),
        kappa=model.fill_kappa(params, agent),
        intensity_bid=rate_bid,
        intensity_ask=rate_ask,
        max_inventory=q,
        terminal_time=terminal_time,
        num_steps=steps,
    )
    return make_table_policy(
        env,
        params,
        make_reader(env, params),
        -q,
        solution.theta,
        solution.bid_depth,
        solution.ask_depth,
        agent=agent,
    )


def cartea_jaimungal_problem(
    params, inventory_bound: int | None = None, agent: str = "cartea_jaimungal_mm"
):
    """The §10.2 problem an environment's params describe (λ±, κ, φ, α, T, ±Q); `agent` names
    the caller in error messages."""
    rate_bid, rate_ask = model.arrival_rates(params, agent)
    return limit_order_hjb.market_making_problem(
        rate_bid=rate_bid,
        rate_ask=rate_ask,
        kappa=model.fill_kappa(params, agent),
        phi=model.field(params, "reward.phi", agent),
        alpha=model.field(params, "reward.alpha", agent),
        terminal_time=model.field(params, "terminal_time", agent),
        max_inventory=model.inventory_bound(params, agent, inventory_bound),
    )


def make_cartea_jaimungal_mm(env, params, inventory_bound: int | None = None) -> QuoteTablePolicy:
    """CJP §10.2 optimal depths, solved once on the environment's grid; `.value(t, q)` gives h."""
    problem = cartea_jaimungal_problem(params, inventory_bound)
    return hjb_table_policy(env, params, problem, "cartea_jaimungal_mm")


def make_cartea_jaimungal_touch(
    env, params, inventory_bound: int | None = None, substeps: int | None = None
) -> QuoteTablePolicy:
    """CJP §10.2.2, market making at the touch: post or not on each side (a switching problem with
    no closed form, solved by the finite-difference scheme). Quotes earn half_spread and are filled
    by every market order; with `touch_and_market`, one-unit market orders pay half_spread too.
    `.value(t, q)` gives h."""
    agent = "cartea_jaimungal_touch"
    rate_bid, rate_ask = model.arrival_rates(params, agent)
    q = model.inventory_bound(params, agent, inventory_bound)
    problem = limit_order_hjb.LimitOrderProblem(
        rate_bid=rate_bid,
        rate_ask=rate_ask,
        kappa=1.0,  # unused at the touch
        phi=model.field(params, "reward.phi", agent),
        terminal_time=model.field(params, "terminal_time", agent),
        q_min=-q,
        q_max=q,
        terminal_value=limit_order_hjb.quadratic_terminal(
            -q, q, model.field(params, "reward.alpha", agent)
        ),
    )
    half_spread = model.field(params, "half_spread", agent)
    orders = None
    if env.action_type == "touch_and_market":
        orders = qvi.MarketOrderOptions(cost=half_spread, allow_sell=True, allow_buy=True)
    solution = qvi.solve(
        problem, int(params.max_steps_in_episode), orders, substeps=substeps, touch=half_spread
    )
    # Its own market order goes first: the quotes posted are those of the inventory it leaves.
    post_bid, post_ask = after_market_orders(
        (solution.post_bid, solution.post_ask),
        solution.sell_market_order,
        solution.buy_market_order,
    )
    return make_table_policy(
        env,
        params,
        make_reader(env, params),
        problem.q_min,
        solution.h,
        post_bid,
        post_ask,
        sell_market_order=solution.sell_market_order,
        buy_market_order=solution.buy_market_order,
        agent=agent,
        kinds=("touch", "touch_and_market"),
    )
