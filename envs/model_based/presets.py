"""The literature's models (mbt_gym Tables 1 and 2, plus CJP 2015 §6.5) as named presets.

Each preset is a composition by name (`compose`: which components) and its `EnvParams` (which
numbers); a hybrid is another preset with components swapped by name. Where the source gives
numbers they are used; where it gives none the values are stated as illustrative. "market" is the
plain composition (Brownian mid, Poisson flow, exponential fills, limit quotes, running inventory
penalty, every number at its default) for users who compose their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp

from envs.model_based import compose
from envs.model_based.arrivals import HawkesParams, NoArrivals, PoissonParams
from envs.model_based.draws import real_dtype
from envs.model_based.environment import EnvParams, MarketConfig
from envs.model_based.fills import ExponentialFillParams
from envs.model_based.impact import ImpactParams
from envs.model_based.midprice import BrownianParams, JumpParams, OUDriftParams
from envs.model_based.rewards import RewardParams


@dataclass(frozen=True)
class Preset:
    """A named model: its components, its numbers, and whether `max_depth` follows the fill model."""

    config: MarketConfig
    params: EnvParams
    derive_max_depth: bool = True
    description: str = ""


def _pair(x: float, y: float | None = None) -> jnp.ndarray:
    return jnp.array([x, x if y is None else y], real_dtype())


def avellaneda_stoikov(hawkes: bool = False) -> Preset:
    """Avellaneda & Stoikov (2008), with the paper's simulation numbers: s=100, T=1, sigma=2,
    dt=0.005, A=140, k=1.5, gamma=0.1; fills with probability A e^{-k delta} dt per step.
    Depths may be negative (the inventory-skewed quotes can cross the mid) and up to 10."""
    if hawkes:
        # Table 2 hybrid: same mean intensity 140, half of it self-excited; dt=0.001 keeps
        # lambda dt well below 1 when the intensity spikes.
        arrivals = "hawkes"
        arrivals_params = HawkesParams(
            baseline_rate=_pair(70.0),
            initial_intensity=_pair(140.0),
            decay=100.0,
            self_excitation=50.0,
            cross_excitation=0.0,
        )
        steps = 1000
    else:
        arrivals, arrivals_params, steps = "poisson", PoissonParams(rate=_pair(140.0)), 200
    config = compose.config(
        midprice="brownian",
        arrivals=arrivals,
        fill="exponential",
        action="limit",
        reward="exponential_utility",
    )
    params = EnvParams(
        midprice=BrownianParams(initial_price=100.0, drift=0.0, sigma=2.0),
        arrivals=arrivals_params,
        fill=ExponentialFillParams(kappa=1.5),
        reward=RewardParams(gamma=0.1),
        terminal_time=1.0,
        max_steps_in_episode=steps,
        max_inventory=1000.0,
        max_depth=10.0,
        min_depth=-10.0,
    )
    return Preset(config, params, derive_max_depth=False, description=avellaneda_stoikov.__doc__)


def _fill_for(action: str) -> str:
    """The exponential fill model where the action's quotes need one, else none."""
    return "exponential" if compose.component("action", action).needs_fill else "none"


def cartea_jaimungal_mm(action: str = "limit") -> Preset:
    """CJP (2015) §10.2: limit orders, running inventory penalty, Brownian mid, Poisson flow.
    T=1, 300 steps, lambda=30 per side, kappa=100, sigma=0.01, S0=100, phi=2e-4, alpha=1e-4,
    inventory in [-3, 3]. `action="touch"` gives §10.2.2 (quotes at the touch, half-spread 0.005:
    illustrative, a one-cent spread)."""
    config = compose.config(
        midprice="brownian",
        arrivals="poisson",
        fill=_fill_for(action),
        action=action,
        reward="running_inventory_penalty",
    )
    params = EnvParams(
        midprice=BrownianParams(initial_price=100.0, drift=0.0, sigma=0.01),
        arrivals=PoissonParams(rate=_pair(30.0)),
        fill=ExponentialFillParams(kappa=100.0),
        reward=RewardParams(phi=2e-4, alpha=1e-4),
        terminal_time=1.0,
        max_steps_in_episode=300,
        max_inventory=3.0,
        half_spread=0.005,
    )
    return Preset(config, params, description=cartea_jaimungal_mm.__doc__)


def cjr14(
    action: str = "limit", reward: str = "running_inventory_penalty", gamma: float = 0.0
) -> Preset:
    """Cartea, Jaimungal & Ricci (2014): Hawkes market orders and a short-term alpha that jumps with
    them (mbt_gym eq. 7). Numbers are illustrative, on the scale of `cartea_jaimungal_mm`: baseline
    20/side, decay 60, self-excitation 30 (stationary intensity 40), alpha pure-jump (sigma_alpha=0)
    with mean reversion 10 and jumps 0.002 per market order, sigma=0.01, kappa=100."""
    config = compose.config(
        midprice="ou_jump_drift",
        arrivals="hawkes",
        fill=_fill_for(action),
        action=action,
        reward=reward,
    )
    params = EnvParams(
        midprice=OUDriftParams(
            initial_price=100.0,
            sigma=0.01,
            initial_alpha=0.0,
            alpha_mean=0.0,
            alpha_mean_reversion=10.0,
            alpha_sigma=0.0,
            alpha_jump=_pair(0.002),
        ),
        arrivals=HawkesParams(
            baseline_rate=_pair(20.0),
            initial_intensity=_pair(40.0),
            decay=60.0,
            self_excitation=30.0,
            cross_excitation=0.0,
        ),
        fill=ExponentialFillParams(kappa=100.0),
        reward=RewardParams(phi=2e-4, alpha=1e-4, gamma=gamma),
        terminal_time=1.0,
        max_steps_in_episode=300,
        max_inventory=3.0,
        half_spread=0.005,
    )
    return Preset(config, params, description=cjr14.__doc__)


