"""Markets composed by name: every component has a short name, and a market is a choice per slot.

`SLOTS` are midprice, arrivals, fill, impact, action and reward; `CHOICES[slot]` maps each name to
the component it builds ("none" leaves fill or impact out, or gives no arrivals). The presets are
compositions of these names (`presets.py`), and `registry.make` applies a user's choices on top
of a preset (`midprice="heston"`, on the command line `--set midprice=heston`), so any market is
a preset plus choices plus numeric overrides.

A component that replaces another keeps the preset's numbers when both take the same params type
(every reward takes `RewardParams`, every impact model `ImpactParams`: `reward=cj_mm_criterion`
keeps phi and alpha); otherwise it starts from its own defaults (a Heston mid-price has its own
volatility, not the Brownian sigma), and the overrides apply on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from envs.model_based import actions as act
from envs.model_based import arrivals as arr
from envs.model_based import fills as fil
from envs.model_based import impact as imp
from envs.model_based import midprice as mid
from envs.model_based import rewards as rew
from envs.model_based.components import Component
from envs.model_based.environment import EnvParams, MarketConfig

SLOTS = ("midprice", "arrivals", "fill", "impact", "action", "reward")

CHOICES: dict[str, dict[str, Callable[[], Component | None]]] = {
    "midprice": {
        "brownian": mid.BrownianMotion,
        "brownian_jump": mid.BrownianMotionJump,
        "geometric": mid.GeometricBrownianMotion,
        "gbm": mid.GeometricBrownianMotion,
        "ou": mid.OrnsteinUhlenbeck,
        "ou_jump": mid.OrnsteinUhlenbeckJump,
        "ou_drift": mid.OUDrift,
        "ou_jump_drift": lambda: mid.OUDrift(jumps=True),
        "heston": mid.Heston,
        "cev": mid.CEV,
    },
    "arrivals": {
        "none": arr.NoArrivals,
        "poisson": arr.PoissonArrivals,
        "poisson_nonlinear": arr.NonlinearPoissonArrivals,
        "hawkes": arr.HawkesArrivals,
    },
    "fill": {
        "none": lambda: None,
        "exponential": fil.ExponentialFill,
        "triangular": fil.TriangularFill,
        "power": fil.PowerFill,
        "exogenous_mm": fil.ExogenousMarketMakerFill,
    },
    "impact": {
        "none": lambda: None,
        "temporary": imp.TemporaryImpact,
        "temporary_permanent": imp.TemporaryPermanentImpact,
        "transient": imp.TransientImpact,
    },
    "action": {a.name: a for a in act.ACTION_TYPES},
    "reward": {r.name: r for r in rew.REWARDS},
}


def component(slot: str, name: Any) -> Component | None:
    """The component `name` of `slot`, or a one-line ValueError naming the slot."""
    if slot not in CHOICES:
        raise ValueError(f"{slot}: not a component slot; slots: {', '.join(SLOTS)}")
    if not isinstance(name, str) or name not in CHOICES[slot]:
        known = ", ".join(CHOICES[slot])
        raise ValueError(f"{slot}: unknown {slot} model {name!r}; known: {known}")
    return CHOICES[slot][name]()


def config(normalize_obs: bool = False, **names: str) -> MarketConfig:
    """The `MarketConfig` of the named components (slots not given keep MarketConfig's defaults)."""
    return MarketConfig(
        **{slot: component(slot, name) for slot, name in names.items()},
        normalize_obs=normalize_obs,
    )


def _params_for(new: Component | None, current: Any) -> Any:
    """Params for `new`: the current ones if they have its params type, else its defaults."""
    if new is None or not hasattr(new, "params_type"):
        return current
    if isinstance(current, new.params_type):
        return current
    return new.default_params()


def with_choices(
    market: MarketConfig, params: EnvParams, choices: Mapping[str, Any]
) -> tuple[MarketConfig, EnvParams]:
    """`(market, params)` with the components named in `choices` (slot -> name) swapped in."""
    replaced: dict[str, Any] = {}
    new_params = {}
    for slot, name in choices.items():
        new = component(slot, name)
        if slot == "arrivals" and getattr(market.arrivals, "exact_counts", False):
            if not isinstance(new, arr.NoArrivals):
                new = new.with_exact_counts(True)
        replaced[slot] = new
        if slot != "action":
            new_params[slot] = _params_for(new, getattr(params, slot))
    try:
        market = dataclasses.replace(market, **replaced)
    except ValueError as err:
        slot = str(err).split(":")[0]
        raise ValueError(f"{err} (choose one: {slot}=NAME)") from None
    return market, params.replace(**new_params)
