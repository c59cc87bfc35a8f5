"""Moments of every stochastic process against closed forms, at a stated number of standard errors.

Each model is stepped on its own (component API) over many independent paths; tolerances are
Z_TOL standard errors of the Monte Carlo estimate.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.model_based import arrivals as arr
from envs.model_based import fills
from envs.model_based import midprice as mp
from envs.model_based.draws import draw

Z_TOL = 4.0  # standard errors; a correct model fails this with probability ~6e-5 per check
PATHS = 20_000
NO_ARRIVALS = jnp.zeros((2,))


def simulate_price(model, params, horizon: float, steps: int, paths: int = PATHS, seed: int = 0):
    """Terminal state of `paths` independent paths of a mid-price model (no arrivals, no impact)."""
    dt = horizon / steps

    def one_path(key):
        def body(state, k):
            _, normals = draw(k, 0, model.num_normals)
            state, _ = model.step(state, params, dt, normals, NO_ARRIVALS, 0.0)
            return state, None

        state, _ = jax.lax.scan(body, model.init(params), jax.random.split(key, steps))
        return state

    return jax.jit(jax.vmap(one_path))(jax.random.split(jax.random.key(seed), paths))


def assert_mean(samples, expected, what):
    samples = np.asarray(samples, np.float64)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= Z_TOL * se + 1e-12, (
        f"{what}: mean {samples.mean():.6g} vs {expected:.6g} (se {se:.3g})"
    )


def assert_variance(samples, expected, what):
    samples = np.asarray(samples, np.float64)
    var = samples.var(ddof=1)
    # Standard error of a sample variance: sqrt((m4 - var^2) / n).
    m4 = np.mean((samples - samples.mean()) ** 4)
    se = np.sqrt(max(m4 - var**2, 0.0) / samples.size)
    assert abs(var - expected) <= Z_TOL * se, (
        f"{what}: var {var:.6g} vs {expected:.6g} (se {se:.3g})"
    )


def test_brownian_mean_and_variance():
    p = mp.BrownianParams(initial_price=100.0, drift=0.5, sigma=2.0)
    s = simulate_price(mp.BrownianMotion(), p, horizon=1.0, steps=50).price
    assert_mean(s, 100.0 + 0.5, "S_T")
    assert_variance(s, 4.0, "S_T")


def test_geometric_expected_terminal_price():
    p = mp.GeometricParams(initial_price=100.0, drift=0.3, sigma=0.4)
    s = simulate_price(mp.GeometricBrownianMotion(), p, horizon=1.0, steps=50).price
    assert_mean(s, 100.0 * np.exp(0.3), "E[S_T]")
    # Exact log-normal step: Var[log S_T] = sigma^2 T.
    assert_variance(np.log(np.asarray(s)), 0.16, "log S_T")


def test_ou_transition_moments_and_stationary_variance():
    kappa, sigma, horizon = 3.0, 1.5, 2.0
    p = mp.OUParams(initial_price=101.0, mean_level=100.0, mean_reversion=kappa, sigma=sigma)
    s = simulate_price(mp.OrnsteinUhlenbeck(), p, horizon=horizon, steps=40).price
    decay = np.exp(-kappa * horizon)
    assert_mean(s, 100.0 + 1.0 * decay, "OU mean")
    assert_variance(s, sigma**2 * (1 - decay**2) / (2 * kappa), "OU variance")
    # Long run: the stationary variance sigma^2 / (2 kappa), independent of the step size.
    s_long = simulate_price(mp.OrnsteinUhlenbeck(), p, horizon=10.0, steps=20).price
    assert_variance(s_long, sigma**2 / (2 * kappa), "OU stationary variance")


def test_ou_drift_mean_follows_the_alpha_signal():
    p = mp.OUDriftParams(
        initial_price=100.0,
        sigma=0.1,
        initial_alpha=2.0,
        alpha_mean=0.5,
        alpha_mean_reversion=4.0,
        alpha_sigma=1.0,
    )
    steps, horizon = 40, 1.0
    dt = horizon / steps
    state = simulate_price(mp.OUDrift(), p, horizon=horizon, steps=steps)
    # Euler in S with the exact OU alpha: E[S_T] = S_0 + dt * sum_n E[alpha_n].
    n = np.arange(steps)
    expected = 100.0 + dt * np.sum(0.5 + 1.5 * np.exp(-4.0 * n * dt))
    assert_mean(state.price, expected, "E[S_T]")
    assert_mean(state.factor, 0.5 + 1.5 * np.exp(-4.0), "E[alpha_T]")


def test_heston_is_a_martingale_and_keeps_positive_prices():
    p = mp.HestonParams(
        initial_price=100.0,
        drift=0.1,
        initial_variance=0.09,
        variance_mean_reversion=1.5,
        long_run_variance=0.04,
        vol_of_vol=0.5,
        correlation=-0.6,
    )
    state = simulate_price(mp.Heston(), p, horizon=1.0, steps=50)
    assert np.all(np.asarray(state.price) > 0)
    assert_mean(state.price, 100.0 * np.exp(0.1), "E[S_T]")


def test_cev_mean_without_drift():
    p = mp.CEVParams(initial_price=100.0, drift=0.0, sigma=0.5, elasticity=0.7)
    s = simulate_price(mp.CEV(), p, horizon=1.0, steps=50).price
    assert_mean(s, 100.0, "E[S_T]")


@pytest.mark.parametrize(
    "model, make_params, values",
    [
        (mp.Heston(), lambda v: mp.HestonParams(correlation=v), [-0.9, 0.0, 0.5]),
        (mp.CEV(), lambda v: mp.CEVParams(elasticity=v), [0.3, 0.8, 1.2]),
        (mp.OUDrift(jumps=True), lambda v: mp.OUDriftParams(alpha_sigma=v), [0.0, 0.5, 2.0]),
    ],
)
def test_models_vectorise_over_parameters_without_cross_talk(model, make_params, values):
    """vmap over per-path parameters equals running each path alone (mbt_gym's Heston, CEV and
    OU-alpha mix trajectories when batched)."""
    params = jax.vmap(make_params)(jnp.array(values))
    keys = jax.random.split(jax.random.key(3), len(values))
    arrivals = jnp.array([1.0, 0.0])  # a sell market order every step: the OU-jump alpha jumps

    @jax.jit
    def run(p, key):
        def body(state, k):
            _, normals = draw(k, 0, model.num_normals)
            return model.step(state, p, 0.01, normals, arrivals, 0.0)[0], None

        return jax.lax.scan(body, model.init(p), jax.random.split(key, 20))[0].price

    batched = jax.vmap(run)(params, keys)
    singles = [run(make_params(jnp.float32(v)), k) for v, k in zip(values, keys)]
    np.testing.assert_allclose(np.asarray(batched), np.asarray(singles), rtol=1e-6)


def _run_arrivals(model, params, dt, steps, paths=4000, seed=0):
    """Counts of arrivals per side and the time-average intensity (Hawkes) over `steps`."""

    def one_path(key):
        def body(carry, k):
            state, counts, intensity_sum = carry
            count_key, draw_key = jax.random.split(k)
            uniforms, _ = draw(draw_key, model.num_uniforms, 0)
            state, arrivals, _, _ = model.step(count_key, state, params, dt, uniforms, jnp.ones(2))
            level = getattr(state, "intensity", jnp.zeros(2))
            return (state, counts + arrivals, intensity_sum + level), None

        init = (model.init(params), jnp.zeros(2), jnp.zeros(2))
        (_, counts, isum), _ = jax.lax.scan(body, init, jax.random.split(key, steps))
        return counts, isum / steps

    return jax.jit(jax.vmap(one_path))(jax.random.split(jax.random.key(seed), paths))


@pytest.mark.parametrize("exact", [False, True])
def test_poisson_counts(exact):
    rate, dt, steps = np.array([30.0, 60.0]), 0.01, 100
    counts, _ = _run_arrivals(
        arr.PoissonArrivals(exact_counts=exact), arr.PoissonParams(rate=jnp.array(rate)), dt, steps
    )
    counts = np.asarray(counts)
    for side in range(2):
        p = rate[side] * dt
        assert_mean(counts[:, side], rate[side] * dt * steps, f"count side {side}")
        expected_var = steps * p if exact else steps * p * (1 - p)
        assert_variance(counts[:, side], expected_var, f"count side {side}")


def test_hawkes_stationary_intensity():
    baseline, decay, self_exc, cross_exc, dt = 10.0, 50.0, 20.0, 5.0, 0.002
    params = arr.HawkesParams(
        baseline_rate=jnp.array([baseline, baseline]),
        initial_intensity=jnp.array([baseline, baseline]) / (1 - (self_exc + cross_exc) / decay),
        decay=decay,
        self_excitation=self_exc,
        cross_excitation=cross_exc,
    )
    counts, mean_intensity = _run_arrivals(arr.HawkesArrivals(), params, dt, steps=1000, paths=2000)
    # lambda_bar / (1 - gamma/kappa): exact for this discretisation (jumps scaled by their mean
    # decay within the step), the continuous-time value.
    stationary = baseline / (1 - (self_exc + cross_exc) / decay)
    per_path = np.asarray(mean_intensity).mean(axis=1)
    assert_mean(per_path, stationary, "time-average intensity")
    # Arrivals happen at the intensity: E[count] = dt * sum E[lambda] = T * mean intensity.
    assert_mean(np.asarray(counts).mean(axis=1), 2.0 * stationary, "arrivals over T=2")


@pytest.mark.parametrize(
    "model, params, depth",
    [
        (fills.ExponentialFill(), fills.ExponentialFillParams(kappa=1.5), 0.6),
        (fills.TriangularFill(), fills.TriangularFillParams(max_fill_depth=2.0), 0.5),
        (fills.PowerFill(), fills.PowerFillParams(kappa=2.0, exponent=1.5), 0.4),
    ],
)
def test_fill_functions_and_max_depth(model, params, depth):
    # Closed forms written out independently of the implementation.
    if isinstance(model, fills.ExponentialFill):
        expected = np.exp(-1.5 * depth)
    elif isinstance(model, fills.TriangularFill):
        expected = 1 - depth / 2.0
    else:
        expected = 1 / (1 + (2.0 * depth) ** 1.5)
    np.testing.assert_allclose(
        float(model.probability(params, jnp.asarray(depth))), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        float(model.probability(params, jnp.asarray(model.max_depth(params)))), 0.01, rtol=1e-4
    )
    # Elementwise per trajectory and per side: no reduction across a batch (mbt_gym takes a max).
    depths = jnp.array([[0.1, 0.9], [0.3, 0.0]])
    probs = model.probability(params, depths)
    singles = np.array([[float(model.probability(params, d)) for d in row] for row in depths])
    np.testing.assert_allclose(np.asarray(probs), singles, rtol=1e-6)


def test_draws_are_uniform_and_normal():
    u, z = draw(jax.random.key(0), 1, 1, (200_000,))
    u, z = np.asarray(u[0]), np.asarray(z[0])
    assert u.min() >= 0 and u.max() < 1
    assert_mean(u, 0.5, "uniform")
    assert_variance(u, 1 / 12, "uniform")
    assert_mean(z, 0.0, "normal")
    assert_variance(z, 1.0, "normal")
    assert np.all(np.isfinite(z))
