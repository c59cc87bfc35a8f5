"""Generalised advantage estimation with terminated and truncated episodes kept apart.

For step t with reward r_t, value V_t and next value V'_t:
    delta_t = r_t + gamma * (1 - terminated_t) * V'_t - V_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},   done = terminated or truncated.
V'_t is the value of the observation that followed step t: V_{t+1} inside an episode, and, where the
time limit cut the episode, the value of the pre-reset final observation (the bootstrap). A
terminated step never bootstraps, whatever the truncation flag says.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def next_values(
    values: jax.Array,
    last_value: jax.Array,
    bootstrap_values: jax.Array,
    truncated: jax.Array,
) -> jax.Array:
    """V'_t for a (T, ...) rollout: V_{t+1} (last_value after the final step), or the bootstrap
    value of the final observation where the step was truncated."""
    shifted = jnp.concatenate([values[1:], last_value[None]], axis=0)
    return jnp.where(truncated, bootstrap_values, shifted)


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    next_vals: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: jax.Array,
    gae_lambda: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets (advantages + values) for (T, ...) arrays, time first."""
    not_terminated = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - jnp.logical_or(terminated, truncated).astype(jnp.float32)
    deltas = rewards + gamma * not_terminated * next_vals - values

    def backward(advantage_next, inputs):
        delta, continues = inputs
        advantage = delta + gamma * gae_lambda * continues * advantage_next
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, not_done), reverse=True
    )
    return advantages, advantages + values
