"""A tiny gymnax environment with a known trajectory, for rollout and reset tests.

Observation [t, 1] where t counts steps since the episode began; reward 1 per step; the time limit
truncates after `max_steps_in_episode` steps, and `terminate_at` (if reached first) terminates.
"""

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces


@struct.dataclass
class CounterState:
    time: jax.Array


@struct.dataclass
class CounterParams:
    max_steps_in_episode: int = 3
    terminate_at: int = 1000


class CounterEnv(environment.Environment):
    @property
    def default_params(self):
        return CounterParams()

    def _obs(self, time):
        return jnp.stack([time.astype(jnp.float32), jnp.float32(1.0)])

    def reset_env(self, key, params):
        state = CounterState(time=jnp.zeros((), jnp.int32))
        return self._obs(state.time), state

    def step_env(self, key, state, action, params):
        time = state.time + 1
        terminated = time >= params.terminate_at
        return self._obs(time), CounterState(time=time), jnp.float32(1.0), terminated, {}

    def action_space(self, params=None):
        return spaces.Box(-1.0, 1.0, (1,))

    def observation_space(self, params=None):
        return spaces.Box(0.0, 1000.0, (2,))
