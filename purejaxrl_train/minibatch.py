"""Shuffling a rollout into minibatches.

Feed-forward PPO treats every (time, env) sample as independent: flatten, permute, split.
Recurrent PPO must replay whole sequences from the stored initial GRU state: permute and split the
*environments*, never time, so each minibatch holds complete, time-ordered sequences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def flat_minibatches(key: jax.Array, tree, num_minibatches: int):
    """Leaves (T, N, ...) -> (num_minibatches, T*N/num_minibatches, ...), samples permuted."""
    leaves = jax.tree.leaves(tree)
    size = leaves[0].shape[0] * leaves[0].shape[1]
    permutation = jax.random.permutation(key, size)

    def split(x):
        x = x.reshape((size,) + x.shape[2:])[permutation]
        return x.reshape((num_minibatches, size // num_minibatches) + x.shape[1:])

    return jax.tree.map(split, tree)


def sequence_minibatches(key: jax.Array, sequences, initial_carry, num_minibatches: int):
    """Split environments into minibatches of whole sequences.

    sequences: leaves (T, N, ...); initial_carry: leaves (N, ...). Returns the sequences with leaves
    (num_minibatches, T, N/num_minibatches, ...) and the matching carries
    (num_minibatches, N/num_minibatches, ...).
    """
    num_envs = jax.tree.leaves(initial_carry)[0].shape[0]
    per_batch = num_envs // num_minibatches
    permutation = jax.random.permutation(key, num_envs)

    def split_sequence(x):
        x = jnp.take(x, permutation, axis=1)
        x = x.reshape((x.shape[0], num_minibatches, per_batch) + x.shape[2:])
        return jnp.swapaxes(x, 0, 1)

    def split_carry(x):
        return x[permutation].reshape((num_minibatches, per_batch) + x.shape[1:])

    return jax.tree.map(split_sequence, sequences), jax.tree.map(split_carry, initial_carry)
