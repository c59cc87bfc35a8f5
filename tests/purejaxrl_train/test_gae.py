"""GAE against hand-computed cases and an independent direct-sum reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from purejaxrl_train.gae import compute_gae, next_values

REWARDS = np.array([1.0, 2.0, 3.0])
VALUES = np.array([0.5, 1.0, 1.5])
LAST_VALUE = 2.0
BOOTSTRAP = np.array([0.0, 10.0, 0.0])  # value of the pre-reset observation after step 1


def _gae(terminated, truncated, gamma=0.5, lam=0.5):
    term = jnp.asarray(terminated, bool)
    trunc = jnp.asarray(truncated, bool)
    nv = next_values(jnp.asarray(VALUES), jnp.asarray(LAST_VALUE), jnp.asarray(BOOTSTRAP), trunc)
    adv, targets = compute_gae(
        jnp.asarray(REWARDS), jnp.asarray(VALUES), nv, term, trunc, gamma, lam
    )
    return np.asarray(adv), np.asarray(targets)


def test_no_episode_end_hand_computed():
    # deltas: 1 + .5*1 - .5 = 1; 2 + .5*1.5 - 1 = 1.75; 3 + .5*2 - 1.5 = 2.5; gamma*lambda = .25
    adv, targets = _gae([0, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(adv, [1.59375, 2.375, 2.5], rtol=1e-6)
    np.testing.assert_allclose(targets, [2.09375, 3.375, 4.0], rtol=1e-6)


def test_truncation_bootstraps_from_final_observation_and_cuts_the_trace():
    # step 1: delta = 2 + .5 * 10 - 1 = 6, and nothing flows back from step 2
    adv, _ = _gae([0, 0, 0], [0, 1, 0])
    np.testing.assert_allclose(adv, [1.0 + 0.25 * 6.0, 6.0, 2.5], rtol=1e-6)


def test_termination_does_not_bootstrap():
    adv, _ = _gae([0, 1, 0], [0, 0, 0])
    np.testing.assert_allclose(adv, [1.25, 1.0, 2.5], rtol=1e-6)


def test_terminated_and_truncated_together_is_a_termination():
    np.testing.assert_allclose(_gae([0, 1, 0], [0, 1, 0])[0], _gae([0, 1, 0], [0, 0, 0])[0])


def _direct_sum_reference(rewards, values, bootstrap, last_value, term, trunc, gamma, lam):
    """A_t = sum_k (gamma lam)^k delta_{t+k} up to the episode's end, delta written out per step."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            total, weight = 0.0, 1.0
            for k in range(t, T):
                if term[k, n]:
                    v_next = 0.0
                elif trunc[k, n]:
                    v_next = bootstrap[k, n]
                else:
                    v_next = values[k + 1, n] if k + 1 < T else last_value[n]
                total += weight * (rewards[k, n] + gamma * v_next - values[k, n])
                if term[k, n] or trunc[k, n]:
                    break
                weight *= gamma * lam
            adv[t, n] = total
    return adv


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (1.0, 1.0), (0.9, 0.0)])
def test_random_rollouts_match_direct_sum(gamma, lam):
    rng = np.random.default_rng(0)
    T, N = 12, 5
    rewards = rng.normal(size=(T, N))
    values = rng.normal(size=(T, N))
    bootstrap = rng.normal(size=(T, N))
    last_value = rng.normal(size=N)
    term = rng.random((T, N)) < 0.15
    trunc = rng.random((T, N)) < 0.15
    nv = next_values(
        jnp.asarray(values), jnp.asarray(last_value), jnp.asarray(bootstrap), jnp.asarray(trunc)
    )
    adv, targets = compute_gae(
        jnp.asarray(rewards),
        jnp.asarray(values),
        nv,
        jnp.asarray(term),
        jnp.asarray(trunc),
        gamma,
        lam,
    )
    want = _direct_sum_reference(rewards, values, bootstrap, last_value, term, trunc, gamma, lam)
    np.testing.assert_allclose(np.asarray(adv), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(targets), want + values, rtol=1e-4, atol=1e-4)


def test_lambda_one_gamma_one_gives_monte_carlo_return():
    # one episode of 3 steps ending in termination: target_t = sum of the remaining rewards
    term = jnp.array([False, False, True])
    nv = next_values(jnp.asarray(VALUES), jnp.asarray(LAST_VALUE), jnp.zeros(3), jnp.zeros(3, bool))
    _, targets = compute_gae(
        jnp.asarray(REWARDS), jnp.asarray(VALUES), nv, term, jnp.zeros(3, bool), 1.0, 1.0
    )
    np.testing.assert_allclose(np.asarray(targets), [6.0, 5.0, 3.0], rtol=1e-6)