def glft_jump() -> Preset:
    """Guéant, Lehalle & Fernandez-Tapia (2013) §5.2: market orders move the mid (eq. 4), CARA
    utility. sigma=0.3, A=0.9, k=0.3, gamma=0.01 as in ORACLES' GLFT example (per second, prices in
    ticks), T=600 s in 1 s steps, inventory in [-30, 30]; jump size 0.1 tick (illustrative)."""
    config = compose.config(
        midprice="brownian_jump",
        arrivals="poisson",
        fill="exponential",
        action="limit",
        reward="exponential_utility",
    )
    params = EnvParams(
        midprice=JumpParams(initial_price=100.0, sigma=0.3, jump_size=_pair(0.1)),
        arrivals=PoissonParams(rate=_pair(0.9)),
        fill=ExponentialFillParams(kappa=0.3),
        reward=RewardParams(gamma=0.01),
        terminal_time=600.0,
        max_steps_in_episode=600,
        max_inventory=30.0,
    )
    return Preset(config, params, description=glft_jump.__doc__)


def cj_execution_lo_mo() -> Preset:
    """CJP (2015) §8.4: liquidate 10 units with sell limit orders and one-unit sell market orders
    by T=1 (`execution_side=1`: no bids, no buys; set it to 0 for a two-sided variant),
    running inventory penalty phi=1e-3 and terminal penalty alpha=0.01 (illustrative numbers);
    lambda=50 per side, kappa=100, sigma=0.01, market orders pay a half-spread of 0.005."""
    config = compose.config(
        midprice="brownian",
        arrivals="poisson",
        fill="exponential",
        action="limit_and_market",
        reward="cj_execution",
    )
    params = EnvParams(
        midprice=BrownianParams(initial_price=100.0, drift=0.0, sigma=0.01),
        arrivals=PoissonParams(rate=_pair(50.0)),
        fill=ExponentialFillParams(kappa=100.0),
        reward=RewardParams(phi=1e-3, alpha=0.01),
        terminal_time=1.0,
        max_steps_in_episode=300,
        initial_inventory=10.0,
        max_inventory=10.0,
        half_spread=0.005,
        execution_side=1.0,
    )
    return Preset(config, params, description=cj_execution_lo_mo.__doc__)


def cj_execution_speed() -> Preset:
    """CJP (2015) §6.5: liquidate N=1 at speed nu with linear temporary (k=0.01) and permanent
    (b=0.001) impact, phi=0.01, alpha=100, T=1 (the ORACLES example); sigma=0.01, 300 steps."""
    config = compose.config(
        midprice="brownian",
        arrivals="none",
        fill="none",
        impact="temporary_permanent",
        action="trading_speed",
        reward="cj_execution",
    )
    params = EnvParams(
        midprice=BrownianParams(initial_price=100.0, drift=0.0, sigma=0.01),
        arrivals=NoArrivals().default_params(),
        fill=None,
        impact=ImpactParams(temporary=0.01, temporary_exponent=1.0, permanent=0.001),
        reward=RewardParams(phi=0.01, alpha=100.0),
        terminal_time=1.0,
        max_steps_in_episode=300,
        initial_inventory=1.0,
        max_inventory=1.0,
        max_speed=10.0,
    )
    return Preset(config, params, derive_max_depth=False, description=cj_execution_speed.__doc__)


def market() -> Preset:
    """The plain composition to start from: Brownian mid (S0=100, sigma=2), Poisson market orders
    (140 per side), exponential fills (kappa=1.5), limit quotes, running inventory penalty (phi =
    alpha = 0), T=1 in 200 steps: every number at its component's default."""
    config = compose.config(
        midprice="brownian",
        arrivals="poisson",
        fill="exponential",
        action="limit",
        reward="running_inventory_penalty",
    )
    params = EnvParams(
        midprice=config.midprice.default_params(),
        arrivals=config.arrivals.default_params(),
        fill=config.fill.default_params(),
    )
    return Preset(config, params, description=market.__doc__)


def _swapped(base: Callable[[], Preset], **choices: str) -> Callable[[], Preset]:
    """The preset `base` with the components named in `choices` swapped in (a hybrid)."""

    def build() -> Preset:
        preset = base()
        config, params = compose.with_choices(preset.config, preset.params, choices)
        return dataclasses.replace(preset, config=config, params=params)

    return build


PRESETS: dict[str, Callable[[], Preset]] = {
    # mbt_gym Table 1
    "avellaneda_stoikov": avellaneda_stoikov,
    "cartea_jaimungal_mm": cartea_jaimungal_mm,
    "cartea_jaimungal_touch": _swapped(cartea_jaimungal_mm, action="touch", fill="none"),
    "cjr14": cjr14,
    "glft_jump": glft_jump,
    "cj_execution_lo_mo": cj_execution_lo_mo,
    # mbt_gym Table 2 (hybrids)
    "avellaneda_stoikov_hawkes": lambda: avellaneda_stoikov(hawkes=True),
    "cjr14_touch": _swapped(cjr14, action="touch", fill="none"),
    "cjr14_utility": lambda: cjr14(reward="exponential_utility", gamma=1.0),
    # CJP 2015 §6.5 (mbt_gym roadmap: trading-speed actions)
    "cj_execution_speed": cj_execution_speed,
    # a plain composition to build one's own market from (`compose`)
    "market": market,
}
