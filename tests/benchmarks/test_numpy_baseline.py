"""The NumPy baseline of the benchmark and the JAX environment are independent implementations of
the same model: their mean episode returns agree within 4 standard errors of the difference."""

import jax
import jax.numpy as jnp
import numpy as np

import envs
from benchmarks.numpy_baseline import fixed_spread_returns
from envs.model_based.rollout import rollout_batch


def test_numpy_baseline_matches_the_jax_environment():
    n, depth = 20_000, 0.005
    env, params = envs.make("cartea_jaimungal_mm")
    policy = lambda key, obs: jnp.full((2,), depth)  # noqa: E731
    returns_jax = np.asarray(
        jax.jit(lambda k: rollout_batch(env, params, policy, k, n)[0])(jax.random.key(0))
    )
    returns_np = fixed_spread_returns(n, depth, seed=1)
    se = np.sqrt(returns_jax.var() / n + returns_np.var() / n)
    assert abs(returns_jax.mean() - returns_np.mean()) < 4 * se, (
        returns_jax.mean(),
        returns_np.mean(),
        se,
    )
    # And both distributions have the same spread (within 5 %).
    assert abs(returns_jax.std() / returns_np.std() - 1) < 0.05
