"""The components mbt_gym has and the defects of issue 12, each against a closed form, a moment or
mbt_gym's semantics: initial inventory ranges within the bounds, CEV absorbed at 0, nonlinear
Poisson arrivals, the exogenous market maker's fills, an OU mid-price with jumps, the CJ criteria
and the inventory exponent, a random start time, an initial transient impact that is observed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import envs
from envs.metrics import METRICS
from envs.model_based import arrivals as arr
from envs.model_based import fills as fil
from envs.model_based import midprice as mp
from envs.model_based.draws import draw

Z_TOL = 4.0  # standard errors


def assert_mean(samples, expected, what, extra=0.0):
    samples = np.asarray(samples, np.float64)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= Z_TOL * se + extra + 1e-12, (
        f"{what}: mean {samples.mean():.6g} vs {expected:.6g} (se {se:.3g})"
    )


def reset_inventories(name, n=7000, **overrides):
    env, p = envs.make(name, **overrides)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), n), p
    )
    return np.unique(np.asarray(states.inventory), return_counts=True)


def assert_uniform(values, counts, support):
    np.testing.assert_array_equal(values, support)
    n, k = counts.sum(), len(support)
    sd = np.sqrt(n * (1 / k) * (1 - 1 / k))
    assert np.all(np.abs(counts - n / k) < Z_TOL * sd), counts


# ----------------------------------------------------------------- item 3: defects


def test_sell_only_programme_never_starts_short():
    # Before: q0 = 1, width 3 drew -2 or -1 in 2/7 = 29 % of resets, and could never trade.
    values, counts = reset_inventories(
        "cj_execution_lo_mo", initial_inventory=1.0, initial_inventory_width=3
    )
    assert_uniform(values, counts, [0, 1, 2, 3, 4])
    # The buy-only mirror never starts long.
    values, counts = reset_inventories(
        "cj_execution_lo_mo", initial_inventory=-1.0, initial_inventory_width=3, execution_side=-1.0
    )
    assert_uniform(values, counts, [-4, -3, -2, -1, 0])


def test_width_beyond_the_bound_is_uniform_within_it():
    # Before: width 5 with bound 3 put 3/11 of the resets on each bound.
    values, counts = reset_inventories("cartea_jaimungal_mm", initial_inventory_width=5)
    assert_uniform(values, counts, [-3, -2, -1, 0, 1, 2, 3])


def test_asymmetric_initial_inventory_range():
    # mbt_gym's initial_inventory=(low, high): here q0 + {-below, ..., above}.
    values, counts = reset_inventories(
        "cartea_jaimungal_mm", initial_inventory=-1.0, initial_inventory_width=(1, 2)
    )
    assert_uniform(values, counts, [-2, -1, 0, 1])
    with pytest.raises(ValueError, match="initial_inventory_width"):
        envs.make("cartea_jaimungal_mm", initial_inventory_width=(1, -2))


def _terminal_prices(model, params, horizon, steps, paths=20_000):
    dt = horizon / steps

    def path(key):
        def body(state, k):
            _, normals = draw(k, 0, model.num_normals)
            return model.step(state, params, dt, normals, jnp.zeros((2,)), 0.0)[0], None

        return jax.lax.scan(body, model.init(params), jax.random.split(key, steps))[0].price

    return np.asarray(jax.jit(jax.vmap(path))(jax.random.split(jax.random.key(3), paths)))


def test_cev_with_elasticity_zero_is_absorbed_at_zero():
    # Brownian motion from S0 = 1 with sigma = 1, stopped at 0: a martingale, E[S_T] = S0, and
    # P(absorbed by T) = 2 Phi(-S0 / sigma sqrt(T)) = 0.317 (less under discrete monitoring).
    # Before, a path at 0 diffused again (0^0 = 1) and E[S_T] was ~1.15. The Euler overshoot
    # clipped at 0 biases the mean up by about P(hit) * 0.58 sigma sqrt(dt) = 0.012.
    p = mp.CEVParams(initial_price=1.0, drift=0.0, sigma=1.0, elasticity=0.0)
    s = _terminal_prices(mp.CEV(), p, horizon=1.0, steps=200)
    assert_mean(s, 1.0, "E[S_T]", extra=0.013)
    absorbed = np.mean(s == 0.0)
    assert 0.25 < absorbed <= 2 * norm.cdf(-1.0) + 0.01, absorbed


def test_kappa_zero_names_kappa_and_why():
    with pytest.raises(ValueError, match=r"^fill\.kappa: must be > 0.*does not fall with depth"):
        envs.make("cartea_jaimungal_mm", kappa=0.0)


# ----------------------------------------------------------------- item 4: mbt_gym components


def test_nonlinear_poisson_arrival_probability():
    # P(arrival in dt) = 1 - exp(-lambda dt), here lambda dt = 2 (linear arrivals refuse it).
    model, dt, n = arr.NonlinearPoissonArrivals(), 0.01, 40_000
    p = arr.PoissonParams(rate=jnp.array([200.0, 50.0]))
    model.validate(p, dt)
    with pytest.raises(ValueError, match="arrivals.rate"):
        arr.PoissonArrivals().validate(p, dt)
    uniforms, _ = draw(jax.random.key(0), 2, 0, (n,))
    step = jax.vmap(lambda u: model.step(None, model.init(p), p, dt, u, jnp.zeros(2))[1], 1)
    rate = np.asarray(step(uniforms)).mean(axis=0)
    expected = 1.0 - np.exp(-np.array([2.0, 0.5]))
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(rate - expected) < Z_TOL * se), (rate, expected)
    env, _ = envs.make("cartea_jaimungal_mm", arrivals="poisson_nonlinear", rate=400.0)
    assert isinstance(env.config.arrivals, arr.NonlinearPoissonArrivals)


def _fill_rate(env, params, depth, n=1500):
    """(fills, arrivals) summed over n episodes quoting `depth` on both sides."""
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(
        jax.random.split(jax.random.key(1), n), params
    )
    action = jnp.full((n, 2), depth)

    def body(state, key):
        _, state, _, _, info = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
            jax.random.split(key, n), state, action, params
        )
        return state, (info[METRICS].fills.sum(), info["arrivals"].sum())

    steps = int(params.max_steps_in_episode)
    _, (f, a) = jax.lax.scan(body, state, jax.random.split(jax.random.key(2), steps))
    return float(f.sum()), float(a.sum())


@pytest.mark.parametrize("depth, expected", [(0.3, 1.0), (0.9, 0.8 * np.exp(-2.0 * 0.4))])
def test_exogenous_market_maker_fill_probability(depth, expected):
    # mbt_gym's ExogenousMmFillProbabilityModel: at or inside the exogenous quote D = 0.5 every
    # arriving order fills; beyond, base * exp(-kappa (delta - D)).
    env, p = envs.make(
        "cartea_jaimungal_mm",
        fill="exogenous_mm",
        kappa=2.0,
        base_fill_probability=0.8,
        max_inventory=1e6,
        max_steps_in_episode=100,
        max_depth=2.0,
    )
    assert isinstance(p.fill, fil.ExogenousMMParams)
    assert env.obs_index["best_depth_bid"] == 4
    fills, arrivals = _fill_rate(env, p, depth)
    se = np.sqrt(max(expected * (1 - expected), 1e-4) / arrivals)
    assert abs(fills / arrivals - expected) < Z_TOL * se, (fills / arrivals, expected)


def test_exogenous_best_depth_is_an_ou_process():
    model = fil.ExogenousMarketMakerFill()
    p = fil.ExogenousMMParams(
        initial_best_depth=jnp.array([1.0, 0.2]),
        best_depth_mean=jnp.array([0.6, 0.6]),
        best_depth_mean_reversion=4.0,
        best_depth_sigma=0.1,
    )
    steps, dt, n = 20, 0.5 / 20, 20_000

    def path(key):
        def body(state, k):
            return model.step(state, p, dt, jax.random.normal(k, (2,))), None

        return jax.lax.scan(body, model.init(p), jax.random.split(key, steps))[0].best_depth

    d = np.asarray(jax.vmap(path)(jax.random.split(jax.random.key(0), n)))
    decay = np.exp(-4.0 * 0.5)
    for side, d0 in enumerate([1.0, 0.2]):  # the floor at 0 sits > 9 sd away
        assert_mean(d[:, side], 0.6 + (d0 - 0.6) * decay, f"E[D_T] side {side}")


def test_ou_jump_mid_price_moments():
    # Deterministic arrivals (a sell order every step): S_{n+1} = Sbar + (S_n - Sbar) a + sigma
    # sqrt(v) Z - xi^-, a = e^{-kappa dt}, so E[S_N] = Sbar + (S0 - Sbar) a^N - xi^- (1 - a^N)/(1 - a)
    # and Var[S_N] = sigma^2 (1 - a^{2N}) / (2 kappa).
    model = mp.OrnsteinUhlenbeckJump()
    kappa, sigma, xi, steps, dt, n = 2.0, 0.5, 0.03, 40, 0.025, 20_000
    p = mp.OUJumpParams(
        initial_price=101.0,
        mean_level=100.0,
        mean_reversion=kappa,
        sigma=sigma,
        jump_size=jnp.array([xi, 0.07]),
    )
    sells = jnp.array([1.0, 0.0])

    def path(key):
        def body(state, k):
            _, normals = draw(k, 0, 1)
            return model.step(state, p, dt, normals, sells, 0.0)[0], None

        return jax.lax.scan(body, model.init(p), jax.random.split(key, steps))[0].price

    s = np.asarray(jax.vmap(path)(jax.random.split(jax.random.key(0), n)), np.float64)
    a = np.exp(-kappa * dt)
    mean = 100.0 + 1.0 * a**steps - xi * (1 - a**steps) / (1 - a)
    assert_mean(s, mean, "E[S_N]")
    var = sigma**2 * (1 - a ** (2 * steps)) / (2 * kappa)
    assert abs(s.var() / var - 1) < Z_TOL * np.sqrt(2 / n), (s.var(), var)


def _trajectory(name, steps, **overrides):
    """(states before, states after, rewards, infos) of random actions, float64."""
    env, p = envs.make(name, **overrides)
    batch = 64
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), batch), p
    )
    space = env.action_space(p)

    def body(state, key):
        k_act, k_step = jax.random.split(key)
        action = jax.vmap(space.sample)(jax.random.split(k_act, batch))
        _, new, reward, _, info = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, batch), state, action, p
        )
        return new, (state, new, reward, info)

    _, out = jax.lax.scan(body, state, jax.random.split(jax.random.key(1), steps))
    return p, jax.tree.map(np.asarray, out)


@pytest.mark.parametrize(
    "reward", ["cj_mm_criterion", "cj_oe_criterion", "running_inventory_penalty"]
)
def test_cj_criteria_and_inventory_exponent(reward):
    # Every criterion's episode total is the CJ functional Y_T - Y_0 - alpha |Q_T|^p
    # - phi sum |Q_t|^p dt (here p = 1.5); the CJ criteria pay alpha |Q_T|^p as its increments.
    steps, exponent = 40, 1.5
    with jax.enable_x64(True):
        p, (before, after, r, info) = _trajectory(
            "cartea_jaimungal_mm",
            steps,
            reward=reward,
            phi=0.01,
            alpha=0.02,
            inventory_exponent=exponent,
            initial_inventory_width=2,
            max_steps_in_episode=steps,
            terminal_time=steps / 300,
        )
    dt = float(p.terminal_time) / steps
    value = lambda s: s.cash + s.inventory * s.midprice.price  # noqa: E731
    q = np.abs(np.asarray(after.inventory))
    expected = (
        value(after)[-1]
        - value(before)[0]
        - 0.02 * q[-1] ** exponent
        - 0.01 * dt * np.sum(q**exponent, axis=0)
    )
    np.testing.assert_allclose(r.sum(axis=0), expected, rtol=0, atol=1e-9)
    terminal = np.asarray(info[METRICS].terminal_penalty)
    if reward == "running_inventory_penalty":
        assert np.all(terminal[:-1] == 0)
    else:
        q_before = np.abs(np.asarray(before.inventory))
        increments = 0.02 * (q**exponent - q_before**exponent)
        increments[0] = 0.02 * q[0] ** exponent
        np.testing.assert_allclose(terminal, increments, rtol=1e-6, atol=1e-12)
        assert np.any(terminal[:-1] != 0)


def test_random_start_time():
    env, p = envs.make(
        "cartea_jaimungal_mm", max_steps_in_episode=10, terminal_time=0.1, max_start_time=0.04
    )
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), 5000), p
    )
    values, counts = np.unique(np.asarray(state.time), return_counts=True)
    assert_uniform(values, counts, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(
        np.asarray(obs[:, env.obs_index["time"]]), np.asarray(state.time) * 0.01, rtol=1e-6
    )
    # An episode started at step k runs the remaining 10 - k steps and terminates at T.
    s = jax.tree.map(lambda x: x[0], state)
    k = int(s.time)
    for i in range(10 - k):
        _, s, _, done, _ = env.step_env(jax.random.key(i), s, jnp.array([0.1, 0.1]), p)
        assert bool(done) == (i == 9 - k)
    with pytest.raises(ValueError, match="max_start_time"):
        envs.make("cartea_jaimungal_mm", max_start_time=1.0)  # no step left to run


def test_initial_transient_impact_decays_and_is_observed():
    # No volatility, no trading: S_n = S0 + I0 (e^{-rho n dt} - 1), observed I_n = I0 e^{-rho n dt}.
    i0, rho, steps = 0.2, 3.0, 30
    env, p = envs.make(
        "cj_execution_speed",
        impact="transient",
        initial_transient=i0,
        transient=0.001,
        transient_decay=rho,
        sigma=0.0,
    )
    dt = float(p.terminal_time) / int(p.max_steps_in_episode)
    obs, s = env.reset_env(jax.random.key(0), p)
    assert float(obs[env.obs_index["transient_impact"]]) == pytest.approx(i0)
    for _ in range(steps):
        obs, s, *_ = env.step_env(jax.random.key(1), s, jnp.array([0.0]), p)
    decayed = i0 * np.exp(-rho * steps * dt)
    assert float(obs[env.obs_index["transient_impact"]]) == pytest.approx(decayed, rel=1e-5)
    assert float(s.midprice.price) == pytest.approx(100.0 + decayed - i0, abs=2e-5)
    with pytest.raises(ValueError, match="impact.initial_transient"):
        envs.make("cj_execution_speed", initial_transient=0.1)  # no transient part to start
