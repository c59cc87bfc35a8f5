"""Agents as pure policies: registry, jit/vmap on every compatible preset, lookups against the
float64 solvers, execution paths against the closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agents import make_agent, registered_agents
from agents.solvers import avellaneda_stoikov as as_formulas
from agents.solvers import execution, limit_order_hjb
from envs.metrics import METRICS

# Every agent on the presets it is meant for (name, env, agent args).
COMPATIBLE = [
    ("random", "cartea_jaimungal_mm", {}),
    ("random", "cartea_jaimungal_touch", {}),
    ("random", "cj_execution_speed", {}),
    ("fixed_action", "cj_execution_lo_mo", {"action": "0.01,0.02,0,1"}),
    ("fixed_spread", "cartea_jaimungal_mm", {"half_spread": 0.01, "offset": 0.002}),
    ("fixed_spread", "cartea_jaimungal_touch", {}),
    ("fixed_spread", "cj_execution_lo_mo", {}),
    ("twap", "cj_execution_speed", {}),
    ("twap", "cj_execution_lo_mo", {}),
    ("vwap", "cj_execution_speed", {"volume_curve": "1,2,3"}),
    ("avellaneda_stoikov", "avellaneda_stoikov", {"gamma": 0.1}),
    ("avellaneda_stoikov", "glft_jump", {"symmetric": "true"}),
    ("glft", "glft_jump", {}),
    ("cartea_jaimungal_mm", "cartea_jaimungal_mm", {}),
    ("cartea_jaimungal_mm", "cjr14", {}),
    ("cartea_jaimungal_touch", "cartea_jaimungal_touch", {}),
    ("cartea_jaimungal_touch", "cjr14_touch", {"inventory_bound": 2}),
    ("cartea_jaimungal_execution", "cj_execution_speed", {}),
    ("limit_order_liquidation", "cj_execution_lo_mo", {}),
    ("limit_market_liquidation", "cj_execution_lo_mo", {}),
    ("limit_market_liquidation", "cj_execution_lo_mo", {"two_sided": True}, {"execution_side": 0}),
    ("discrete_optimal", "avellaneda_stoikov", {}),
    ("discrete_optimal", "glft_jump", {}),
    ("discrete_optimal", "cartea_jaimungal_touch", {}),
    ("discrete_optimal", "cj_execution_lo_mo", {}),
    ("discrete_optimal", "cj_execution_speed", {}),
]


def test_registry_lists_every_agent():
    replay_only = {"all_at_once"}  # the replay markets' baselines (tests/envs/replay)
    assert set(registered_agents()) == {name for name, *_ in COMPATIBLE} | replay_only


@pytest.mark.parametrize("name, env_name, args, env_overrides", [(*c, {})[:4] for c in COMPATIBLE])
def test_agent_is_a_pure_jittable_vmappable_policy(name, env_name, args, env_overrides):
    env, params = envs.make(env_name, **env_overrides)
    policy = make_agent(name, env, params, **args)
    keys = jax.random.split(jax.random.key(0), 8)
    obs, _ = jax.vmap(env.reset_env, in_axes=(0, None))(keys, params)
    act = jax.jit(jax.vmap(policy))
    first = act(keys, obs)
    np.testing.assert_array_equal(first, act(keys, obs))  # same key, same action
    space = env.action_space(params)
    assert first.shape == (8, *space.shape)
    assert bool(jnp.all(jax.vmap(space.contains)(first)))


def test_unknown_names_and_bad_arguments_are_one_line_errors():
    env, params = envs.make("cartea_jaimungal_mm")
    speed_env, speed_params = envs.make("cj_execution_speed")
    cases = [
        ("unknown agent", "nope", env, params, {}),
        ("unknown argument 'gama'", "avellaneda_stoikov", env, params, {"gama": 0.1}),
        ("argument gamma: expected a float", "avellaneda_stoikov", env, params, {"gamma": "abc"}),
        (
            "argument symmetric: expected a bool",
            "avellaneda_stoikov",
            env,
            params,
            {"symmetric": "?"},
        ),
        (
            "inventory_bound: expected a int",
            "cartea_jaimungal_mm",
            env,
            params,
            {"inventory_bound": 2.5},
        ),
        ("trading_speed", "cartea_jaimungal_execution", env, params, {}),
        ("action needs 2 values", "fixed_action", env, params, {"action": "1,2,3"}),
        ("quoting action type", "fixed_spread", speed_env, speed_params, {}),
        ("nothing to execute", "limit_order_liquidation", env, params, {}),
        ("at the touch", "fixed_spread", *envs.make("cartea_jaimungal_touch"), {"offset": 0.1}),
    ]
    for match, name, e, p, args in cases:
        with pytest.raises(ValueError, match=match) as err:
            make_agent(name, e, p, **args)
        assert "\n" not in str(err.value)


def test_random_agent_draws_independently_per_trajectory():
    env, params = envs.make("cartea_jaimungal_mm")
    policy = make_agent("random", env, params)
    keys = jax.random.split(jax.random.key(1), 4000)
    obs = jnp.zeros((4000, env.obs_size))
    actions = np.asarray(jax.vmap(policy)(keys, obs))
    assert len(np.unique(actions[:, 0])) > 3900  # not one draw broadcast to all
    # Uniform on [0, max_depth]: mean within 4 standard errors of max_depth / 2.
    high = float(params.max_depth)
    stderr = high / np.sqrt(12 * 4000)
    assert abs(actions[:, 0].mean() - high / 2) < 4 * stderr
    assert abs(np.corrcoef(actions[:, 0], actions[:, 1])[0, 1]) < 4 / np.sqrt(4000)


def _obs(env, params, t, q, normalise=False):
    raw = jnp.zeros((env.obs_size,)).at[env.obs_index["time"]].set(t)
    raw = raw.at[env.obs_index["inventory"]].set(q).at[env.obs_index["midprice"]].set(100.0)
    if normalise:
        centre = env.unnormalize_obs(jnp.zeros_like(raw), params)
        scale = env.unnormalize_obs(jnp.ones_like(raw), params) - centre
        return (raw - centre) / scale
    return raw


def test_cartea_jaimungal_policy_is_the_solver_table():
    env, params = envs.make("cartea_jaimungal_mm")
    policy = make_agent("cartea_jaimungal_mm", env, params)
    problem = limit_order_hjb.market_making_problem(30, 30, 100.0, 2e-4, 1e-4, 1.0, 3)
    hi = float(params.max_depth)
    dt = 1.0 / 300
    for n, q in [(0, 0), (0, 2), (150, -3), (299, 3), (299, 1)]:
        h = limit_order_hjb.value_at(problem, n * dt)
        bid, ask = limit_order_hjb.depths_from_value(problem, h)
        i = q + 3
        expected = np.clip(np.nan_to_num([bid[i], ask[i]], posinf=hi), 0.0, hi)
        action = policy(jax.random.key(0), _obs(env, params, n * dt, q))
        np.testing.assert_allclose(action, expected, rtol=1e-6, atol=1e-8)
        assert float(policy.value(n * dt, q)) == pytest.approx(h[i], rel=1e-6)
    # The barred side (a fill would breach ±3) is parked at max_depth.
    assert float(policy(jax.random.key(0), _obs(env, params, 0.5, 3))[0]) == pytest.approx(hi)
    # value(t, q) is jit/vmap-able.
    values = jax.jit(jax.vmap(policy.value))(jnp.zeros(7), jnp.arange(-3, 4))
    np.testing.assert_allclose(values, limit_order_hjb.value_at(problem, 0.0), rtol=1e-6)


def test_policies_read_normalised_observations():
    env, params = envs.make("cartea_jaimungal_mm")
    norm_env, norm_params = envs.make("cartea_jaimungal_mm", normalize_obs=True)
    raw = make_agent("cartea_jaimungal_mm", env, params)
    normalised = make_agent("cartea_jaimungal_mm", norm_env, norm_params)
    for t, q in [(0.0, 0), (0.4, -2), (0.99, 3)]:
        np.testing.assert_allclose(
            raw(None, _obs(env, params, t, q)),
            normalised(None, _obs(norm_env, norm_params, t, q, normalise=True)),
            rtol=1e-6,
        )


def test_avellaneda_stoikov_policy_follows_the_formula():
    env, params = envs.make("avellaneda_stoikov")
    policy = make_agent("avellaneda_stoikov", env, params, gamma=0.1)
    for t, q in [(0.0, 0), (0.5, 3), (0.9, -7)]:
        bid, ask = as_formulas.as_depths(q, 0.1, 2.0, 1.5, 1.0 - t)
        np.testing.assert_allclose(policy(None, _obs(env, params, t, q)), [bid, ask], rtol=1e-5)
    symmetric = make_agent("avellaneda_stoikov", env, params, gamma=0.1, symmetric=True)
    half = as_formulas.average_spread(0.1, 2.0, 1.5, 1.0) / 2
    np.testing.assert_allclose(symmetric(None, _obs(env, params, 0.3, 5)), [half, half], rtol=1e-6)


def _inventory_path(env, params, policy):
    """Inventory after each step of one episode (mid noise does not move Q for speed actions)."""

    @jax.jit
    def run(policy, key):
        obs, state = env.reset_env(key, params)

        def step(carry, k):
            obs, state = carry
            action = policy(k, obs)
            obs, state, _, _, info = env.step_env(k, state, action, params)
            return (obs, state), info[METRICS].inventory

        keys = jax.random.split(key, int(params.max_steps_in_episode))
        return jax.lax.scan(step, (obs, state), keys)[1]

    return np.asarray(run(policy, jax.random.key(3)), np.float64)


@pytest.mark.parametrize("shares", [1.0, -1.0])
def test_cartea_jaimungal_execution_follows_the_optimal_path(shares):
    env, params = envs.make("cj_execution_speed", initial_inventory=shares)
    path = _inventory_path(env, params, make_agent("cartea_jaimungal_execution", env, params))
    problem = execution.LinearImpactProblem(shares, 1.0, 0.01, 0.001, 0.01, 100.0)
    t = np.arange(1, 301) / 300
    # Feedback control on a 300-step grid: Euler error O(dt) on a path of size 1.
    np.testing.assert_allclose(path, execution.optimal_inventory(problem, t), atol=3e-3)
    assert path[149] == pytest.approx(0.443447 * shares, abs=3e-3)  # ORACLES Q(0.5)
    assert abs(path[-1]) < 1e-3
    assert np.all(np.sign(np.diff(path)) == -np.sign(shares))  # a buy programme only buys


def test_twap_and_vwap_follow_their_schedules_exactly():
    env, params = envs.make("cj_execution_speed", initial_inventory=-1.0)
    twap = _inventory_path(env, params, make_agent("twap", env, params))
    t = np.arange(1, 301) / 300
    np.testing.assert_allclose(twap, -(1 - t), atol=2e-5)
    env, params = envs.make("cj_execution_speed")
    vwap = _inventory_path(env, params, make_agent("vwap", env, params, volume_curve="1,3"))
    # Volume 1 on [0, 1/2) and 3 on [1/2, 1): what is left to trade is (2 - t)/2, then 3(1 - t)/2.
    expected = np.where(t <= 0.5, (2 - t) / 2, 3 * (1 - t) / 2)
    np.testing.assert_allclose(vwap, expected, atol=2e-5)


def test_liquidation_agents_mirror_for_a_buy_programme():
    sell_env, sell_params = envs.make("cj_execution_lo_mo")
    buy_env, buy_params = envs.make(
        "cj_execution_lo_mo", initial_inventory=-10.0, execution_side=-1
    )
    for name in ("limit_order_liquidation", "limit_market_liquidation"):
        sell = make_agent(name, sell_env, sell_params)
        buy = make_agent(name, buy_env, buy_params)
        for t, q in [(0.0, 10), (0.5, 4), (0.99, 7), (0.999, 1)]:
            a = np.asarray(sell(None, _obs(sell_env, sell_params, t, q)))
            b = np.asarray(buy(None, _obs(buy_env, buy_params, t, -q)))
            np.testing.assert_allclose(b[:2], a[1::-1], rtol=1e-6)  # bid <-> ask
            np.testing.assert_array_equal(b[2:], a[:1:-1])  # buy MO <-> sell MO
        assert float(buy.value(0.0, -10)) == pytest.approx(float(sell.value(0.0, 10)), rel=1e-6)
    # Near the end with inventory left, the §8.4 agent sends market orders in the right direction.
    mo = make_agent("limit_market_liquidation", buy_env, buy_params)
    late = np.asarray(mo(None, _obs(buy_env, buy_params, 0.999, -10)))
    assert late[2] == 1.0 and late[3] == 0.0
