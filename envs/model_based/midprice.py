"""Mid-price models (`components.MidPriceModel`): frozen dataclasses with pure `init`/`step`.

`step` returns the new state and the price *increment* dS, so rewards can be computed from
increments (inventory x dS) rather than from differences of large float32 totals.
Conventions: `arrivals` is (2,) = [sell market orders (hit our bid), buy market orders (lift our
ask)] this step; `impact_drift` is the permanent price impact of the agent's own trading this step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import MidPriceModel
from envs.model_based.draws import real_dtype

BIG = 1e18


def _ou_decay(kappa: jax.Array, dt: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact OU transition over dt: mean factor e^{-kappa dt} and variance per unit sigma^2.

    The variance (1 - e^{-2 kappa dt}) / (2 kappa) tends to dt as kappa -> 0; computed with expm1
    and a safe denominator so kappa = 0 is exact Brownian motion.
    """
    factor = jnp.exp(-kappa * dt)
    safe = jnp.where(kappa > 0, kappa, 1.0)
    var = jnp.where(kappa > 0, -jnp.expm1(-2.0 * safe * dt) / (2.0 * safe), dt)
    return factor, var


@struct.dataclass
class PriceState:
    """State of a one-factor price model."""

    price: jax.Array


@struct.dataclass
class PriceAlphaState:
    """Price plus a drift (alpha) or variance factor."""

    price: jax.Array
    factor: jax.Array


class _OnePrice(MidPriceModel):
    """Shared pieces of the models whose whole state is the price."""

    price_floor: ClassVar[float] = -BIG  # lower bound of the price in the observation space

    def init(self, p) -> PriceState:
        return PriceState(price=jnp.asarray(p.initial_price, real_dtype()))

    def observe(self, state) -> jax.Array:
        return jnp.stack([state.price])

    def obs_bounds(self, p):
        return jnp.array([self.price_floor]), jnp.array([BIG])


# --------------------------------------------------------------------------- Brownian family


@struct.dataclass
class BrownianParams:
    initial_price: float = 100.0
    drift: float = 0.0
    sigma: float = 2.0


@dataclass(frozen=True)
class BrownianMotion(_OnePrice):
    """Arithmetic Brownian motion S_t = S_0 + mu t + sigma W_t (mbt_gym eq. 2), exact steps."""

    name: ClassVar[str] = "brownian"
    num_normals: ClassVar[int] = 1
    obs_names: ClassVar[tuple[str, ...]] = ("midprice",)
    params_type: ClassVar[type] = BrownianParams

    def validate(self, p: BrownianParams) -> None:
        check.finite(p.initial_price, "midprice.initial_price")
        check.finite(p.drift, "midprice.drift")
        check.non_negative(p.sigma, "midprice.sigma")

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        ds = p.drift * dt + p.sigma * jnp.sqrt(dt) * normals[0] + impact_drift
        return PriceState(price=state.price + ds), ds

    def obs_normalisation(self, p, horizon):
        scale = jnp.maximum(p.sigma * jnp.sqrt(horizon), 1e-6)
        return jnp.stack([p.initial_price]), jnp.stack([scale])


@struct.dataclass
class JumpParams:
    initial_price: float = 100.0
    sigma: float = 0.3
    jump_size: jax.Array = struct.field(default_factory=lambda: jnp.array([0.01, 0.01]))


@dataclass(frozen=True)
class BrownianMotionJump(_OnePrice):
    """S_t = S_0 + sigma W_t - xi^- M^-_t + xi^+ M^+_t: market orders move the price (GLFT §5.2, eq. 4).

    `jump_size` is [xi^-, xi^+]: a sell market order moves the mid down by xi^-, a buy one up by xi^+.
    """

    name: ClassVar[str] = "brownian_jump"
    num_normals: ClassVar[int] = 1
    obs_names: ClassVar[tuple[str, ...]] = ("midprice",)
    params_type: ClassVar[type] = JumpParams

    def validate(self, p: JumpParams) -> None:
        check.finite(p.initial_price, "midprice.initial_price")
        check.non_negative(p.sigma, "midprice.sigma")
        check.non_negative(p.jump_size, "midprice.jump_size")

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        jumps = p.jump_size[1] * arrivals[1] - p.jump_size[0] * arrivals[0]
        ds = p.sigma * jnp.sqrt(dt) * normals[0] + jumps + impact_drift
        return PriceState(price=state.price + ds), ds

    def obs_normalisation(self, p, horizon):
        scale = jnp.maximum(p.sigma * jnp.sqrt(horizon), 1e-6)
        return jnp.stack([p.initial_price]), jnp.stack([scale])


