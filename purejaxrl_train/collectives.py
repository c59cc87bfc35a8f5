"""The trainer's view of its slice of the environments when they are split across devices.

A training program runs once per device (`purejaxrl_train.parallel` wraps it in `shard_map`), each
instance stepping `num_envs / num_devices` of the run's environments. `EnvShard` names the mesh axis
and the device count, and gives the few collectives the trainer needs: the mean and sum over all
environments, the gather of the whole batch, and this device's slice of an array computed for every
environment. Every random draw is made for the *global* environment index and then sliced, so the
result for a seed does not depend on the number of devices. `EnvShard()` (no axis) is the
single-device program: every collective is the identity and the program is the same as before.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from agents.learned.normalization import RunningMeanStd, update_running


@dataclasses.dataclass(frozen=True)
class EnvShard:
    """Mesh axis the environments are split over (None: one device) and the number of devices."""

    axis_name: str | None = None
    num_devices: int = 1

    @property
    def split(self) -> bool:
        return self.axis_name is not None

    def index(self) -> jax.Array:
        """This device's position along the axis (0 on one device)."""
        return jax.lax.axis_index(self.axis_name) if self.split else jnp.int32(0)

    def is_first(self) -> jax.Array:
        return self.index() == 0

    def local(self, x, axis: int = 0):
        """This device's slice of arrays whose `axis` runs over every environment (or sample)."""
        if not self.split:
            return x

        def take(leaf):
            size = leaf.shape[axis] // self.num_devices
            return jax.lax.dynamic_slice_in_dim(leaf, self.index() * size, size, axis=axis)

        return jax.tree.map(take, x)

    def gather(self, x, axis: int = 0):
        """Arrays of every device concatenated along `axis` (device order = environment order)."""
        if not self.split:
            return x
        return jax.tree.map(
            lambda leaf: jax.lax.all_gather(leaf, self.axis_name, axis=axis, tiled=True), x
        )

    def mean(self, x):
        """Mean over devices of per-device values (equal-sized shards: the global mean)."""
        return jax.lax.pmean(x, self.axis_name) if self.split else x

    def sum(self, x):
        return jax.lax.psum(x, self.axis_name) if self.split else x

    def mean_and_var(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and population variance of all elements of `x` on every device."""
        mean = self.mean(x.mean())
        return mean, self.mean(jnp.mean(jnp.square(x - mean)))


SINGLE = EnvShard()  # one device: every collective is the identity


def merge_running(stats: RunningMeanStd, batch: jax.Array, shard: EnvShard) -> RunningMeanStd:
    """`update_running` with the batch made of every device's `batch` (same result on each)."""
    if not shard.split:
        return update_running(stats, batch)
    batch = batch.reshape((-1,) + stats.mean.shape).astype(jnp.float32)
    n = jnp.float32(batch.shape[0] * shard.num_devices)
    batch_mean = shard.mean(batch.mean(axis=0))
    batch_var = shard.mean(jnp.mean(jnp.square(batch - batch_mean), axis=0))
    # Chan et al.'s parallel merge, as in `agents.learned.normalization.update_running`.
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.var * stats.count + batch_var * n + delta**2 * stats.count * n / total
    return RunningMeanStd(mean=mean, var=m2 / total, count=total)
