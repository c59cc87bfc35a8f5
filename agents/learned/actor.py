"""The acting side of an actor-critic: features -> network -> distribution -> env action.

`ActorCritic` is static (hashable): it closes over no arrays, so trainers and evaluators can build
it outside jit and call its pure methods inside.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from agents.learned.distributions import (
    ActionSpec,
    action_spec_from_space,
    make_distribution,
    to_env_action,
)
from agents.learned.features import feature_indices, observation_size, select_features
from agents.learned.networks import initial_carry, make_network
from agents.learned.normalization import RunningMeanStd, normalize
from agents.learned.spec import NetworkSpec


@dataclasses.dataclass(frozen=True)
class ActorCritic:
    """Network, action spec and observation preprocessing of one agent."""

    spec: NetworkSpec
    network: nn.Module
    action_spec: ActionSpec
    obs_ndim: int
    obs_dim: int
    feature_index: tuple[int, ...] | None

    @classmethod
    def for_env(cls, spec: NetworkSpec, env, env_params) -> ActorCritic:
        action = action_spec_from_space(env.action_space(env_params))
        index = feature_indices(env, spec.obs_features)
        obs_ndim = len(env.observation_space(env_params).shape)
        return cls(
            spec=spec,
            network=make_network(spec, action),
            action_spec=action,
            obs_ndim=obs_ndim,
            obs_dim=observation_size(env, env_params, index),
            feature_index=index,
        )

    def init(self, key: jax.Array):
        """Fresh network parameters."""
        carry = initial_carry(self.spec, 1)
        obs = jnp.zeros((1, 1, self.obs_dim), jnp.float32)
        return self.network.init(key, carry, obs, jnp.zeros((1, 1), bool))

    def initial_carry(self, batch: int) -> jax.Array:
        return initial_carry(self.spec, batch)

    def features(self, obs: jax.Array) -> jax.Array:
        """Raw env observations (any leading axes) -> flat float32 features."""
        return select_features(obs, self.obs_ndim, self.feature_index)

    def normalized(self, obs_rms: RunningMeanStd, features: jax.Array) -> jax.Array:
        return normalize(obs_rms, features) if self.spec.normalize_obs else features

    def step(self, params, carry, features, resets):
        """One time step for a batch: features (B, d), resets (B,) -> carry, distribution, value."""
        carry, head, log_std, value = self.network.apply(
            params, carry, features[None], resets[None]
        )
        return carry, make_distribution(self.action_spec, head[0], log_std), value[0]

    def sequence(self, params, carry, features, resets):
        """A (T, B) block: distribution and values over every step."""
        _, head, log_std, value = self.network.apply(params, carry, features, resets)
        return make_distribution(self.action_spec, head, log_std), value

    def value(self, params, carry, features, resets) -> jax.Array:
        return self.network.apply(params, carry, features[None], resets[None])[3][0]

    def env_action(self, raw: jax.Array) -> jax.Array:
        return to_env_action(self.action_spec, raw)
