"""Components compose freely: every component implements its declared interface, any fill model
runs in a market with fill frequencies matching the fill function, the batched step is the
vmapped transition on one draw of the batch's random numbers, observation layout and
normalisation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.metrics import METRICS
from envs.model_based import ModelBasedMarket, actions, components, impact, rewards
from envs.model_based import fills as fill_models
from envs.model_based.draws import draw
from envs.model_based.registry import registered

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
    fills, arrivals = fills_and_arrivals(market, params, depth, jax.random.key(0), 2000)
    rate = fills / arrivals
    se = np.sqrt(expected * (1 - expected) / arrivals)
    assert abs(rate - expected) < Z_TOL * se, (rate, expected, se)
    # Arrivals themselves: lambda dt per step per side.
    expected_arrivals = 30.0 / 300 * 300 * 2 * 2000
    assert abs(arrivals - expected_arrivals) < Z_TOL * np.sqrt(expected_arrivals)


def fills_and_arrivals(env, params, depth, key, n):
    """Total fills and market-order arrivals of `n` episodes quoting `depth` on both sides."""
    reset_key, run_key = jax.random.split(key)
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    action = jnp.full((n, 2), depth)

    def step(carry, step_key):
        state, fills, arrivals = carry
        _, state, _, _, info = env.batch_step_env(step_key, state, action, params)
        return (state, fills + info[METRICS].fills.sum(), arrivals + info["arrivals"].sum()), None

    keys = jax.random.split(run_key, int(params.max_steps_in_episode))
    run = jax.jit(lambda s, k: jax.lax.scan(step, (s, 0.0, 0.0), k)[0][1:])
    return tuple(float(x) for x in run(state, keys))


INTERFACES = {
    "midprice": components.MidPriceModel,
    "arrivals": components.ArrivalModel,
    "fill": components.FillModel,
    "impact": components.PriceImpact,
    "action": components.ActionType,
    "reward": components.Reward,
}


@pytest.mark.parametrize("name", registered())
def test_every_preset_is_made_of_declared_components(name):
    env, _ = envs.make(name)
    for field, interface in INTERFACES.items():
        component = getattr(env.config, field)
        assert component is None or isinstance(component, interface), field
    assert env.action_type == env.config.action.name
    assert env.penalised == env.config.reward.penalised


def test_one_class_per_action_type_reward_and_impact():
    assert [a.name for a in actions.ACTION_TYPES] == [
        "limit",
        "touch",
        "limit_and_market",
        "touch_and_market",
        "trading_speed",
    ]
    assert [r.name for r in rewards.REWARDS] == [
        "pnl",
        "running_inventory_penalty",
        "cj_execution",
        "exponential_utility",
        "cj_mm_criterion",
        "cj_oe_criterion",
    ]
    assert [(r.name, r.penalised) for r in rewards.REWARDS if r.penalised] == [
        ("running_inventory_penalty", True),
        ("cj_execution", True),
        ("cj_mm_criterion", True),
        ("cj_oe_criterion", True),
    ]
    assert [m.name for m in impact.IMPACT_MODELS] == [
        "temporary",
        "temporary_permanent",
        "transient",
    ]
    # The interfaces are abstract, and there are no kind strings left to get wrong.
    for interface in (components.ActionType, components.Reward, components.PriceImpact):
        with pytest.raises(TypeError):
            interface()
    with pytest.raises(TypeError):
        impact.PriceImpact(kind="bogus")
    with pytest.raises(TypeError):
        actions.LimitQuotes(kind="touch")
    # A component that does not fit its slot, or a missing one, is refused naming the slot.
    env, _ = envs.make("cartea_jaimungal_mm")
    with pytest.raises(ValueError, match="reward"):
        dataclasses.replace(env.config, reward="pnl")
    with pytest.raises(ValueError, match="impact"):
        dataclasses.replace(env.config, action=actions.TradingSpeed())
    with pytest.raises(ValueError, match="fill"):
        dataclasses.replace(env.config, fill=None)


@pytest.mark.parametrize(
    "name, overrides",
    [("cartea_jaimungal_mm", {}), ("cjr14", {}), ("cartea_jaimungal_mm", {"exact_counts": True})],
)
def test_batch_step_env_is_the_vmapped_transition_on_one_draw(name, overrides):
    """One key for the batch: its uniforms and normals in one `draw` call (and, with exact counts,
    one count key per environment split from it), then `transition` per environment."""
    env, params = envs.make(name, **overrides)
    n = 5
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), n), params
    )
    action = jax.vmap(env.action_space(params).sample)(jax.random.split(jax.random.key(1), n))
    key = jax.random.key(2)
    batched = env.batch_step_env(key, state, action, params)
    count_keys = [None] * n
    if env.config.arrivals.exact_counts:
        key, count_key = jax.random.split(key)
        count_keys = list(jax.random.split(count_key, n))
    u, z = draw(key, *env.num_random, (n,))
    for i in range(n):
        state_i = jax.tree.map(lambda x, i=i: x[i], state)
        single = env.transition(state_i, action[i], params, u[:, i], z[:, i], count_keys[i])
        jax.tree.map(
            lambda b, s, i=i: np.testing.assert_allclose(np.asarray(b[i]), np.asarray(s)),
            batched,
            single,
        )
    # The same pytree as a vmapped `step_env`.
    stepped = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
        jax.random.split(key, n), state, action, params
    )
    assert jax.tree.structure(batched) == jax.tree.structure(stepped)
    assert [(x.shape, x.dtype) for x in jax.tree.leaves(batched)] == [
        (x.shape, x.dtype) for x in jax.tree.leaves(stepped)
    ]


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
