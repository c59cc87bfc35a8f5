"""Price impact of trading at speed nu (selling speed; dQ = -nu dt, negative nu buys).

Each model gives, for a step, the execution price's shift from the mid (per unit; negative for a
seller means a worse price), the impact it adds to the mid, and its own state update:
- `TemporaryImpact`: execution price S - k sign(nu) |nu|^beta; the mid is untouched;
- `TemporaryPermanentImpact`: plus a linear permanent drift dS += -b nu dt;
- `TransientImpact`: plus a transient displacement I (dI = -c nu dt, decaying as e^{-rho dt})
  added to the mid, so the agent marks and trades at S + I (Obizhaeva–Wang style). It starts at
  `initial_transient` (I_0: an impact left by earlier trading, decaying from t = 0 on; the mid's
  own initial price already includes it) and is observed ("transient_impact").
All share `ImpactParams`; a model checks at `make` that the parts it lacks are 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import PriceImpact
from envs.model_based.draws import real_dtype
from envs.model_based.midprice import BIG


@struct.dataclass
class ImpactState:
    transient: jax.Array  # accumulated transient price displacement (0 for other models)


@struct.dataclass
class ImpactParams:
    temporary: float = 0.0  # k: execution price = S - k sign(nu) |nu|^beta
    temporary_exponent: float = 1.0  # beta
    permanent: float = 0.0  # b: dS gains -b nu dt
    transient: float = 0.0  # c: transient displacement I gains -c nu dt
    transient_decay: float = 0.0  # rho: I decays as e^{-rho dt}
    initial_transient: float = 0.0  # I_0: transient displacement at t = 0


def no_impact_state() -> ImpactState:
    """The impact state of a market without a price impact model (kept for a fixed state tree)."""
    return ImpactState(transient=jnp.zeros((), real_dtype()))


def _check_signs(p: ImpactParams) -> None:
    check.non_negative(p.temporary, "impact.temporary")
    check.positive(p.temporary_exponent, "impact.temporary_exponent")
    check.non_negative(p.permanent, "impact.permanent")
    check.non_negative(p.transient, "impact.transient")
    check.non_negative(p.transient_decay, "impact.transient_decay")
    check.finite(p.initial_transient, "impact.initial_transient")


def _require_zero(value, field: str, model: str) -> None:
    check.require(float(value) == 0.0, field, f"must be 0 for {model}")


def _temporary_shift(p: ImpactParams, speed) -> jax.Array:
    return -p.temporary * jnp.sign(speed) * jnp.abs(speed) ** p.temporary_exponent


def _permanent_increment(p: ImpactParams, dt, speed) -> jax.Array:
    return -p.permanent * speed * dt


class _Impact(PriceImpact):
    params_type: ClassVar[type] = ImpactParams

    def init(self, p) -> ImpactState:
        return no_impact_state()


@dataclass(frozen=True)
class TemporaryImpact(_Impact):
    """Temporary power impact only."""

    name: ClassVar[str] = "temporary"

    def validate(self, p: ImpactParams) -> None:
        _check_signs(p)
        _require_zero(p.permanent, "impact.permanent", "TemporaryImpact")
        _require_zero(p.transient, "impact.transient", "TemporaryImpact")
        _require_zero(p.initial_transient, "impact.initial_transient", "TemporaryImpact")

    def step(self, state: ImpactState, p: ImpactParams, dt, speed):
        shift = _temporary_shift(p, speed)
        return state, shift, jnp.zeros_like(shift)


@dataclass(frozen=True)
class TemporaryPermanentImpact(_Impact):
    """Temporary power impact plus linear permanent impact (CJP §6.5)."""

    name: ClassVar[str] = "temporary_permanent"

    def validate(self, p: ImpactParams) -> None:
        _check_signs(p)
        _require_zero(p.transient, "impact.transient", "TemporaryPermanentImpact")
        _require_zero(p.initial_transient, "impact.initial_transient", "TemporaryPermanentImpact")

    def step(self, state: ImpactState, p: ImpactParams, dt, speed):
        return state, _temporary_shift(p, speed), _permanent_increment(p, dt, speed)


@dataclass(frozen=True)
class TransientImpact(_Impact):
    """Temporary, permanent and a transient displacement of the mid that decays at rate rho."""

    name: ClassVar[str] = "transient"
    obs_names: ClassVar[tuple[str, ...]] = ("transient_impact",)

    def validate(self, p: ImpactParams) -> None:
        _check_signs(p)

    def init(self, p: ImpactParams) -> ImpactState:
        return ImpactState(transient=jnp.asarray(p.initial_transient, real_dtype()))

    def observe(self, state: ImpactState) -> jax.Array:
        return jnp.stack([state.transient])

    def obs_bounds(self, p):
        return jnp.array([-BIG]), jnp.array([BIG])

    def obs_normalisation(self, p):
        return jnp.zeros((1,)), jnp.ones((1,))

    def step(self, state: ImpactState, p: ImpactParams, dt, speed):
        decayed = state.transient * jnp.exp(-p.transient_decay * dt)
        transient = decayed - p.transient * speed * dt
        mid_increment = _permanent_increment(p, dt, speed) + (transient - state.transient)
        return ImpactState(transient=transient), _temporary_shift(p, speed), mid_increment


IMPACT_MODELS: tuple[type[PriceImpact], ...] = (
    TemporaryImpact,
    TemporaryPermanentImpact,
    TransientImpact,
)

__all__ = [
    "IMPACT_MODELS",
    "ImpactParams",
    "ImpactState",
    "PriceImpact",
    "TemporaryImpact",
    "TemporaryPermanentImpact",
    "TransientImpact",
    "no_impact_state",
]
