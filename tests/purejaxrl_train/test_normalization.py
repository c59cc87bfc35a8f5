"""Running statistics against numpy over the concatenated data; reward scaling's return."""

import jax.numpy as jnp
import numpy as np

from agents.learned.normalization import RunningMeanStd, normalize, update_running
from purejaxrl_train.normalization import (
    RewardScaler,
    scale_rewards,
    update_reward_scaler,
)


def test_running_mean_and_variance_match_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4, 3)) for n in (5, 17, 2)]
    stats = RunningMeanStd.create((3,))
    for b in batches:
        stats = update_running(stats, jnp.asarray(b))
    data = np.concatenate([b.reshape(-1, 3) for b in batches])
    # the tiny initial count (1e-4) biases the result by O(1e-4 / n) only
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-4)
    z = normalize(stats, jnp.asarray(data))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(z).std(0), 1.0, atol=1e-3)


def test_reward_scaler_tracks_discounted_return_with_resets():
    rewards = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 1.0]])
    dones = np.array([[False, False], [True, False], [False, False]])
    gamma = 0.5
    scaler = update_reward_scaler(
        RewardScaler.create(2), jnp.asarray(rewards), jnp.asarray(dones), gamma
    )
    # by hand: env0 returns 1, 1.5 (episode ends, reset), 1; env1 returns 2, 1, 1.5
    seen = np.array([1.0, 2.0, 1.5, 1.0, 1.0, 1.5])
    np.testing.assert_allclose(scaler.discounted_return, [1.0, 1.5])
    np.testing.assert_allclose(scaler.stats.var, seen.var(), rtol=1e-3)
    np.testing.assert_allclose(
        scale_rewards(scaler, jnp.asarray(rewards)), rewards / seen.std(), rtol=1e-3
    )
