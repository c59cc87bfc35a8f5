"""The declared interfaces of a model-based market's components.

A market is (mid-price model, arrival model, fill model, optional price impact, action type,
reward). Each concrete component is a frozen dataclass (static and hashable: its fields choose
code paths and shapes, never numbers) subclassing one of these bases; its numbers live in its
params pytree (`params_type`), traced and vmappable. The environment calls only the methods
declared here, so a new model is a new class, never a new branch in the environment.

Conventions: per-side arrays are [bid, ask]; `arrivals` is [sell market orders (they hit our
bid), buy market orders (they lift our ask)]; `dt` is the step length.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces


class Component(abc.ABC):
    """What every component has: a short name."""

    name: ClassVar[str]  # short name, for reports and error messages


class Parametrised(Component):
    """A component with its own numbers: a params pytree whose defaults run."""

    params_type: ClassVar[type]  # a flax struct dataclass; `EnvParams` holds one of these

    def default_params(self) -> Any:
        return self.params_type()


class MidPriceModel(Parametrised):
    """The mid-price S_t (and any factor driving it: a drift, a variance)."""

    num_normals: ClassVar[int]  # N(0,1) draws one step consumes
    obs_names: ClassVar[tuple[str, ...]]  # what `observe` returns, in order

    @abc.abstractmethod
    def validate(self, p) -> None:
        """Raise a one-line ValueError naming the first field the model cannot run with."""

    @abc.abstractmethod
    def init(self, p) -> Any:
        """The state at time 0; it has a `price` field."""

    @abc.abstractmethod
    def step(self, state, p, dt, normals, arrivals, impact_drift) -> tuple[Any, jax.Array]:
        """(new state, price increment dS) over one step, including the agent's impact drift."""

    @abc.abstractmethod
    def observe(self, state) -> jax.Array:
        """The observed features, shape (len(obs_names),)."""

    @abc.abstractmethod
    def obs_bounds(self, p) -> tuple[jax.Array, jax.Array]:
        """(low, high) of `observe`."""

    @abc.abstractmethod
    def obs_normalisation(self, p, horizon) -> tuple[jax.Array, jax.Array]:
        """(centre, scale) that map `observe` to roughly [-1, 1] over an episode."""


class ArrivalModel(Parametrised):
    """Other traders' market orders, and which of our live quotes they fill."""

    num_uniforms: ClassVar[int]  # U[0,1) draws one step consumes
    obs_names: ClassVar[tuple[str, ...]]  # what `observe` returns, in order
    exact_counts: bool = False  # True: `step` draws Poisson counts from its own key

    @abc.abstractmethod
    def with_exact_counts(self, exact: bool) -> ArrivalModel:
        """This model with exact Poisson counts per step (or at most one order per side)."""

    @abc.abstractmethod
    def validate(self, p, dt: float) -> None:
        """Raise a one-line ValueError naming the first field the model cannot run with."""

    @abc.abstractmethod
    def init(self, p) -> Any:
        """The state at time 0."""

    @abc.abstractmethod
    def step(self, key, state, p, dt, uniforms, fill_prob):
        """(new state, arrivals (2,), fills (2,), arrival probability clipped ()) of one step.

        `fill_prob` is P(fill | arrival) of our quote per side (0 where none is live); `key` is
        used only when `exact_counts`."""

    @abc.abstractmethod
    def observe(self, state) -> jax.Array:
        """The observed features, shape (len(obs_names),)."""

    @abc.abstractmethod
    def obs_bounds(self, p) -> tuple[jax.Array, jax.Array]:
        """(low, high) of `observe`."""

    @abc.abstractmethod
    def obs_normalisation(self, p) -> tuple[jax.Array, jax.Array]:
        """(centre, scale) of `observe`."""


class Unobserved(Parametrised):
    """A component whose state (if any) is not observed by default: an empty observation."""

    obs_names: ClassVar[tuple[str, ...]] = ()  # what `observe` returns (its state), in order

    def observe(self, state) -> jax.Array:
        """The observed state, shape (len(obs_names),)."""
        return jnp.zeros((0,), jnp.float32)

    def obs_bounds(self, p) -> tuple[jax.Array, jax.Array]:
        """(low, high) of `observe`."""
        return jnp.zeros((0,)), jnp.zeros((0,))

    def obs_normalisation(self, p) -> tuple[jax.Array, jax.Array]:
        """(centre, scale) of `observe`."""
        return jnp.zeros((0,)), jnp.ones((0,))


