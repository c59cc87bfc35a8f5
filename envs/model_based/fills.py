"""Fill-probability functions P[fill | depth delta], elementwise per trajectory and per side.

Each model also defines `max_depth`: the depth at which the fill probability falls to 1 %, used as
the upper bound of depth actions (mbt_gym §2.3). A negative depth (a quote through the mid) has
probability 1, except for the exponential model, whose e^{-kappa delta} > 1 there multiplies the
arrival probability as in Avellaneda–Stoikov's simulation (per-step fill probability
min(lambda dt e^{-kappa delta}, 1)).

A model is its class: `ExponentialFill` (params `ExponentialFillParams`: kappa), `TriangularFill`
(`TriangularFillParams`: max_fill_depth), `PowerFill` (`PowerFillParams`: kappa, exponent). Test
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
        check.positive(p.kappa, "fill.kappa")

    def probability(self, p, depth: jax.Array) -> jax.Array:
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

    def probability(self, p, depth: jax.Array) -> jax.Array:
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

    def probability(self, p, depth: jax.Array) -> jax.Array:
        return 1.0 / (1.0 + (p.kappa * jnp.maximum(depth, 0.0)) ** p.exponent)

    def max_depth(self, p) -> float:
        ratio = 1.0 / MIN_FILL_PROBABILITY - 1.0
        return float(ratio ** (1.0 / float(p.exponent)) / float(p.kappa))
