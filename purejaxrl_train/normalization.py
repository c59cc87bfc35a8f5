"""Running statistics carried in the training state: observation normalisation, reward scaling.

Both are pure updates of small pytrees. Observation statistics merge each rollout's batch with the
parallel-variance formula (Chan et al.). Reward scaling divides rewards by the running standard
deviation of each environment's discounted return (reset where an episode ends), so the value
targets keep a comparable size across environments with very different reward units.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

EPSILON = 1e-8
OBS_CLIP = 10.0


@flax.struct.dataclass
class RunningMeanStd:
    """Mean and (population) variance of everything seen so far, with its count."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape: tuple[int, ...] = ()) -> RunningMeanStd:
        # The count starts at a tiny value so the first merge takes the batch statistics.
        return cls(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.float32(1e-4))


def update_running(stats: RunningMeanStd, batch: jax.Array) -> RunningMeanStd:
    """Merge a batch whose trailing axes match `stats.mean` (any leading axes)."""
    batch = batch.reshape((-1,) + stats.mean.shape).astype(jnp.float32)
    n = jnp.float32(batch.shape[0])
    batch_mean = batch.mean(axis=0)
    batch_var = batch.var(axis=0)
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.var * stats.count + batch_var * n + delta**2 * stats.count * n / total
    return RunningMeanStd(mean=mean, var=m2 / total, count=total)


def normalize(stats: RunningMeanStd, x: jax.Array, clip: float = OBS_CLIP) -> jax.Array:
    """(x - mean) / std, clipped to +-clip."""
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + EPSILON), -clip, clip)


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