@struct.dataclass
class GeometricParams:
    initial_price: float = 100.0
    drift: float = 0.0
    sigma: float = 0.2


@dataclass(frozen=True)
class GeometricBrownianMotion(_OnePrice):
    """dS = mu S dt + sigma S dW (mbt_gym eq. 3), stepped exactly: S' = S exp((mu - sigma^2/2)dt + sigma dW)."""

    name: ClassVar[str] = "geometric"
    num_normals: ClassVar[int] = 1
    obs_names: ClassVar[tuple[str, ...]] = ("midprice",)
    params_type: ClassVar[type] = GeometricParams
    price_floor: ClassVar[float] = 0.0

    def validate(self, p: GeometricParams) -> None:
        check.positive(p.initial_price, "midprice.initial_price")
        check.finite(p.drift, "midprice.drift")
        check.non_negative(p.sigma, "midprice.sigma")

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        log_step = (p.drift - 0.5 * p.sigma**2) * dt + p.sigma * jnp.sqrt(dt) * normals[0]
        ds = state.price * jnp.expm1(log_step) + impact_drift
        return PriceState(price=state.price + ds), ds

    def obs_normalisation(self, p, horizon):
        scale = jnp.maximum(p.initial_price * p.sigma * jnp.sqrt(horizon), 1e-6)
        return jnp.stack([p.initial_price]), jnp.stack([scale])


# --------------------------------------------------------------------------- mean reversion


@struct.dataclass
class OUParams:
    initial_price: float = 100.0
    mean_level: float = 100.0
    mean_reversion: float = 1.0
    sigma: float = 1.0


@dataclass(frozen=True)
class _MeanReverting(_OnePrice):
    """What the OU mids share: their fields' checks, the exact OU increment over dt, and the
    observation's normalisation (neither OU model is the other's subclass)."""

    num_normals: ClassVar[int] = 1
    obs_names: ClassVar[tuple[str, ...]] = ("midprice",)

    def validate(self, p) -> None:
        check.finite(p.initial_price, "midprice.initial_price")
        check.finite(p.mean_level, "midprice.mean_level")
        check.non_negative(p.mean_reversion, "midprice.mean_reversion")
        check.non_negative(p.sigma, "midprice.sigma")

    def ou_increment(self, state, p, dt, normals) -> jax.Array:
        """The exact OU transition's increment, written as (S_bar - S)(1 - e^{-k dt}) + noise so
        that it stays small in float32."""
        _, var = _ou_decay(p.mean_reversion, dt)
        ds = (p.mean_level - state.price) * (-jnp.expm1(-p.mean_reversion * dt))
        return ds + p.sigma * jnp.sqrt(var) * normals[0]

    def obs_normalisation(self, p, horizon):
        scale = jnp.maximum(p.sigma * jnp.sqrt(horizon), 1e-6)
        return jnp.stack([p.mean_level]), jnp.stack([scale])


@dataclass(frozen=True)
class OrnsteinUhlenbeck(_MeanReverting):
    """dS = kappa (S_bar - S) dt + sigma dW, stepped with the exact transition over dt.

    (mbt_gym applies the mean reversion without the dt factor; here the reversion rate is per unit time.)
    """

    name: ClassVar[str] = "ou"
    params_type: ClassVar[type] = OUParams

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        ds = self.ou_increment(state, p, dt, normals) + impact_drift
        return PriceState(price=state.price + ds), ds


@struct.dataclass
class OUJumpParams:
    initial_price: float = 100.0
    mean_level: float = 100.0
    mean_reversion: float = 1.0
    sigma: float = 1.0
    jump_size: jax.Array = struct.field(default_factory=lambda: jnp.array([0.01, 0.01]))


@dataclass(frozen=True)
class OrnsteinUhlenbeckJump(_MeanReverting):
    """dS = kappa (S_bar - S) dt + sigma dW - xi^- dM^- + xi^+ dM^+: a mean-reverting mid that
    market orders move (mbt_gym's OuJumpMidpriceModel, eq. 7 for the price itself).

    The exact OU transition over dt, then the jumps of this step's market orders (so a jump starts
    reverting on the next step). `jump_size` is [xi^-, xi^+]."""

    name: ClassVar[str] = "ou_jump"
    params_type: ClassVar[type] = OUJumpParams

    def validate(self, p: OUJumpParams) -> None:
        super().validate(p)
        check.non_negative(p.jump_size, "midprice.jump_size")

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        jumps = p.jump_size[1] * arrivals[1] - p.jump_size[0] * arrivals[0]
        ds = self.ou_increment(state, p, dt, normals) + jumps + impact_drift
        return PriceState(price=state.price + ds), ds


