"""Price impact of trading at speed: temporary power, linear permanent, transient with decay."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.model_based.impact import (
    ImpactParams,
    PriceImpact,
    TemporaryImpact,
    TemporaryPermanentImpact,
    TransientImpact,
)


def test_temporary_power_and_permanent_impact():
    model = TemporaryPermanentImpact()
    p = ImpactParams(temporary=0.02, temporary_exponent=0.5, permanent=0.003)
    state = model.init(p)
    dt, speed = 0.01, 4.0
    _, shift, mid_increment = model.step(state, p, dt, jnp.float32(speed))
    np.testing.assert_allclose(float(shift), -0.02 * 4.0**0.5, rtol=1e-6)  # a seller gets less
    np.testing.assert_allclose(float(mid_increment), -0.003 * speed * dt, rtol=1e-6)
    _, shift_buy, _ = model.step(state, p, dt, jnp.float32(-speed))
    np.testing.assert_allclose(float(shift_buy), +0.02 * 4.0**0.5, rtol=1e-6)  # a buyer pays more


def test_transient_impact_decays_exponentially():
    model = TransientImpact()
    p = ImpactParams(transient=0.5, transient_decay=3.0)
    dt = 0.01
    state, _, first = model.step(model.init(p), p, dt, jnp.float32(10.0))  # sell 0.1 units at once
    np.testing.assert_allclose(float(first), -0.5 * 10.0 * dt, rtol=1e-6)
    displacement = float(state.transient)
    for _ in range(50):
        state, _, _ = model.step(state, p, dt, jnp.float32(0.0))
    np.testing.assert_allclose(float(state.transient), displacement * np.exp(-3.0 * 0.5), rtol=1e-5)


def test_each_impact_model_refuses_the_parts_it_lacks():
    with pytest.raises(TypeError):
        PriceImpact(kind="bogus")  # the interface is abstract: no kind strings
    with pytest.raises(ValueError, match=r"impact\.permanent"):
        TemporaryImpact().validate(ImpactParams(temporary=0.01, permanent=0.001))
    with pytest.raises(ValueError, match=r"impact\.transient"):
        TemporaryPermanentImpact().validate(ImpactParams(permanent=0.001, transient=0.1))
    TransientImpact().validate(ImpactParams(permanent=0.001, transient=0.1, transient_decay=1.0))
    # Temporary impact moves the execution price, never the mid.
    p = ImpactParams(temporary=0.02)
    state, shift, mid_increment = TemporaryImpact().step(TemporaryImpact().init(p), p, 0.01, 3.0)
    np.testing.assert_allclose(float(shift), -0.06, rtol=1e-6)
    assert float(mid_increment) == 0.0 and float(state.transient) == 0.0


def test_speed_execution_without_volatility_matches_the_closed_form_cost():
    """With sigma = 0, selling N = 1 at constant speed N/T with temporary k and permanent b impact
    earns sum_n dt (S0 - k - b n dt) = S0 - k - b (1 - dt) / 2 exactly (checked in float64: the
    cash *level* is a large total; rewards are built from increments and need no float64)."""
    with jax.enable_x64(True):
        env, params = envs.make("cj_execution_speed", sigma=0.0, phi=0.0, alpha=0.0)
        step = jax.jit(env.step_env)
        _, state = env.reset_env(jax.random.key(0), params)
        steps = int(params.max_steps_in_episode)
        for t in range(steps):
            _, state, _, _, _ = step(jax.random.key(t), state, jnp.array([1.0]), params)
        k, b, dt = float(params.impact.temporary), float(params.impact.permanent), 1.0 / steps
        expected = 100.0 - k - b * (1.0 - dt) / 2.0
        np.testing.assert_allclose(float(state.cash), expected, rtol=0, atol=1e-10)
        assert abs(float(state.inventory)) < 1e-12


def test_exact_counts_option():
    env, params = envs.make("cartea_jaimungal_mm", exact_counts=True, rate=600.0)  # rate*dt = 2
    assert env.config.arrivals.exact_counts
    _, state = env.reset(jax.random.key(0), params)
    _, _, _, _, _, info = env.step(jax.random.key(1), state, jnp.array([0.01, 0.01]), params)
    assert info["arrivals"].shape == (2,)
    with pytest.raises(ValueError, match="exact_counts"):
        envs.make("cj_execution_speed", exact_counts=True)  # no market-order arrivals
