"""Network calling convention; the GRU forgets everything at a reset and nothing otherwise."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.learned.distributions import ActionSpec
from agents.learned.networks import initial_carry, make_network
from agents.learned.spec import NetworkSpec

SPEC = ActionSpec("continuous", 2, (2,), (0.0, 0.0), (1.0, 1.0))
T, B, D = 6, 3, 4


def _inputs():
    obs = jax.random.normal(jax.random.key(0), (T, B, D))
    return obs


def test_recurrent_reset_equals_a_fresh_start():
    config = NetworkSpec(recurrent=True, gru_size=5, hidden_sizes=(8,))
    net = make_network(config, SPEC)
    obs = _inputs()
    resets = jnp.zeros((T, B), bool).at[3, 1].set(True)
    carry0 = jax.random.normal(jax.random.key(1), (B, 5))
    params = jax.jit(net.init)(jax.random.key(2), carry0, obs, resets)
    apply = jax.jit(net.apply)
    _, head, log_std, value = apply(params, carry0, obs, resets)
    assert head.shape == (T, B, 2) and value.shape == (T, B) and log_std.shape == (2,)
    # env 1 after its reset == a run from a zero state on the remaining observations
    _, head_fresh, _, value_fresh = apply(
        params, initial_carry(config, B), obs[3:], jnp.zeros((T - 3, B), bool)
    )
    np.testing.assert_allclose(head[3:, 1], head_fresh[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value[3:, 1], value_fresh[:, 1], rtol=1e-5, atol=1e-6)
    # envs without a reset keep their state: their outputs differ from the fresh run
    assert not np.allclose(value[3:, 0], value_fresh[:, 0])
    # and chunking a sequence (carry handed over) gives the same outputs as one pass
    carry_mid, _, _, v_first = apply(params, carry0, obs[:3], resets[:3])
    _, _, _, v_second = apply(params, carry_mid, obs[3:], resets[3:])
    np.testing.assert_allclose(jnp.concatenate([v_first, v_second]), value, rtol=1e-5, atol=1e-6)


def test_feed_forward_ignores_carry_and_resets():
    config = NetworkSpec(hidden_sizes=(8, 8))
    net = make_network(config, SPEC)
    obs = _inputs()
    carry = initial_carry(config, B)
    assert carry.shape == (B, 0)
    params = net.init(jax.random.key(2), carry, obs, jnp.zeros((T, B), bool))
    out_a = net.apply(params, carry, obs, jnp.zeros((T, B), bool))
    out_b = net.apply(params, carry, obs, jnp.ones((T, B), bool))
    np.testing.assert_allclose(out_a[3], out_b[3])
    # each time step is processed independently
    single = net.apply(params, carry, obs[2:3], jnp.zeros((1, B), bool))
    np.testing.assert_allclose(single[3][0], out_a[3][2], rtol=1e-6)
