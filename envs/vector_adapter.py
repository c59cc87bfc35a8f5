"""Gymnasium adapters for every registered environment (markets and gymnax's own), NumPy in and out.

`GymnaxVectorEnv(name, num_envs)` is a `gymnasium.vector.VectorEnv`: one jit-compiled batched reset
and one batched step (gymnax's auto-reset, Gymnasium's same-step mode: the observation returned on
the step that ends an episode is the next episode's first, and the last one is in
`infos["final_obs"]`, masked by `infos["_final_obs"]`). `GymnaxEnv(name)` is a single
`gymnasium.Env` (no auto-reset: call `reset` after an episode ends), so that CPU libraries such as
Stable-Baselines3 can train on the markets. Keys come from the `reset` seed (or, unseeded, from
Gymnasium's `np_random`) and are split on every call, so a seed fixes the whole trajectory.
`truncated` is reported only where an episode was cut without terminating (as the trainer
bootstraps): gymnax also flags the step limit on a terminal step, such as a market's horizon.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector.utils import batch_space
from gymnax.environments import spaces as gymnax_spaces

from envs.catalog import make_any
from envs.spaces import MultiBinary


def to_gymnasium_space(space) -> gymnasium.Space:
    """The Gymnasium space of a gymnax (or project) space."""
    if isinstance(space, gymnax_spaces.Discrete):
        return gymnasium.spaces.Discrete(int(space.n))
    if isinstance(space, MultiBinary):
        return gymnasium.spaces.MultiBinary(space.n)
    if isinstance(space, gymnax_spaces.Box):
        dtype = np.dtype(space.dtype)
        shape = tuple(space.shape)
        low = np.broadcast_to(np.asarray(space.low, dtype), shape)
        high = np.broadcast_to(np.asarray(space.high, dtype), shape)
        return gymnasium.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if isinstance(space, gymnax_spaces.Dict):
        return gymnasium.spaces.Dict({k: to_gymnasium_space(s) for k, s in space.spaces.items()})
    if isinstance(space, gymnax_spaces.Tuple):
        return gymnasium.spaces.Tuple([to_gymnasium_space(s) for s in space.spaces])
    raise TypeError(f"no Gymnasium counterpart for the space {space!r}")


def _flat_info(info, prefix: str = "") -> dict[str, np.ndarray]:
    """`info` (dicts and dataclass records of arrays) as flat `{"metrics.pnl": array}` entries."""
    out: dict[str, np.ndarray] = {}
    if isinstance(info, dict):
        items = info.items()
    elif dataclasses.is_dataclass(info):
        items = ((f.name, getattr(info, f.name)) for f in dataclasses.fields(info))
    else:
        return {prefix: np.asarray(info)}
    for key, value in items:
        out.update(_flat_info(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
    return out


def _make(name_or_env, overrides, params):
    if isinstance(name_or_env, str):
        env, default = make_any(name_or_env, overrides)
        return env, default if params is None else params
    if overrides:
        raise ValueError("overrides apply to an environment name, not an environment object")
    return name_or_env, name_or_env.default_params if params is None else params


class _Keys:
    """The adapter's JAX key: set from a seed, else drawn once from Gymnasium's np_random."""

    def __init__(self):
        self.key = None

    def reset(self, seed: int | None, np_random: np.random.Generator) -> None:
        if seed is not None:
            self.key = jax.random.key(int(seed))
        elif self.key is None:
            self.key = jax.random.key(int(np_random.integers(2**31 - 1)))

    def next(self) -> jax.Array:
        self.key, key = jax.random.split(self.key)
        return key


class GymnaxVectorEnv(gymnasium.vector.VectorEnv):
    """`num_envs` copies of an environment, stepped in one compiled call (see the module doc)."""

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(self, env, num_envs: int, overrides=(), params=None):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.env, self.params = _make(env, overrides, params)
        self.num_envs = int(num_envs)
        self.single_observation_space = to_gymnasium_space(self.env.observation_space(self.params))
        self.single_action_space = to_gymnasium_space(self.env.action_space(self.params))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._action_dtype = np.dtype(self.env.action_space(self.params).dtype)
        self._keys = _Keys()
        self._state = None
        base, n = self.env, self.num_envs
        self._reset_fn = jax.jit(
            lambda key, p: jax.vmap(base.reset, in_axes=(0, None))(jax.random.split(key, n), p)
        )
        self._step_fn = jax.jit(
            lambda key, s, a, p: jax.vmap(base.step, in_axes=(0, 0, 0, None))(
                jax.random.split(key, n), s, a, p
            )
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._keys.reset(seed, self.np_random)
        obs, self._state = self._reset_fn(self._keys.next(), self.params)
        return np.asarray(obs), {}

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = jnp.asarray(np.asarray(actions, self._action_dtype))
        obs, self._state, reward, terminated, truncated, info = self._step_fn(
            self._keys.next(), self._state, action, self.params
        )
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool) & ~terminated
        done = terminated | truncated
        infos: dict[str, Any] = {}
        for key, value in _flat_info(jax.device_get(info)).items():
            if key == "final_observation":
                key = "final_obs"
            infos[key] = value
            infos[f"_{key}"] = done.copy() if key == "final_obs" else np.ones(self.num_envs, bool)
        return np.asarray(obs), np.asarray(reward, np.float64), terminated, truncated, infos


class GymnaxEnv(gymnasium.Env):
    """One environment as a `gymnasium.Env` (no auto-reset; see the module doc)."""

    metadata = {"render_modes": []}

    def __init__(self, env, overrides=(), params=None):
        self.env, self.params = _make(env, overrides, params)
        self.observation_space = to_gymnasium_space(self.env.observation_space(self.params))
        self.action_space = to_gymnasium_space(self.env.action_space(self.params))
        self._action_dtype = np.dtype(self.env.action_space(self.params).dtype)
        self._keys = _Keys()
        self._state = None
        self._reset_fn = jax.jit(self.env.reset)
        self._step_fn = jax.jit(self.env.step)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._keys.reset(seed, self.np_random)
        obs, self._state = self._reset_fn(self._keys.next(), self.params)
        return np.asarray(obs), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = jnp.asarray(np.asarray(action, self._action_dtype))
        _, self._state, reward, terminated, truncated, info = self._step_fn(
            self._keys.next(), self._state, action, self.params
        )
        info = _flat_info(jax.device_get(info))
        obs = info.pop("final_observation")  # the step's own observation, before any auto-reset
        terminated = bool(terminated)
        return obs, float(reward), terminated, bool(truncated) and not terminated, info
