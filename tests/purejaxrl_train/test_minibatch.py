"""Minibatching: samples are a permutation; recurrent minibatches keep whole, ordered sequences."""

import jax
import jax.numpy as jnp
import numpy as np

from purejaxrl_train.minibatch import flat_minibatches, sequence_minibatches

T, N = 5, 8


def _tagged():
    time_tag = jnp.broadcast_to(jnp.arange(T)[:, None], (T, N))
    env_tag = jnp.broadcast_to(jnp.arange(N)[None, :], (T, N))
    return {"t": time_tag, "env": env_tag, "obs": jnp.stack([time_tag, env_tag], -1)}


def test_flat_minibatches_are_a_permutation_of_all_samples():
    batches = flat_minibatches(jax.random.key(0), _tagged(), 4)
    assert batches["t"].shape == (4, T * N // 4)
    pairs = sorted(zip(np.ravel(batches["t"]).tolist(), np.ravel(batches["env"]).tolist()))
    assert pairs == sorted((t, n) for t in range(T) for n in range(N))
    # leaves are permuted together
    np.testing.assert_array_equal(batches["obs"][..., 0], batches["t"])
    np.testing.assert_array_equal(batches["obs"][..., 1], batches["env"])


def test_sequence_minibatches_shuffle_environments_never_time():
    carry = jnp.arange(N, dtype=jnp.float32)[:, None] * jnp.ones((1, 3))
    seqs, carries = sequence_minibatches(jax.random.key(1), _tagged(), carry, 2)
    assert seqs["t"].shape == (2, T, N // 2) and carries.shape == (2, N // 2, 3)
    seen = []
    for b in range(2):
        # time runs 0..T-1 in order within every sequence
        np.testing.assert_array_equal(
            seqs["t"][b], np.broadcast_to(np.arange(T)[:, None], (T, N // 2))
        )
        envs = np.asarray(seqs["env"][b])
        assert (envs == envs[0]).all()  # one environment per column, all steps
        np.testing.assert_array_equal(carries[b][:, 0], envs[0])  # its own initial carry
        seen += envs[0].tolist()
    assert sorted(seen) == list(range(N))
    # the environments really are shuffled for this key
    assert seen != list(range(N))
