"""`make_agent(name, env, params, **agent_args) -> policy` and the list of agent names.

Each agent declares its arguments and their types, so both Python values and command-line strings
('0.1', 'true', '1,0.5,2') are checked and converted, and a wrong name or value is a one-line
ValueError naming the agent and the argument.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from agents.policies import baseline, discrete, execution, market_making, schedule


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    build: Callable[..., Any]
    args: dict[str, str]  # name -> "float" | "int" | "bool" | "floats"
    description: str


AGENTS: dict[str, AgentSpec] = {
    "random": AgentSpec(
        baseline.make_random, {}, "uniform random action, independent per trajectory"
    ),
    "fixed_action": AgentSpec(
        baseline.make_fixed_action, {"action": "floats"}, "the same action every step"
    ),
    "fixed_spread": AgentSpec(
        baseline.make_fixed_spread,
        {"half_spread": "float", "offset": "float"},
        "quotes at mid + offset -/+ half_spread (default half_spread 1/kappa)",
    ),
    "twap": AgentSpec(schedule.make_twap, {}, "time-weighted execution of the initial inventory"),
    "vwap": AgentSpec(
        schedule.make_vwap, {"volume_curve": "floats"}, "volume-weighted execution (bucket weights)"
    ),
    "discrete_optimal": AgentSpec(
        discrete.make_discrete_optimal,
        {},
        "the exact optimum of the market's own discrete-time steps (backward recursion over "
        "step and inventory): quotes with Poisson flow and a Brownian mid (CARA: with arrival "
        "jumps), or trading speed with linear impact; refuses markets it cannot solve exactly",
    ),
    "avellaneda_stoikov": AgentSpec(
        market_making.make_avellaneda_stoikov,
        {"gamma": "float", "symmetric": "bool"},
        "Avellaneda-Stoikov 2008 asymptotic quotes (reservation price and spread): the paper's "
        "approximation, not the CARA optimum (3.8% below it in certainty equivalent on "
        "avellaneda_stoikov); depths clipped to [min_depth, max_depth]",
    ),
    "glft": AgentSpec(
        market_making.make_glft,
        {"gamma": "float", "inventory_bound": "int"},
        "Gueant-Lehalle-Fernandez-Tapia 2013 continuous-time CARA quotes with inventory bounds; "
        "ignores the mid's jumps (glft_jump) and uses a Hawkes flow's mean intensity",
    ),
    "cartea_jaimungal_mm": AgentSpec(
        market_making.make_cartea_jaimungal_mm,
        {"inventory_bound": "int"},
        "CJP 2015 section 10.2 continuous-time optimal market maker (matrix exponential); "
        "uses a Hawkes flow's mean intensity and ignores an alpha signal",
    ),
    "cartea_jaimungal_touch": AgentSpec(
        market_making.make_cartea_jaimungal_touch,
        {"inventory_bound": "int", "substeps": "int"},
        "CJP 2015 section 10.2.2 continuous-time market maker at the touch (finite differences)",
    ),
    "cartea_jaimungal_execution": AgentSpec(
        execution.make_cartea_jaimungal_execution,
        {},
        "CJP 2015 section 6.5 continuous-time optimal speed, feedback in the inventory",
    ),
    "limit_order_liquidation": AgentSpec(
        execution.make_limit_order_liquidation,
        {},
        "CJP 2015 chapter 8 liquidation with limit orders (matrix exponential)",
    ),
    "limit_market_liquidation": AgentSpec(
        execution.make_limit_market_liquidation,
        {"substeps": "int", "free_depth": "bool", "two_sided": "bool"},
        "CJP 2015 section 8.4 limit and market orders, the continuous-time QVI (finite "
        "differences; any number of market orders at an instant): 1.7% below the exact optimum "
        "of cj_execution_lo_mo, whose steps execute at most one market order each",
    ),
}


def _replay_baselines(env):
    """The replay baselines module when `env` is a LOBSTER replay market, else None."""
    from agents.replay import baselines
    from envs.replay import ReplayMarket

    return baselines if isinstance(env, ReplayMarket) else None


def registered_agents() -> list[str]:
    """Every agent name: the model-based agents and the replay-market baselines."""
    from agents.replay import baselines

    return sorted(set(AGENTS) | set(baselines.BASELINES))


def _convert(agent: str, name: str, kind: str, value: Any) -> Any:
    where = f"{agent}: argument {name}"
    try:
        if kind == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return lowered in ("true", "1", "yes")
            return bool(value)
        if kind == "int":
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind == "float":
            return float(value)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        values = tuple(float(v) for v in value)
        if not values:
            raise ValueError
        return values
    except (TypeError, ValueError):
        expected = {"floats": "a comma-separated list of numbers"}.get(kind, f"a {kind}")
        raise ValueError(f"{where}: expected {expected}, got {value!r}") from None


def make_agent(name: str, env, params, **agent_args: Any):
    """Build agent `name` for `(env, params)`; returns a pure `policy(key, obs) -> action`.

    On a LOBSTER replay market the names resolve to its own baselines (`agents.replay.baselines`:
    twap, vwap, all_at_once, fixed_spread, avellaneda_stoikov, fixed_action), which read the book rather than
    a model's parameters.
    """
    replay = _replay_baselines(env)
    if replay is not None:
        if name not in replay.BASELINES:
            known = ", ".join(sorted(replay.BASELINES))
            raise ValueError(f"{name}: not an agent for replay environments; available: {known}")
        build, accepted = replay.BASELINES[name], replay.BASELINE_ARGS[name]
    elif name in AGENTS:
        build, accepted = AGENTS[name].build, AGENTS[name].args
    else:
        raise ValueError(f"{name}: unknown agent; registered: {', '.join(sorted(AGENTS))}")
    converted = {}
    for arg, value in agent_args.items():
        if arg not in accepted:
            known = ", ".join(sorted(accepted)) or "none"
            raise ValueError(f"{name}: unknown argument {arg!r}; accepted: {known}")
        converted[arg] = _convert(name, arg, accepted[arg], value)
    return build(env, params, **converted)
