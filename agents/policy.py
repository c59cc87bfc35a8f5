"""The one policy interface: every agent, trained or not, acts through `step(state, key, obs)`.

A policy is a pytree (its numbers traced, so one compiled rollout serves every agent of a class)
with two methods, for one environment (rollouts vmap them):

- ``initial_state()``: the policy's own state at the start of an episode (a GRU's hidden state;
  ``()`` for a stateless agent);
- ``step(state, key, obs) -> (action, state)``: the action for ``obs`` and the state after it.

Stateless agents (closed forms, tables, schedules, baselines) implement ``__call__(key, obs)`` and
inherit `Stateless`, which supplies both methods; plain functions ``f(key, obs)`` become policies
through `as_policy`. Trained networks, feed-forward and recurrent alike, implement the two methods
directly (`agents.learned.TrainedPolicy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
from flax import struct


@runtime_checkable
class Policy(Protocol):
    """What every rollout and evaluation in the project calls."""

    def initial_state(self) -> Any: ...

    def step(self, state: Any, key: jax.Array, obs: jax.Array) -> tuple[jax.Array, Any]: ...


class Stateless:
    """Mixin for agents that are a pure ``__call__(key, obs) -> action``: they carry no state."""

    def initial_state(self) -> tuple:
        return ()

    def step(self, state, key: jax.Array, obs: jax.Array):
        return self(key, obs), state


@struct.dataclass
class FunctionPolicy(Stateless):
    """A plain function ``f(key, obs) -> action`` as a policy (the function is static: each
    function object compiles on its own)."""

    fn: Callable[[jax.Array, jax.Array], jax.Array] = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        return self.fn(key, obs)


@struct.dataclass
class CallablePytreePolicy(Stateless):
    """A callable pytree ``f(key, obs)`` (numbers as leaves) that does not declare `Policy`: its
    numbers stay traced, so one compilation serves every instance of its class."""

    fn: Any

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        return self.fn(key, obs)


def as_policy(policy) -> Policy:
    """`policy` itself when it implements `Policy`, else a callable ``f(key, obs)`` wrapped."""
    if isinstance(policy, Policy):
        return policy
    if callable(policy):
        if jax.tree.leaves(policy) == [policy]:  # a plain function: not a pytree of numbers
            return FunctionPolicy(policy)
        return CallablePytreePolicy(policy)
    raise TypeError(
        f"not a policy: {type(policy).__name__} has neither step/initial_state nor __call__"
    )
