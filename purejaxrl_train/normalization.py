"""Reward scaling carried in the training state (observation statistics: `agents.learned.normalization`).

A pure update of a small pytree. Reward scaling divides rewards by the running standard
deviation of each environment's discounted return (reset where an episode ends), so the value
targets keep a comparable size across environments with very different reward units.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from agents.learned.normalization import EPSILON, RunningMeanStd, update_running


@flax.struct.dataclass
class RewardScaler:
    """Running std of the discounted return, and each environment's return so far."""

    stats: RunningMeanStd
    discounted_return: jax.Array

    @classmethod
    def create(cls, num_envs: int) -> RewardScaler:
        return cls(RunningMeanStd.create(()), jnp.zeros((num_envs,), jnp.float32))


def update_reward_scaler(
    scaler: RewardScaler, rewards: jax.Array, dones: jax.Array, gamma: jax.Array
) -> RewardScaler:
    """Advance each environment's discounted return over a (T, N) rollout and merge its values."""

    def step(ret, inputs):
        reward, done = inputs
        ret = ret * gamma + reward
        return jnp.where(done, 0.0, ret), ret

    final, returns = jax.lax.scan(step, scaler.discounted_return, (rewards, dones))
    return RewardScaler(stats=update_running(scaler.stats, returns), discounted_return=final)


def scale_rewards(scaler: RewardScaler, rewards: jax.Array) -> jax.Array:
    """Rewards divided by the running std of the discounted return."""
    return rewards / jnp.sqrt(scaler.stats.var + EPSILON)
