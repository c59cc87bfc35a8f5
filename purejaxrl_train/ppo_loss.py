"""The PPO objective: clipped surrogate, (optionally clipped) value loss, entropy bonus.

Pure function of arrays, shared by the feed-forward and recurrent trainers, so that it can be
tested against hand-computed numbers.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class LossInfo:
    """Loss terms and diagnostics for one minibatch (means over its samples)."""

    total: jax.Array
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_fraction: jax.Array


def ppo_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    value: jax.Array,
    old_value: jax.Array,
    targets: jax.Array,
    entropy: jax.Array,
    clip_eps: jax.Array,
    vf_coef: jax.Array,
    ent_coef: jax.Array,
    normalize_advantages: bool = True,
    clip_value: bool = True,
) -> tuple[jax.Array, LossInfo]:
    """Loss to minimise, and its parts. Inputs are per-sample arrays of one shape."""
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    policy_loss = -jnp.minimum(unclipped, clipped).mean()

    value_error = jnp.square(value - targets)
    if clip_value:
        value_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
        value_error = jnp.maximum(value_error, jnp.square(value_clipped - targets))
    value_loss = 0.5 * value_error.mean()

    mean_entropy = entropy.mean()
    total = policy_loss + vf_coef * value_loss - ent_coef * mean_entropy
    info = LossInfo(
        total=total,
        policy_loss=policy_loss,
        value_loss=value_loss,
        entropy=mean_entropy,
        # (r - 1) - log r: a low-variance, non-negative estimate of KL(old || new).
        approx_kl=jax.lax.stop_gradient(((ratio - 1.0) - log_ratio).mean()),
        clip_fraction=jax.lax.stop_gradient(
            (jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32).mean()
        ),
    )
    return total, info
