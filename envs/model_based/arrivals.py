"""Market-order arrival models (`components.ArrivalModel`).

Index 0 = sell market orders (they hit our bid), 1 = buy orders.

Each model's `step` receives per-side fill probabilities and returns, for this step, the market
orders that arrived and which of our quotes they filled. In the default Bernoulli mode one uniform
per side decides both: an order arrives when U < lambda dt and fills our quote when
U < lambda dt * p, so P(fill | arrival) = p exactly, with half the random numbers of two draws.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import ArrivalModel
from envs.model_based.draws import real_dtype
from envs.model_based.midprice import BIG


@struct.dataclass
class NoArrivalsState:
    pass


@struct.dataclass
class NoArrivalsParams:
    pass


class _Stateless(ArrivalModel):
    """Shared pieces of arrival models without state (nothing to observe)."""

    def init(self, p) -> NoArrivalsState:
        return NoArrivalsState()

    def observe(self, state) -> jax.Array:
        return jnp.zeros((0,), real_dtype())

    def obs_bounds(self, p):
        return jnp.zeros((0,)), jnp.zeros((0,))

    def obs_normalisation(self, p):
        return jnp.zeros((0,)), jnp.ones((0,))


@dataclass(frozen=True)
class NoArrivals(_Stateless):
    """No market-order flow (execution by trading speed alone); draws no random numbers."""

    name: ClassVar[str] = "none"
    num_uniforms: ClassVar[int] = 0
    obs_names: ClassVar[tuple[str, ...]] = ()
    params_type: ClassVar[type] = NoArrivalsParams

    def with_exact_counts(self, exact: bool) -> NoArrivals:
        raise ValueError("exact_counts: this market has no market-order arrivals to count")

    def validate(self, p, dt: float) -> None:
        return None

    def step(self, key, state, p, dt, uniforms, fill_prob):
        zeros = jnp.zeros((2,), real_dtype())
        return state, zeros, zeros, jnp.zeros((), bool)


def _bernoulli_arrivals_and_fills(uniforms, rate_dt, fill_prob):
    """Arrival iff U < rate*dt; fill iff U < rate*dt*p (one uniform per side)."""
    prob = jnp.minimum(rate_dt, 1.0)
    arrivals = (uniforms < prob).astype(real_dtype())
    fills = (uniforms < prob * fill_prob).astype(real_dtype())
    return arrivals, fills


def _poisson_arrivals_and_fills(key, uniforms, rate_dt, fill_prob):
    """Exact Poisson counts N; our one-unit quote fills if any of the N orders reaches it."""
    counts = jax.random.poisson(key, rate_dt, (2,)).astype(real_dtype())
    fills = uniforms < -jnp.expm1(counts * jnp.log1p(-jnp.minimum(fill_prob, 1.0 - 1e-7)))
    fills = jnp.where(fill_prob >= 1.0, counts > 0, fills)
    return counts, fills.astype(real_dtype())


@struct.dataclass
class PoissonParams:
    rate: jax.Array = struct.field(default_factory=lambda: jnp.array([140.0, 140.0]))


@dataclass(frozen=True)
class _ConstantRateArrivals(_Stateless):
    """Market orders at constant rates [lambda^-, lambda^+]: at most one per side per step with
    probability `_probability(lambda dt)`, or (`exact_counts=True`) exact Poisson counts."""

    exact_counts: bool = False
    num_uniforms: ClassVar[int] = 2
    obs_names: ClassVar[tuple[str, ...]] = ()
    params_type: ClassVar[type] = PoissonParams

    def with_exact_counts(self, exact: bool):
        return dataclasses.replace(self, exact_counts=bool(exact))

    def validate(self, p: PoissonParams, dt: float) -> None:
        check.non_negative(p.rate, "arrivals.rate")

    @staticmethod
    def _probability(rate_dt):
        raise NotImplementedError

    def step(self, key, state, p, dt, uniforms, fill_prob):
        rate_dt = p.rate * dt
        if self.exact_counts:
            arrivals, fills = _poisson_arrivals_and_fills(key, uniforms, rate_dt, fill_prob)
        else:
            prob = self._probability(rate_dt)
            arrivals, fills = _bernoulli_arrivals_and_fills(uniforms, prob, fill_prob)
        return state, arrivals, fills, jnp.zeros((), bool)


@dataclass(frozen=True)
class PoissonArrivals(_ConstantRateArrivals):
    """Poisson market orders at constant rates [lambda^-, lambda^+].

    Default: at most one order per side per step, P = lambda dt (requires lambda dt <= 1, checked at
    `make`). `exact_counts=True` draws Poisson counts instead (slower: rejection sampling).
    """

    name: ClassVar[str] = "poisson"

    def validate(self, p: PoissonParams, dt: float) -> None:
        super().validate(p, dt)
        if not self.exact_counts:
            worst = float(jnp.max(jnp.asarray(p.rate))) * dt
            check.require(
                worst <= 1.0,
                "arrivals.rate",
                f"rate*dt = {worst:.4g} > 1: use more steps or exact_counts=True",
            )

    @staticmethod
    def _probability(rate_dt):
        return rate_dt


@dataclass(frozen=True)
class NonlinearPoissonArrivals(_ConstantRateArrivals):
    """Poisson market orders, at most one per side per step with the exact probability that a
    Poisson process of rate lambda has any event in dt: P = 1 - e^{-lambda dt} (mbt_gym's
    nonlinear arrivals). Any rate is allowed: P < 1 always, so nothing is clipped; for small
    lambda dt it agrees with `PoissonArrivals` to O((lambda dt)^2). (Not a subclass of it: agents
    that solve `PoissonArrivals` markets exactly must not take this one for it.)"""

    name: ClassVar[str] = "poisson_nonlinear"

    @staticmethod
    def _probability(rate_dt):
        return -jnp.expm1(-rate_dt)


@struct.dataclass
class HawkesState:
    intensity: jax.Array  # (2,)


@struct.dataclass
class HawkesParams:
    baseline_rate: jax.Array = struct.field(default_factory=lambda: jnp.array([10.0, 10.0]))
    initial_intensity: jax.Array = struct.field(default_factory=lambda: jnp.array([10.0, 10.0]))
    decay: float = 60.0
    self_excitation: float = 40.0
    cross_excitation: float = 0.0


@dataclass(frozen=True)
class HawkesArrivals(ArrivalModel):
    """Hawkes market orders with exponential kernel (mbt_gym eq. 1, with optional cross-excitation):
    d lambda^i = kappa (lambda_bar - lambda^i) dt + gamma_self dM^i + gamma_cross dM^j.

    The decay over a step is exact; the jumps of this step's orders are added at its end, scaled by
    their mean decay within the step. Stationary
    iff gamma_self + gamma_cross < kappa (checked at `make`); then E[lambda] = lambda_bar / (1 - (gamma_self
    + gamma_cross)/kappa) in continuous time. Arrivals per step are Bernoulli(min(lambda dt, 1)); a step
    where lambda dt > 1 is reported in `info["arrival_prob_clipped"]`, never silently.
    """

    exact_counts: bool = False
    name: ClassVar[str] = "hawkes"
    num_uniforms: ClassVar[int] = 2
    obs_names: ClassVar[tuple[str, ...]] = ("intensity_bid", "intensity_ask")
    params_type: ClassVar[type] = HawkesParams

    def with_exact_counts(self, exact: bool):
        return dataclasses.replace(self, exact_counts=bool(exact))

    def validate(self, p: HawkesParams, dt: float) -> None:
        check.non_negative(p.baseline_rate, "arrivals.baseline_rate")
        check.non_negative(p.initial_intensity, "arrivals.initial_intensity")
        check.positive(p.decay, "arrivals.decay")
        check.non_negative(p.self_excitation, "arrivals.self_excitation")
        check.non_negative(p.cross_excitation, "arrivals.cross_excitation")
        branching = (float(p.self_excitation) + float(p.cross_excitation)) / float(p.decay)
        check.require(
            branching < 1.0,
            "arrivals.self_excitation",
            f"explosive kernel: (self_excitation + cross_excitation) / decay = {branching:.4g} >= 1",
        )
        if not self.exact_counts:
            worst = float(jnp.max(jnp.asarray(p.baseline_rate))) / (1.0 - branching) * dt
            check.require(
                worst <= 1.0,
                "arrivals.baseline_rate",
                f"stationary intensity * dt = {worst:.4g} > 1: use more steps",
            )

    def init(self, p) -> HawkesState:
        return HawkesState(intensity=jnp.asarray(p.initial_intensity, real_dtype()))

    def step(self, key, state, p, dt, uniforms, fill_prob):
        rate_dt = state.intensity * dt
        clipped = jnp.any(rate_dt > 1.0)
        if self.exact_counts:
            arrivals, fills = _poisson_arrivals_and_fills(key, uniforms, rate_dt, fill_prob)
            clipped = jnp.zeros((), bool)
        else:
            arrivals, fills = _bernoulli_arrivals_and_fills(uniforms, rate_dt, fill_prob)
        decay = jnp.exp(-p.decay * dt)
        # An order arriving at a uniform time within the step has decayed by the step's end, on
        # average, by (1 - e^{-kappa dt}) / (kappa dt): applying that factor to the jump makes the
        # stationary mean of the discrete intensity exactly lambda_bar / (1 - gamma / kappa).
        mean_decay = -jnp.expm1(-p.decay * dt) / (p.decay * dt)
        excitation = p.self_excitation * arrivals + p.cross_excitation * arrivals[::-1]
        intensity = (
            p.baseline_rate + (state.intensity - p.baseline_rate) * decay + excitation * mean_decay
        )
        return HawkesState(intensity=intensity), arrivals, fills, clipped

    def observe(self, state) -> jax.Array:
        return state.intensity

    def obs_bounds(self, p):
        return jnp.zeros((2,)), jnp.full((2,), BIG)

    def obs_normalisation(self, p):
        branching = (p.self_excitation + p.cross_excitation) / p.decay
        mean = p.baseline_rate / (1.0 - branching)
        return mean, jnp.maximum(mean, 1e-6)