@struct.dataclass
class OUDriftParams:
    initial_price: float = 100.0
    sigma: float = 0.01
    initial_alpha: float = 0.0
    alpha_mean: float = 0.0
    alpha_mean_reversion: float = 10.0
    alpha_sigma: float = 0.01
    alpha_jump: jax.Array = struct.field(default_factory=lambda: jnp.array([0.0, 0.0]))


@dataclass(frozen=True)
class OUDrift(MidPriceModel):
    """dS = alpha dt + sigma dW^S with alpha an OU process (eqs. 5-6); with `jumps`, eq. 7 (CJR 2014):
    d alpha = kappa (alpha_bar - alpha) dt + sigma_alpha dW^alpha - xi^- dM^- + xi^+ dM^+.

    S uses an Euler step with the drift at the start of the step; alpha uses its exact transition,
    then the jumps of this step's market orders. `alpha_jump` is [xi^-, xi^+].
    """

    jumps: bool = False
    name: ClassVar[str] = "ou_drift"
    num_normals: ClassVar[int] = 2
    obs_names: ClassVar[tuple[str, ...]] = ("midprice", "alpha")
    params_type: ClassVar[type] = OUDriftParams

    def validate(self, p: OUDriftParams) -> None:
        check.finite(p.initial_price, "midprice.initial_price")
        check.non_negative(p.sigma, "midprice.sigma")
        check.finite(p.initial_alpha, "midprice.initial_alpha")
        check.finite(p.alpha_mean, "midprice.alpha_mean")
        check.non_negative(p.alpha_mean_reversion, "midprice.alpha_mean_reversion")
        check.non_negative(p.alpha_sigma, "midprice.alpha_sigma")
        check.non_negative(p.alpha_jump, "midprice.alpha_jump")

    def init(self, p) -> PriceAlphaState:
        return PriceAlphaState(
            price=jnp.asarray(p.initial_price, real_dtype()),
            factor=jnp.asarray(p.initial_alpha, real_dtype()),
        )

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        alpha = state.factor
        ds = alpha * dt + p.sigma * jnp.sqrt(dt) * normals[0] + impact_drift
        factor, var = _ou_decay(p.alpha_mean_reversion, dt)
        new_alpha = p.alpha_mean + (alpha - p.alpha_mean) * factor
        new_alpha = new_alpha + p.alpha_sigma * jnp.sqrt(var) * normals[1]
        if self.jumps:
            new_alpha = new_alpha + p.alpha_jump[1] * arrivals[1] - p.alpha_jump[0] * arrivals[0]
        return PriceAlphaState(price=state.price + ds, factor=new_alpha), ds

    def observe(self, state) -> jax.Array:
        return jnp.stack([state.price, state.factor])

    def obs_bounds(self, p):
        return jnp.array([-BIG, -BIG]), jnp.array([BIG, BIG])

    def obs_normalisation(self, p, horizon):
        price_scale = jnp.maximum(p.sigma * jnp.sqrt(horizon), 1e-6)
        kappa = jnp.maximum(p.alpha_mean_reversion, 1e-6)
        alpha_scale = jnp.maximum(
            p.alpha_sigma / jnp.sqrt(2 * kappa) + jnp.max(p.alpha_jump) * 3.0, 1e-6
        )
        return (
            jnp.stack([p.initial_price, p.alpha_mean]),
            jnp.stack([price_scale, alpha_scale]),
        )


# --------------------------------------------------------------------------- stochastic volatility


@struct.dataclass
class HestonParams:
    initial_price: float = 100.0
    drift: float = 0.0
    initial_variance: float = 0.04
    variance_mean_reversion: float = 2.0
    long_run_variance: float = 0.04
    vol_of_vol: float = 0.3
    correlation: float = -0.7


