"""Building the environment a config names, and the observation features the agent sees.

Names registered in the project's `envs` (model-based and replay markets) come from `envs.make`;
any other gymnax name from `gymnax.make`, with overrides applied to its params by `replace`.
"""

from __future__ import annotations

from typing import Any

import gymnax
import jax.numpy as jnp
import numpy as np


def _project_registry():
    """`envs.make` and `envs.registered()` when the project's environments are importable."""
    try:
        import envs
    except ImportError:  # pragma: no cover - the package is part of this repository
        return None, ()
    make = getattr(envs, "make", None)
    registered = getattr(envs, "registered", None)
    if make is None or registered is None:
        return None, ()
    return make, tuple(registered())


def known_environments() -> tuple[str, ...]:
    """Every name `make_env` accepts."""
    _, project = _project_registry()
    return tuple(project) + tuple(n for n in gymnax.registered_envs if n not in project)


def is_project_env(name: str) -> bool:
    """Whether `name` is one of the project's markets (built by `envs.make`)."""
    return name in _project_registry()[1]


def make_env(name: str, overrides: tuple[tuple[str, Any], ...] | dict = ()) -> tuple[Any, Any]:
    """(env, params) for `name`, with parameter `overrides` applied."""
    overrides = dict(overrides)
    make, project = _project_registry()
    if name in project:
        return make(name, **overrides)
    if name in gymnax.registered_envs:
        env, params = gymnax.make(name)
        unknown = [k for k in overrides if not hasattr(params, k)]
        if unknown:
            raise ValueError(f"--set: {name} params have no field(s) {unknown}")
        return env, params.replace(**overrides)
    raise ValueError(f"unknown environment {name!r}; known: {', '.join(known_environments())}")


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
