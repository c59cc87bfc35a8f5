"""Fill-probability functions P[fill | depth delta], elementwise per trajectory and per side.

Each model also defines `max_depth`: the depth at which the fill probability falls to 1 %, used as
the upper bound of depth actions (mbt_gym §2.3). A negative depth (a quote through the mid) has
probability 1, except for the exponential model, whose e^{-kappa delta} > 1 there multiplies the
arrival probability as in Avellaneda–Stoikov's simulation (per-step fill probability
min(lambda dt e^{-kappa delta}, 1)).

A model is its class: `ExponentialFill` (params `ExponentialFillParams`: kappa), `TriangularFill`
(`TriangularFillParams`: max_fill_depth), `PowerFill` (`PowerFillParams`: kappa, exponent),
`ExogenousMarketMakerFill` (`ExogenousMMParams`: an exogenous market maker's best depths follow an
OU process; quotes inside them always fill, deeper ones with base e^{-kappa (delta - D)}). Test
`isinstance(env.config.fill, ExponentialFill)` or `isinstance(params.fill, ExponentialFillParams)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import FillModel
from envs.model_based.draws import real_dtype

MIN_FILL_PROBABILITY = 0.01


@struct.dataclass
class ExponentialFillParams:
    kappa: float = 1.5


@dataclass(frozen=True)
class ExponentialFill(FillModel):
    """P = exp(-kappa delta) (above 1 for delta < 0; see the module docstring)."""

    name: ClassVar[str] = "exponential"
    params_type: ClassVar[type] = ExponentialFillParams

    def validate(self, p) -> None:
        check.finite(p.kappa, "fill.kappa")
        check.require(
            float(p.kappa) > 0,
            "fill.kappa",
            f"must be > 0, got {p.kappa!r}: with kappa <= 0 the fill probability exp(-kappa delta)"
            " does not fall with depth, so infinitely deep quotes would fill",
        )

    def probability(self, p, depth: jax.Array, state=None) -> jax.Array:
        return jnp.exp(-p.kappa * depth)

    def max_depth(self, p) -> float:
        return float(np.log(1.0 / MIN_FILL_PROBABILITY) / float(p.kappa))


@struct.dataclass
class TriangularFillParams:
    max_fill_depth: float = 1.0


@dataclass(frozen=True)
class TriangularFill(FillModel):
    """P = 1 - delta / delta_max on [0, delta_max], 0 beyond."""

    name: ClassVar[str] = "triangular"
    params_type: ClassVar[type] = TriangularFillParams

    def validate(self, p) -> None:
        check.positive(p.max_fill_depth, "fill.max_fill_depth")

    def probability(self, p, depth: jax.Array, state=None) -> jax.Array:
        return jnp.clip(1.0 - depth / p.max_fill_depth, 0.0, 1.0)

    def max_depth(self, p) -> float:
        return float((1.0 - MIN_FILL_PROBABILITY) * float(p.max_fill_depth))


@struct.dataclass
class PowerFillParams:
    kappa: float = 1.0
    exponent: float = 2.0


@dataclass(frozen=True)
class PowerFill(FillModel):
    """P = 1 / (1 + (kappa delta)^a) (mbt_gym eq. 8, CJR 2014)."""

    name: ClassVar[str] = "power"
    params_type: ClassVar[type] = PowerFillParams

    def validate(self, p) -> None:
        check.positive(p.kappa, "fill.kappa")
        check.positive(p.exponent, "fill.exponent")

    def probability(self, p, depth: jax.Array, state=None) -> jax.Array:
        return 1.0 / (1.0 + (p.kappa * jnp.maximum(depth, 0.0)) ** p.exponent)

    def max_depth(self, p) -> float:
        ratio = 1.0 / MIN_FILL_PROBABILITY - 1.0
        return float(ratio ** (1.0 / float(p.exponent)) / float(p.kappa))


@struct.dataclass
class ExogenousMMState:
    best_depth: jax.Array  # (2,) [bid, ask] depth of the exogenous market maker's quotes


@struct.dataclass
class ExogenousMMParams:
    kappa: float = 1.5  # decay of the fill probability beyond the exogenous quote
    base_fill_probability: float = 1.0  # P(fill) just beyond the exogenous quote
    initial_best_depth: jax.Array = struct.field(default_factory=lambda: jnp.array([0.5, 0.5]))
    best_depth_mean: jax.Array = struct.field(default_factory=lambda: jnp.array([0.5, 0.5]))
    best_depth_mean_reversion: float = 10.0
    best_depth_sigma: float = 0.0  # volatility of the exogenous depths (0: they revert smoothly)


@dataclass(frozen=True)
class ExogenousMarketMakerFill(FillModel):
    """mbt_gym's ExogenousMmFillProbabilityModel: another market maker quotes at depths D_t per
    side; a quote at or inside them (delta <= D) fills whenever an order arrives, a deeper one with
    probability base e^{-kappa (delta - D)}. D follows an OU process per side (exact transition,
    floored at 0: a depth is never negative), updated after each step's fills; it is observed
    ("best_depth_bid", "best_depth_ask")."""

    name: ClassVar[str] = "exogenous_mm"
    params_type: ClassVar[type] = ExogenousMMParams
    num_normals: ClassVar[int] = 2
    obs_names: ClassVar[tuple[str, ...]] = ("best_depth_bid", "best_depth_ask")

    def validate(self, p) -> None:
        check.positive(p.kappa, "fill.kappa")
        check.in_range(p.base_fill_probability, "fill.base_fill_probability", 0.0, 1.0)
        check.non_negative(p.initial_best_depth, "fill.initial_best_depth")
        check.non_negative(p.best_depth_mean, "fill.best_depth_mean")
        check.non_negative(p.best_depth_mean_reversion, "fill.best_depth_mean_reversion")
        check.non_negative(p.best_depth_sigma, "fill.best_depth_sigma")

    def probability(self, p, depth: jax.Array, state=None) -> jax.Array:
        best = self.init(p).best_depth if state is None else state.best_depth
        beyond = p.base_fill_probability * jnp.exp(-p.kappa * jnp.maximum(depth - best, 0.0))
        return jnp.where(depth <= best, 1.0, beyond)

    def max_depth(self, p) -> float:
        kappa = float(p.kappa)
        spread = float(p.best_depth_sigma) / np.sqrt(
            2.0 * max(float(p.best_depth_mean_reversion), 1e-6)
        )
        deepest = float(np.max(np.asarray(p.best_depth_mean))) + 3.0 * spread
        base = max(float(p.base_fill_probability), MIN_FILL_PROBABILITY)
        return deepest + float(np.log(base / MIN_FILL_PROBABILITY)) / kappa

    def init(self, p) -> ExogenousMMState:
        return ExogenousMMState(best_depth=jnp.asarray(p.initial_best_depth, real_dtype()))

    def step(self, state, p, dt, normals) -> ExogenousMMState:
        theta = p.best_depth_mean_reversion
        factor = jnp.exp(-theta * dt)
        safe = jnp.where(theta > 0, theta, 1.0)
        var = jnp.where(theta > 0, -jnp.expm1(-2.0 * safe * dt) / (2.0 * safe), dt)
        best = p.best_depth_mean + (state.best_depth - p.best_depth_mean) * factor
        best = best + p.best_depth_sigma * jnp.sqrt(var) * normals
        return ExogenousMMState(best_depth=jnp.maximum(best, 0.0))

    def observe(self, state) -> jax.Array:
        return state.best_depth

    def obs_bounds(self, p):
        return jnp.zeros((2,)), jnp.full((2,), 1e18)

    def obs_normalisation(self, p):
        mean = jnp.asarray(p.best_depth_mean)
        return mean, jnp.maximum(mean, 1e-6)


FILL_MODELS: tuple[type[FillModel], ...] = (
    ExponentialFill,
    TriangularFill,
    PowerFill,
    ExogenousMarketMakerFill,
)
