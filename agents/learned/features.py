"""The observation features a trained network reads: named positions, flattened, float32."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def feature_indices(env, obs_features: tuple[str, ...]) -> tuple[int, ...] | None:
    """Positions of the named observation features (None: use the whole observation)."""
    if not obs_features:
        return None
    index = getattr(env, "obs_index", None)
    if index is None:
        raise ValueError(f"obs_features given but {type(env).__name__} has no obs_index")
    missing = [f for f in obs_features if f not in index]
    if missing:
        raise ValueError(f"obs_features {missing} not in the observation; it has {sorted(index)}")
    return tuple(int(index[f]) for f in obs_features)


def observation_size(env, env_params, indices: tuple[int, ...] | None) -> int:
    """Length of the flat feature vector the network reads."""
    if indices is not None:
        return len(indices)
    shape = env.observation_space(env_params).shape
    return int(np.prod(shape)) if len(shape) else 1


def select_features(obs: jnp.ndarray, obs_ndim: int, indices: tuple[int, ...] | None):
    """Flatten the trailing `obs_ndim` axes to one float32 axis, then keep `indices`."""
    lead = obs.shape[: obs.ndim - obs_ndim]
    flat = obs.reshape(lead + (-1,)).astype(jnp.float32)
    if indices is not None:
        flat = flat[..., np.asarray(indices)]
    return flat
