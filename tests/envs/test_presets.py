"""Contract checks for every registered preset: jit, vmap, spaces, the horizon as termination,
typed step metrics, determinism, and identity (an environment's default params are the ones
`make` returned, and differently made environments never share a compiled trace)."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.interfaces import BatchStepper, Market
from envs.metrics import METRICS, StepMetrics
from envs.model_based import registry as model_based_registry
from envs.model_based.presets import PRESETS

NAMES = model_based_registry.registered()  # replay markets: tests/envs/replay
EXPECTED_PRESETS = {
    "avellaneda_stoikov",
    "cartea_jaimungal_mm",
    "cartea_jaimungal_touch",
    "cjr14",
    "glft_jump",
    "cj_execution_lo_mo",
    "avellaneda_stoikov_hawkes",
    "cjr14_touch",
    "cjr14_utility",
    "cj_execution_speed",
}
STEPS = 3  # a short horizon keeps the auto-reset check cheap
EXTRAS = {"arrivals", "cash", "midprice", "arrival_prob_clipped"}  # model-specific info keys


def test_registry_has_every_paper_model():
    assert EXPECTED_PRESETS <= set(NAMES)
    assert set(NAMES) | {"lobster_execution", "lobster_market_making"} <= set(envs.registered())


def _short(name, **overrides):
    """The preset with a STEPS-step horizon and its own time step."""
    _, defaults = envs.make(name)
    dt = float(defaults.terminal_time) / int(defaults.max_steps_in_episode)
    return envs.make(name, max_steps_in_episode=STEPS, terminal_time=STEPS * dt, **overrides)


@pytest.mark.parametrize("name", NAMES)
def test_preset_contract(name):
    env, params = _short(name)
    assert isinstance(env, Market) and isinstance(env, BatchStepper)
    batch = 4
    keys = jax.random.split(jax.random.key(0), batch)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    obs, state = reset(keys, params)
    obs_space, act_space = env.observation_space(params), env.action_space(params)
    assert obs.shape == (batch, *obs_space.shape) and obs.dtype == jnp.float32
    assert bool(jnp.all(jax.vmap(obs_space.contains)(obs)))

    def run(key):
        o, s = reset(jax.random.split(key, batch), params)
        outs = []
        for _ in range(STEPS):
            k_act, k_step, key = jax.random.split(key, 3)
            actions = jax.vmap(act_space.sample)(jax.random.split(k_act, batch))
            assert bool(jnp.all(jax.vmap(act_space.contains)(actions)))
            o, s, r, term, trunc, info = step(jax.random.split(k_step, batch), s, actions, params)
            outs.append((o, r, term, trunc, info))
        return outs

    outs = run(jax.random.key(1))
    for t, (o, r, term, trunc, info) in enumerate(outs):
        assert bool(jnp.all(jax.vmap(obs_space.contains)(o)))
        assert r.shape == (batch,) and bool(jnp.all(jnp.isfinite(r)))
        assert bool(jnp.all(term == (t == STEPS - 1))), "the horizon is termination"
        assert bool(jnp.all(trunc == (t == STEPS - 1)))  # gymnax's time limit marks it too
        assert set(info) == {METRICS, *EXTRAS, "terminated", "truncated", "final_observation"}
        metrics = info[METRICS]
        assert isinstance(metrics, StepMetrics)
        for field in ("fills", "market_orders", "quoted"):
            assert getattr(metrics, field).shape == (batch, 2), field
        for field in ("pnl", "inventory_penalty", "terminal_penalty", "spread", "inventory"):
            assert getattr(metrics, field).shape == (batch,), field
        assert metrics.quoted.dtype == jnp.bool_ and metrics.pnl.dtype == jnp.float32
        if not env.penalised:
            assert not bool(jnp.any(metrics.inventory_penalty != 0))
            assert not bool(jnp.any(metrics.terminal_penalty != 0))
    # Auto-reset after the horizon: time back to 0 in the returned state is implied by obs time.
    assert bool(jnp.all(outs[-1][0][:, env.obs_index["time"]] == 0.0))
    # Same key, same trajectory.
    again = run(jax.random.key(1))
    for a, b in zip(outs, again):
        jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)

    # Reset and step produce identical pytree structures, shapes and dtypes.
    _, s1, *_ = step(keys, state, jax.vmap(act_space.sample)(keys), params)
    assert jax.tree.structure(state) == jax.tree.structure(s1)
    assert [(x.shape, x.dtype) for x in jax.tree.leaves(state)] == [
        (x.shape, x.dtype) for x in jax.tree.leaves(s1)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_horizon_is_termination(name):
    """Over the preset's own horizon: `terminated` at the last step and not before, and
    `is_terminated` agrees with it."""
    env, params = envs.make(name)
    steps, batch = int(params.max_steps_in_episode), 2
    space = env.action_space(params)
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), batch), params
    )

    def one(state, key):
        act_key, step_key = jax.random.split(key)
        actions = jax.vmap(space.sample)(jax.random.split(act_key, batch))
        _, state, _, term, _ = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
            jax.random.split(step_key, batch), state, actions, params
        )
        agrees = term == jax.vmap(env.is_terminated, in_axes=(0, None))(state, params)
        return state, (term, agrees)

    keys = jax.random.split(jax.random.key(1), steps)
    _, (term, agrees) = jax.jit(lambda s, k: jax.lax.scan(one, s, k))(state, keys)
    term, agrees = np.asarray(term), np.asarray(agrees)
    assert term[-1].all() and not term[:-1].any()
    assert agrees.all()


def _changed(name):
    """Overrides every preset accepts, each away from its default value."""
    _, p = envs.make(name)
    return {
        "sigma": 2.0 * float(p.midprice.sigma),
        "initial_cash": float(p.initial_cash) + 5.0,
        "max_steps_in_episode": 2 * int(p.max_steps_in_episode),
    }


def _assert_same_params(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)


@pytest.mark.parametrize("name", NAMES)
def test_gymnax_make_returns_the_overrides(name):
    overrides = _changed(name)
    env, params = gymnax.make(name, **overrides)
    ours, our_params = envs.make(name, **overrides)
    _assert_same_params(params, our_params)
    _assert_same_params(env.default_params, our_params)
    assert env == ours and hash(env) == hash(ours)
    assert float(params.midprice.sigma) == overrides["sigma"]
    assert float(params.initial_cash) == overrides["initial_cash"]
    assert int(params.max_steps_in_episode) == overrides["max_steps_in_episode"]
    default_env, default_params = gymnax.make(name)
    assert env != default_env
    fill = default_env.config.fill
    if PRESETS[name]().derive_max_depth and fill is not None:  # derived, never left at 3.0
        np.testing.assert_allclose(
            float(default_params.max_depth),
            fill.max_depth(default_params.fill),
        )


def test_differently_made_environments_never_share_a_trace():
    """gymnax jits `reset`/`step` with the environment static and fills in its default params:
    each environment must get its own, even right after another one was compiled."""
    key, action = jax.random.key(0), jnp.array([0.01, 0.01])
    first, _ = envs.make("cartea_jaimungal_mm")
    second, params = envs.make("cartea_jaimungal_mm", initial_cash=7.0, max_steps_in_episode=150)
    assert first != second and hash(first) != hash(second)
    cash, time = first.obs_index["cash"], first.obs_index["time"]
    obs, state = first.reset(key)
    first.step(key, state, action)
    obs, state = second.reset(key)
    assert float(obs[cash]) == 7.0
    obs, *_ = second.step(key, state, action)
    np.testing.assert_allclose(float(obs[time]), 1.0 / 150, rtol=1e-6)  # dt of the second
    same, _ = envs.make("cartea_jaimungal_mm", initial_cash=7.0, max_steps_in_episode=150)
    assert same == second and hash(same) == hash(second)


def test_vmap_over_params_matches_single_params():
    env, params = _short("cartea_jaimungal_mm")
    sigmas = jnp.array([0.01, 0.05, 0.2])
    stacked = jax.vmap(lambda s: params.replace(midprice=params.midprice.replace(sigma=s)))(sigmas)
    key = jax.random.key(7)
    _, state = env.reset(key, params)
    action = jnp.array([0.01, 0.02])
    batched = jax.vmap(env.step, in_axes=(None, None, None, 0))(key, state, action, stacked)
    for i, s in enumerate(sigmas):
        single = env.step(key, state, action, _short("cartea_jaimungal_mm", sigma=float(s))[1])
        np.testing.assert_allclose(np.asarray(batched[0][i]), np.asarray(single[0]), rtol=1e-6)


def test_gymnax_make_builds_the_same_presets():
    env, params = gymnax.make("cartea_jaimungal_mm")
    ours, our_params = envs.make("cartea_jaimungal_mm")
    assert env == ours
    assert float(params.fill.kappa) == float(our_params.fill.kappa) == 100.0
    assert env.penalised and not gymnax.make("avellaneda_stoikov")[0].penalised


def test_cartea_jaimungal_defaults():
    env, p = envs.make("cartea_jaimungal_mm")
    assert env.default_params is p
    assert float(p.terminal_time) == 1.0 and int(p.max_steps_in_episode) == 300
    np.testing.assert_allclose(np.asarray(p.arrivals.rate), [30.0, 30.0])
    assert float(p.fill.kappa) == 100.0 and float(p.midprice.sigma) == 0.01
    assert float(p.midprice.initial_price) == 100.0
    assert float(p.reward.phi) == 2e-4 and float(p.reward.alpha) == 1e-4
    assert float(p.max_inventory) == 3.0 and float(p.initial_inventory) == 0.0
    np.testing.assert_allclose(float(p.max_depth), np.log(100) / 100, rtol=1e-6)


def test_random_initial_inventory_is_uniform_on_the_range():
    env, p = envs.make("cartea_jaimungal_mm", initial_inventory_width=2)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(0), 5000), p)
    values, counts = np.unique(np.asarray(states.inventory), return_counts=True)
    np.testing.assert_array_equal(values, [-2, -1, 0, 1, 2])
    assert counts.min() > 900  # each of 5 values expected 1000 times (sd ~28)


@pytest.mark.parametrize(
    "name, overrides, field",
    [
        ("cartea_jaimungal_mm", {"arrivals.rate": -1.0}, "arrivals.rate"),
        ("cartea_jaimungal_mm", {"sigma": -0.1}, "midprice.sigma"),
        ("cartea_jaimungal_mm", {"rate": 400.0}, "arrivals.rate"),  # rate * dt > 1
        ("cjr14", {"self_excitation": 70.0}, "arrivals.self_excitation"),  # explosive kernel
        ("cartea_jaimungal_mm", {"max_inventory": 0.5}, "max_inventory"),
        ("cartea_jaimungal_mm", {"no_such_field": 1.0}, "no_such_field"),
        ("cartea_jaimungal_mm", {"max_steps_in_episode": 2.5}, "max_steps_in_episode"),
        ("cartea_jaimungal_mm", {"rate": [1.0, 2.0, 3.0]}, "arrivals.rate"),
        ("cjr14", {"alpha": "x"}, "reward.alpha"),
    ],
)
def test_bad_parameters_raise_naming_the_field(name, overrides, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        envs.make(name, **overrides)


def test_unknown_environment_and_ambiguous_override():
    from envs.model_based.registry import resolve_name

    with pytest.raises(ValueError, match="no_such_env"):
        envs.make("no_such_env")
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_name("x", {"a.x": ("a", "x"), "b.x": ("b", "x")}, "test")


def test_per_side_override_and_scalar_broadcast():
    _, p = envs.make("cartea_jaimungal_mm", rate=[20.0, 40.0])
    np.testing.assert_allclose(np.asarray(p.arrivals.rate), [20.0, 40.0])
    _, p = envs.make("cartea_jaimungal_mm", **{"arrivals.rate": 25.0})
    np.testing.assert_allclose(np.asarray(p.arrivals.rate), [25.0, 25.0])
    # max_depth follows the fill model unless given.
    env, p = envs.make("cartea_jaimungal_mm", kappa=50.0)
    np.testing.assert_allclose(float(p.max_depth), np.log(100) / 50, rtol=1e-6)
    assert float(env.default_params.max_depth) == float(p.max_depth)
    _, p = envs.make("cartea_jaimungal_mm", kappa=50.0, max_depth=0.5)
    assert float(p.max_depth) == 0.5
