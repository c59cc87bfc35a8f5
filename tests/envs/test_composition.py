"""Components compose freely: any fill model in a market, fill frequencies matching the fill
function, observation layout and normalisation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.model_based import ModelBasedMarket
from envs.model_based import fills as fill_models
from envs.model_based.rollout import rollout_batch

Z_TOL = 4.0


@pytest.mark.parametrize(
    "fill, fill_params, depth, expected",
    [
        (
            fill_models.ExponentialFill(),
            fill_models.ExponentialFillParams(kappa=100.0),
            0.01,
            np.exp(-1.0),
        ),
        (
            fill_models.TriangularFill(),
            fill_models.TriangularFillParams(max_fill_depth=0.04),
            0.01,
            0.75,
        ),
        (
            fill_models.PowerFill(),
            fill_models.PowerFillParams(kappa=100.0, exponent=2.0),
            0.02,
            0.2,
        ),
    ],
)
def test_fill_frequency_per_arrival_matches_the_fill_function(fill, fill_params, depth, expected):
    env, params = envs.make("cartea_jaimungal_mm", max_inventory=1e6, max_steps_in_episode=300)
    config = dataclasses.replace(env.config, fill=fill)
    params = params.replace(fill=fill_params, max_depth=1.0)
    market = ModelBasedMarket(config, params, name=f"fill_test_{fill.name}")
    _, sums, _ = jax.jit(
        lambda k: rollout_batch(market, params, lambda key, obs: jnp.full((2,), depth), k, 2000)
    )(jax.random.key(0))
    fills, arrivals = np.asarray(sums["fills"]).sum(), np.asarray(sums["arrivals"]).sum()
    rate = fills / arrivals
    se = np.sqrt(expected * (1 - expected) / arrivals)
    assert abs(rate - expected) < Z_TOL * se, (rate, expected, se)
    # Arrivals themselves: lambda dt per step per side.
    expected_arrivals = 30.0 / 300 * 300 * 2 * 2000
    assert abs(arrivals - expected_arrivals) < Z_TOL * np.sqrt(expected_arrivals)


def test_observation_layout_and_normalisation():
    env, params = envs.make("cjr14")
    assert list(env.obs_index) == [
        "cash",
        "inventory",
        "time",
        "midprice",
        "alpha",
        "intensity_bid",
        "intensity_ask",
    ]
    obs, state = env.reset(jax.random.key(0), params)
    np.testing.assert_allclose(np.asarray(obs[3:]), [100.0, 0.0, 40.0, 40.0])
    norm_env, _ = envs.make("cjr14", normalize_obs=True)
    norm_obs, _ = norm_env.reset(jax.random.key(0), params)
    np.testing.assert_allclose(
        np.asarray(norm_env.unnormalize_obs(norm_obs, params)), np.asarray(obs), rtol=1e-6
    )
    assert float(jnp.max(jnp.abs(norm_obs))) <= 1.0  # at reset every feature sits within its scale
    assert bool(norm_env.observation_space(params).contains(norm_obs))
