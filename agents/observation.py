"""Reading raw cash, inventory, time and mid from an observation, and locating it on the time grid.

Environments may normalise observations (`normalize_obs`); the reader undoes the affine map with a
centre and scale taken from the environment, so a policy sees the same raw numbers either way.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class ObsReader:
    centre: jax.Array
    scale: jax.Array
    inventory_index: int = struct.field(pytree_node=False)
    time_index: int = struct.field(pytree_node=False)
    mid_index: int = struct.field(pytree_node=False, default=-1)
    normalised: bool = struct.field(pytree_node=False, default=False)

    def _read(self, obs: jax.Array, index: int) -> jax.Array:
        value = jnp.asarray(obs)[index]
        if self.normalised:
            value = value * self.scale[index] + self.centre[index]
        return value

    def raw(self, obs: jax.Array) -> jax.Array:
        obs = jnp.asarray(obs)
        return obs * self.scale + self.centre if self.normalised else obs

    def inventory(self, obs: jax.Array) -> jax.Array:
        return self._read(obs, self.inventory_index)

    def time(self, obs: jax.Array) -> jax.Array:
        return self._read(obs, self.time_index)

    def mid(self, obs: jax.Array) -> jax.Array:
        return self._read(obs, self.mid_index)


def make_reader(env, params) -> ObsReader:
    """An ObsReader for `env`; checks the observation names every agent relies on."""
    index = getattr(env, "obs_index", None)
    if index is None or "inventory" not in index or "time" not in index:
        raise ValueError("agents need an environment whose obs_index names 'inventory' and 'time'")
    size = int(env.observation_space(params).shape[0])
    if hasattr(env, "unnormalize_obs"):
        centre = env.unnormalize_obs(jnp.zeros((size,), jnp.float32), params)
        scale = env.unnormalize_obs(jnp.ones((size,), jnp.float32), params) - centre
    else:
        centre, scale = jnp.zeros((size,), jnp.float32), jnp.ones((size,), jnp.float32)
    return ObsReader(
        centre=jnp.asarray(centre, jnp.float32),
        scale=jnp.asarray(scale, jnp.float32),
        inventory_index=int(index["inventory"]),
        time_index=int(index["time"]),
        mid_index=int(index.get("midprice", -1)),
        normalised=bool(getattr(getattr(env, "config", None), "normalize_obs", False)),
    )


def step_index(time: jax.Array, dt: float, num_steps: int) -> jax.Array:
    """n with t = n dt, rounded and clipped to the steps where an action is taken (0..N-1).

    Rounding is truncation of x + 1/2 (valid for x >= 0; anything below clips to 0 anyway):
    measured a few percent of a whole evaluation cheaper than `round` then `clip` in floats.
    """
    n = (time * (1.0 / dt) + 0.5).astype(jnp.int32)
    return jnp.clip(n, 0, num_steps - 1)


def inventory_index(inventory: jax.Array, q_min: int, q_max: int) -> jax.Array:
    """Row of a table over q_min..q_max for an inventory (rounded; clipped to the table)."""
    i = (inventory + (0.5 - q_min)).astype(jnp.int32)
    return jnp.clip(i, 0, q_max - q_min)
