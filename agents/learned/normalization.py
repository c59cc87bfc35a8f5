"""Running observation statistics: the normalisation a trained policy applies to what it sees.

A pure update of a small pytree: each batch is merged with the parallel-variance formula (Chan et
al.). The trainer updates the statistics as observations arrive; a trained policy carries the final
ones beside its parameters.
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
