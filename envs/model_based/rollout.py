"""Whole-episode rollouts of a fixed-horizon environment, for evaluation and benchmarks.

Every model-based episode lasts exactly `max_steps_in_episode` steps, so a rollout is a `lax.scan`
over `step_env` with no auto-reset (gymnax's `step` would compute a reset every step only to throw
it away). Returns per-episode sums of the reward and of every numeric `info` field, and the final
state, for a batch of episodes vmapped over keys.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Policy = Callable[[jax.Array, jax.Array], jax.Array]


def rollout_episode(env, params, policy: Policy, key: jax.Array, num_steps: int):
    """One episode: returns (episode return, dict of per-episode sums of info fields, final state)."""
    reset_key, run_key = jax.random.split(key)
    obs, state = env.reset_env(reset_key, params)

    def body(carry, step_key):
        obs, state, total, sums = carry
        policy_key, env_key = jax.random.split(step_key)
        action = policy(policy_key, obs)
        obs, state, reward, _, info = env.step_env(env_key, state, action, params)
        sums = jax.tree.map(lambda s, x: s + jnp.asarray(x, jnp.float32), sums, info)
        return (obs, state, total + reward, sums), None

    # Zero-valued sums with the structure of `info`, obtained without running a step.
    info_shapes = jax.eval_shape(
        lambda: env.step_env(run_key, state, policy(run_key, obs), params)[4]
    )
    sums0 = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), info_shapes)
    carry = (obs, state, jnp.zeros((), jnp.float32), sums0)
    (obs, state, total, sums), _ = jax.lax.scan(
        body, carry, jax.random.split(run_key, num_steps)
    )
    return total, sums, state


def rollout_batch(env, params, policy: Policy, key: jax.Array, num_episodes: int):
    """`num_episodes` independent episodes (vmapped); the step count is read from `params`."""
    num_steps = int(params.max_steps_in_episode)
    keys = jax.random.split(key, num_episodes)
    return jax.vmap(lambda k: rollout_episode(env, params, policy, k, num_steps))(keys)
