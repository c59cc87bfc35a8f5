"""Price impact of trading at speed nu (selling speed; dQ = -nu dt, negative nu buys).

Each model gives, for a step, the execution price's shift from the mid (per unit; negative for a
seller means a worse price), the permanent drift it adds to the mid, and its own state update.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
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


@dataclass(frozen=True)
class PriceImpact:
    """Temporary power impact, plus optional linear permanent and transient (decaying) impact.

    `kind` is "temporary", "temporary_permanent" or "transient"; the kind fixes which parameters may
    be non-zero (checked at `make`). With a transient part the displacement I is added to the mid,
    so the agent marks and trades at S + I; it decays at rate rho (Obizhaeva–Wang style).
    """

    kind: str = "temporary_permanent"
    name: str = "impact"
    obs_names: tuple[str, ...] = ()

    def default_params(self) -> ImpactParams:
        return ImpactParams()

    def validate(self, p: ImpactParams) -> None:
        check.require(
            self.kind in ("temporary", "temporary_permanent", "transient"),
            "impact.kind",
            f"unknown kind {self.kind!r}",
        )
        check.non_negative(p.temporary, "impact.temporary")
        check.positive(p.temporary_exponent, "impact.temporary_exponent")
        check.non_negative(p.permanent, "impact.permanent")
        check.non_negative(p.transient, "impact.transient")
        check.non_negative(p.transient_decay, "impact.transient_decay")
        if self.kind == "temporary":
            check.require(
                float(p.permanent) == 0.0, "impact.permanent", "must be 0 for kind 'temporary'"
            )
        if self.kind != "transient":
            check.require(float(p.transient) == 0.0, "impact.transient", "needs kind 'transient'")

    def init(self, p) -> ImpactState:
        return ImpactState(transient=jnp.zeros((), real_dtype()))

    def step(self, state: ImpactState, p: ImpactParams, dt, speed):
        """Return (new state, execution price shift per unit, mid increment from impact)."""
        temporary = p.temporary * jnp.sign(speed) * jnp.abs(speed) ** p.temporary_exponent
        price_shift = -temporary
        permanent = -p.permanent * speed * dt
        if self.kind == "transient":
            new_transient = (
                state.transient * jnp.exp(-p.transient_decay * dt) - p.transient * speed * dt
            )
            mid_increment = permanent + (new_transient - state.transient)
            return ImpactState(transient=new_transient), price_shift, mid_increment
        return state, price_shift, permanent

    def observe(self, state) -> jax.Array:
        return jnp.zeros((0,), real_dtype())

    def obs_bounds(self, p):
        return jnp.zeros((0,)), jnp.zeros((0,))


__all__ = ["BIG", "ImpactParams", "ImpactState", "PriceImpact"]
