"""Action distributions for each kind of action space, and the map from samples to env actions.

Box: a diagonal Gaussian over a normalised action u; the environment receives
`center + half_width * u` clipped into [low, high] (log-probabilities are those of the unclipped u,
the usual PPO treatment). Discrete: categorical over logits. MultiBinary: independent Bernoullis.
"""

from __future__ import annotations

import dataclasses

import distrax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from envs.spaces import MultiBinary

CONTINUOUS, DISCRETE, MULTI_BINARY = "continuous", "discrete", "multi_binary"


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """What the policy head must produce for one action space (static, hashable).

    size: action dimensions (continuous, multi-binary) or number of choices (discrete).
    low/high: per-dimension bounds for continuous actions; an unbounded dimension is passed through.
    """

    kind: str
    size: int
    shape: tuple[int, ...]
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @property
    def head_size(self) -> int:
        """Outputs of the actor head: means, logits or Bernoulli logits."""
        return self.size


def action_spec_from_space(space) -> ActionSpec:
    """The `ActionSpec` of a gymnax `Box`/`Discrete` or an `envs.spaces.MultiBinary`."""
    if isinstance(space, MultiBinary):
        return ActionSpec(MULTI_BINARY, space.n, (space.n,))
    if isinstance(space, spaces.Discrete):
        return ActionSpec(DISCRETE, int(space.n), ())
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in space.shape)
        size = int(np.prod(shape)) if shape else 1
        low = np.broadcast_to(np.asarray(space.low, np.float64), shape).reshape(-1)
        high = np.broadcast_to(np.asarray(space.high, np.float64), shape).reshape(-1)
        if np.any(high < low):
            raise ValueError(f"action space Box has high < low: low={low}, high={high}")
        return ActionSpec(CONTINUOUS, size, shape, tuple(map(float, low)), tuple(map(float, high)))
    raise ValueError(
        f"unsupported action space {space!r}: use gymnax Box or Discrete, or envs.spaces.MultiBinary"
    )


def make_distribution(spec: ActionSpec, head: jnp.ndarray, log_std: jnp.ndarray | None):
    """The distrax distribution of raw actions for head outputs with trailing axis `head_size`."""
    if spec.kind == CONTINUOUS:
        scale = jnp.broadcast_to(jnp.exp(log_std), head.shape)
        return distrax.MultivariateNormalDiag(loc=head, scale_diag=scale)
    if spec.kind == DISCRETE:
        return distrax.Categorical(logits=head)
    if spec.kind == MULTI_BINARY:
        return distrax.Independent(distrax.Bernoulli(logits=head), reinterpreted_batch_ndims=1)
    raise ValueError(f"unknown action kind {spec.kind!r}")


def deterministic_action(spec: ActionSpec, head: jnp.ndarray) -> jnp.ndarray:
    """The raw action of the greedy policy: Gaussian mean, argmax, or p > 1/2 per bit."""
    if spec.kind == CONTINUOUS:
        return head
    if spec.kind == DISCRETE:
        return jnp.argmax(head, axis=-1).astype(jnp.int32)
    return (head > 0).astype(jnp.int32)


def to_env_action(spec: ActionSpec, raw: jnp.ndarray) -> jnp.ndarray:
    """Map a raw action (sample or greedy) to what `env.step` takes (bounds, dtype, shape)."""
    if spec.kind == CONTINUOUS:
        low = np.asarray(spec.low, np.float32)
        high = np.asarray(spec.high, np.float32)
        bounded = np.isfinite(low) & np.isfinite(high)
        finite_low, finite_high = np.where(bounded, low, -1.0), np.where(bounded, high, 1.0)
        center = (finite_low + finite_high) / 2  # unbounded dimensions: centre 0, scale 1
        half = (finite_high - finite_low) / 2
        action = jnp.clip(center + half * raw, low, high)
        return action.reshape(raw.shape[:-1] + spec.shape).astype(jnp.float32)
    return raw.astype(jnp.int32)
