"""The NumPy baselines of the benchmark and the JAX environment are independent implementations of
the same model: their mean episode returns agree within 4 standard errors of the difference."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agents.rollout import rollout
from benchmarks.numpy_baseline import fixed_spread_returns

N, DEPTH = 20_000, 0.005


@functools.cache
def jax_returns() -> np.ndarray:
    env, params = envs.make("cartea_jaimungal_mm")
    policy = lambda key, obs: jnp.full((2,), DEPTH)  # noqa: E731
    run = jax.jit(lambda k: rollout(env, params, policy, k, N).returns)
    return np.asarray(run(jax.random.key(0)))


@pytest.mark.parametrize("style", ["mbt_gym", "lean"])
def test_numpy_baseline_matches_the_jax_environment(style):
    returns_jax = jax_returns()
    returns_np = fixed_spread_returns(N, DEPTH, style=style, seed=1)
    se = np.sqrt(returns_jax.var() / N + returns_np.var() / N)
    assert abs(returns_jax.mean() - returns_np.mean()) < 4 * se, (
        returns_jax.mean(),
        returns_np.mean(),
        se,
    )
    # And both distributions have the same spread (within 5 %).
    assert abs(returns_jax.std() / returns_np.std() - 1) < 0.05


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError, match="style"):
        fixed_spread_returns(10, DEPTH, style="fast")