class FillModel(Unobserved):
    """P[fill | a market order arrives] of a quote at depth delta from the mid.

    What a model is, is its class (and its `params_type`): test `isinstance(fill, ExponentialFill)`
    or `isinstance(params.fill, ExponentialFillParams)`, never the presence of a field."""

    num_normals: ClassVar[int] = 0  # N(0,1) draws one step of its state consumes

    @abc.abstractmethod
    def validate(self, p) -> None:
        """Raise a one-line ValueError naming the first field the model cannot run with."""

    @abc.abstractmethod
    def probability(self, p, depth: jax.Array, state=None) -> jax.Array:
        """Elementwise fill probability at `depth` (no reduction over sides or batch), given the
        model's state (`None` for a model without one)."""

    # A fill model may carry a state (the exogenous market maker's quotes); by default none.
    def init(self, p) -> Any:
        """The state at time 0."""
        return None

    def step(self, state, p, dt, normals) -> Any:
        """The state after one step (after this step's fills)."""
        return state

    @abc.abstractmethod
    def max_depth(self, p) -> float:
        """The depth where the probability falls to 1 % (the default bound of depth actions)."""


class PriceImpact(Unobserved):
    """How trading at selling speed nu (dQ = -nu dt) moves execution prices and the mid."""

    @abc.abstractmethod
    def validate(self, p) -> None:
        """Raise a one-line ValueError naming the first field the model cannot run with."""

    @abc.abstractmethod
    def init(self, p) -> Any:
        """The impact state at time 0 (an `ImpactState`)."""

    @abc.abstractmethod
    def step(self, state, p, dt, speed) -> tuple[Any, jax.Array, jax.Array]:
        """(new state, execution price shift per unit, mid increment from impact)."""


@struct.dataclass
class Orders:
    """What an action asks for this step, whatever its type."""

    depths: jax.Array  # (2,) [bid, ask] distance of our quotes from the mid
    quoted: jax.Array  # (2,) bool: a quote is live on that side
    market: jax.Array  # (2,) float {0,1}: [buy, sell] one-unit market orders
    speed: jax.Array  # () selling speed nu


class ActionType(Component):
    """How an action vector becomes this step's `Orders` (its numbers are `EnvParams` fields:
    depth and speed bounds, the half-spread)."""

    size: ClassVar[int]  # length of the action vector
    needs_fill: ClassVar[bool] = False  # its quotes fill through the market's fill model
    needs_impact: ClassVar[bool] = False  # it trades at speed, through the price impact model

    @abc.abstractmethod
    def space(self, params) -> spaces.Space:
        """The action space given the market's `EnvParams`."""

    @abc.abstractmethod
    def decode(self, action: jax.Array, params) -> tuple[Orders, jax.Array]:
        """(orders the action means, whether it was invalid (NaN) and replaced by no orders)."""

    @abc.abstractmethod
    def fill_probability(
        self, fill, fill_params, orders: Orders, quoted: jax.Array, fill_state=None
    ) -> jax.Array:
        """P(fill | arrival) per side of the quotes live in `quoted` (0 where none is)."""


class Reward(Parametrised):
    """The reward of a step, from its increments (pnl) and the inventory held over it."""

    penalised: ClassVar[bool]  # it charges running / terminal inventory penalties

    @abc.abstractmethod
    def validate(self, p) -> None:
        """Raise a one-line ValueError naming the first field the reward cannot run with."""

    @abc.abstractmethod
    def penalties(
        self, p, inventory, previous_inventory, dt, is_first, is_last
    ) -> tuple[jax.Array, jax.Array]:
        """(running, terminal) inventory penalties of this step (0 where the reward has none);
        `inventory` is held over the step (after its trades), `previous_inventory` before them."""

    @abc.abstractmethod
    def reward(self, p, pnl, episode_pnl, running, terminal, is_last) -> jax.Array:
        """Reward of a step given its pnl, the episode pnl so far (including it) and penalties."""