@dataclass(frozen=True)
class Heston(MidPriceModel):
    """dS = mu S dt + sqrt(v) S dW^1, dv = kappa (theta - v) dt + xi sqrt(v) dW^2, corr rho.

    Log-Euler for S and full-truncation Euler for v (v+ = max(v, 0) in drift and diffusion), so the
    price stays positive; every operation is elementwise, so batches of paths never interact.
    """

    name: ClassVar[str] = "heston"
    num_normals: ClassVar[int] = 2
    obs_names: ClassVar[tuple[str, ...]] = ("midprice", "variance")
    params_type: ClassVar[type] = HestonParams

    def validate(self, p: HestonParams) -> None:
        check.positive(p.initial_price, "midprice.initial_price")
        check.finite(p.drift, "midprice.drift")
        check.non_negative(p.initial_variance, "midprice.initial_variance")
        check.non_negative(p.variance_mean_reversion, "midprice.variance_mean_reversion")
        check.non_negative(p.long_run_variance, "midprice.long_run_variance")
        check.non_negative(p.vol_of_vol, "midprice.vol_of_vol")
        check.in_range(p.correlation, "midprice.correlation", -1.0, 1.0)

    def init(self, p) -> PriceAlphaState:
        return PriceAlphaState(
            price=jnp.asarray(p.initial_price, real_dtype()),
            factor=jnp.asarray(p.initial_variance, real_dtype()),
        )

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        v_pos = jnp.maximum(state.factor, 0.0)
        sqrt_dt = jnp.sqrt(dt)
        z_price = normals[0]
        z_var = p.correlation * normals[0] + jnp.sqrt(1.0 - p.correlation**2) * normals[1]
        log_step = (p.drift - 0.5 * v_pos) * dt + jnp.sqrt(v_pos) * sqrt_dt * z_price
        ds = state.price * jnp.expm1(log_step) + impact_drift
        new_v = (
            state.factor
            + p.variance_mean_reversion * (p.long_run_variance - v_pos) * dt
            + p.vol_of_vol * jnp.sqrt(v_pos) * sqrt_dt * z_var
        )
        return PriceAlphaState(price=state.price + ds, factor=new_v), ds

    def observe(self, state) -> jax.Array:
        return jnp.stack([state.price, state.factor])

    def obs_bounds(self, p):
        return jnp.array([0.0, -BIG]), jnp.array([BIG, BIG])

    def obs_normalisation(self, p, horizon):
        price_scale = jnp.maximum(p.initial_price * jnp.sqrt(p.long_run_variance * horizon), 1e-6)
        return (
            jnp.stack([p.initial_price, p.long_run_variance]),
            jnp.stack([price_scale, jnp.maximum(p.long_run_variance, 1e-6)]),
        )


@struct.dataclass
class CEVParams:
    initial_price: float = 100.0
    drift: float = 0.0
    sigma: float = 2.0
    elasticity: float = 0.5


@dataclass(frozen=True)
class CEV(_OnePrice):
    """Constant elasticity of variance: dS = mu S dt + sigma S^beta dW, Euler, absorbed at 0
    (0 is an absorbing state for every elasticity in [0, 2], so S is a martingale when mu = 0)."""

    name: ClassVar[str] = "cev"
    num_normals: ClassVar[int] = 1
    obs_names: ClassVar[tuple[str, ...]] = ("midprice",)
    params_type: ClassVar[type] = CEVParams
    price_floor: ClassVar[float] = 0.0

    def validate(self, p: CEVParams) -> None:
        check.positive(p.initial_price, "midprice.initial_price")
        check.finite(p.drift, "midprice.drift")
        check.non_negative(p.sigma, "midprice.sigma")
        check.in_range(p.elasticity, "midprice.elasticity", 0.0, 2.0)

    def step(self, state, p, dt, normals, arrivals, impact_drift):
        s = jnp.maximum(state.price, 0.0)
        ds = p.drift * s * dt + p.sigma * s**p.elasticity * jnp.sqrt(dt) * normals[0]
        # Absorbed at zero: a step never goes below 0, and a price at 0 stays there (s^0 = 1, so
        # without the second rule elasticity 0 would diffuse away from 0 again).
        ds = jnp.where(s > 0.0, jnp.maximum(ds + impact_drift, -s), 0.0)
        return PriceState(price=state.price + ds), ds

    def obs_normalisation(self, p, horizon):
        scale = jnp.maximum(p.sigma * p.initial_price**p.elasticity * jnp.sqrt(horizon), 1e-6)
        return jnp.stack([p.initial_price]), jnp.stack([scale])
