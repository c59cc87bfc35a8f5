"""Exponential utility stays finite in float32 (issue 12, item 2), and any market is composed by
name from Python and from the commands' --set (item 5)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.catalog import make_any
from envs.model_based import arrivals as arr
from envs.model_based import compose, rewards
from envs.model_based import midprice as mp
from envs.model_based.registry import registered
from envs.overrides import parse_assignments

# ----------------------------------------------------------------- item 2: stable utility


def test_stable_utility_is_exact_below_the_cap_and_finite_beyond():
    gamma = jnp.float32(0.1)
    wealth = jnp.linspace(-100.0, 300.0, 4001, dtype=jnp.float32)  # -gamma w <= 10 < cap
    exact = -jnp.exp(-gamma * wealth)
    np.testing.assert_array_equal(rewards.stable_exponential_utility(gamma, wealth), exact)
    # Far losses, down to float32's range: finite, non-decreasing, and the tangent at the cap.
    huge = -jnp.logspace(3.0, 37.0, 400, dtype=jnp.float32)[::-1]
    u = np.asarray(rewards.stable_exponential_utility(gamma, huge), np.float64)
    assert np.all(np.isfinite(u)) and np.all(np.diff(u) >= 0)
    assert np.all(np.isfinite(np.asarray(rewards.stable_exponential_utility(gamma, huge)) ** 2))
    c = rewards.EXPONENT_CAP
    w0 = -c / 0.1
    for w in (w0 - 1.0, w0 - 50.0):
        tangent = -np.exp(c) * (1.0 + (-0.1 * w - c))
        assert float(rewards.stable_exponential_utility(gamma, jnp.float32(w))) == pytest.approx(
            tangent, rel=1e-5
        )


def _random_rollout(name, batch=64):
    """(rewards (T, B), done (T, B)) of uniform-random actions over one episode."""
    env, p = envs.make(name)
    steps = int(p.max_steps_in_episode)
    space = env.action_space(p)

    @jax.jit
    def run(key):
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, batch), p)

        def body(state, k):
            k_act, k_step = jax.random.split(k)
            action = jax.vmap(space.sample)(jax.random.split(k_act, batch))
            _, state, r, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, batch), state, action, p
            )
            return state, (r, term | trunc)

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1]

    return run(jax.random.key(0))


def _gae(rewards_, done, values, gamma=0.99, lam=0.95):
    """Independent GAE (Schulman et al. 2016) with V = `values` everywhere, episodes cut at done."""

    def body(carry, x):
        r, d = x
        delta = r + gamma * (1.0 - d) * values - values
        adv = delta + gamma * lam * (1.0 - d) * carry
        return adv, adv

    return jax.lax.scan(body, jnp.zeros_like(rewards_[0]), (rewards_, done), reverse=True)[1]


@pytest.mark.parametrize("name", ["avellaneda_stoikov", "avellaneda_stoikov_hawkes"])
def test_random_agent_returns_and_advantages_are_finite(name):
    # Before: -inf in 95 % (AS) and 100 % (AS-Hawkes) of the random agent's episodes.
    r, done = _random_rollout(name)
    returns = np.asarray(r.sum(axis=0), np.float64)
    assert np.all(np.isfinite(returns))
    capped = np.mean(returns < -np.exp(rewards.EXPONENT_CAP))
    assert capped > 0.5, capped  # the test does reach the continued region
    done = done.astype(jnp.float32)
    for value in (0.0, float(np.mean(returns))):
        adv = _gae(r, done, jnp.float32(value))
        normalised = (adv - adv.mean()) / (adv.std() + 1e-8)
        value_loss = jnp.mean(adv**2)
        assert bool(jnp.all(jnp.isfinite(adv))) and bool(jnp.all(jnp.isfinite(normalised)))
        assert bool(jnp.isfinite(value_loss))


# ----------------------------------------------------------------- item 5: markets by name


@pytest.mark.parametrize(
    "choice, cls, params_type",
    [
        ("heston", mp.Heston, mp.HestonParams),
        ("cev", mp.CEV, mp.CEVParams),
        ("gbm", mp.GeometricBrownianMotion, mp.GeometricParams),
        ("ou", mp.OrnsteinUhlenbeck, mp.OUParams),
    ],
)
def test_mid_price_by_name_runs(choice, cls, params_type):
    env, p = envs.make("cartea_jaimungal_mm", midprice=choice, initial_price=50.0)
    assert isinstance(env.config.midprice, cls) and isinstance(p.midprice, params_type)
    assert float(p.midprice.initial_price) == 50.0
    assert float(p.reward.phi) == 2e-4  # the rest of the preset is kept
    obs, state = env.reset(jax.random.key(0), p)
    obs, state, r, *_ = env.step(jax.random.key(1), state, jnp.array([0.01, 0.01]), p)
    assert obs.shape == env.observation_space(p).shape and bool(jnp.isfinite(r))
    assert float(obs[env.obs_index["midprice"]]) == pytest.approx(50.0, abs=5.0)


def test_every_slot_by_name_with_overrides():
    env, p = envs.make(
        "market",
        midprice="ou_jump",
        arrivals="hawkes",
        fill="power",
        impact="none",
        action="touch_and_market",
        reward="cj_mm_criterion",
        jump_size=0.02,
        exponent=1.5,
        phi=0.1,
    )
    c = env.config
    assert isinstance(c.midprice, mp.OrnsteinUhlenbeckJump) and isinstance(
        c.arrivals, arr.HawkesArrivals
    )
    assert c.fill.name == "power" and c.impact is None and c.action.name == "touch_and_market"
    assert isinstance(c.reward, rewards.CJMarketMakingCriterion)
    np.testing.assert_allclose(np.asarray(p.midprice.jump_size), [0.02, 0.02])
    assert float(p.fill.exponent) == 1.5 and float(p.reward.phi) == 0.1
    # A reward swapped on a preset keeps its numbers (same params type).
    _, p = envs.make("cartea_jaimungal_mm", reward="cj_mm_criterion")
    assert float(p.reward.phi) == 2e-4 and float(p.reward.alpha) == 1e-4
    # The static options still apply to a swapped-in arrival model.
    env, _ = envs.make("cartea_jaimungal_mm", arrivals="hawkes", exact_counts=True)
    assert env.config.arrivals.exact_counts


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"midprice": "hestn"}, r"^midprice: unknown midprice model 'hestn'; known: brownian"),
        ({"midprice": 1}, r"^midprice: unknown midprice model 1"),
        ({"fill": "none"}, r"^fill: action type 'limit' needs a fill model"),
        ({"action": "trading_speed"}, r"^impact: action type 'trading_speed' needs"),
        ({"midprice": "cev", "elasticity": 3.0}, r"^midprice\.elasticity: must lie in"),
        ({"midprice": "heston", "correlation": 2.0}, r"^midprice\.correlation"),
        ({"midprice": "gbm", "initial_price": -1.0}, r"^midprice\.initial_price"),
        ({"midprice": "ou", "mean_reversion": -1.0}, r"^midprice\.mean_reversion"),
        ({"midprice": "heston", "sigma": 0.1}, r"^sigma: unknown field"),
    ],
)
def test_bad_choices_raise_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message) as err:
        envs.make("cartea_jaimungal_mm", **overrides)
    assert "\n" not in str(err.value)


def _names(config):
    """The name of each of a config's components, found by equality in `compose.CHOICES`."""
    out = {}
    for slot in compose.SLOTS:
        current = getattr(config, slot)
        found = [n for n, build in compose.CHOICES[slot].items() if build() == current]
        assert found, (slot, current)
        out[slot] = found[0]
    return out


@pytest.mark.parametrize("name", registered())
def test_every_preset_is_a_named_composition(name):
    env, _ = envs.make(name)
    names = _names(env.config)
    assert compose.config(normalize_obs=env.config.normalize_obs, **names) == env.config


def test_commands_take_components_through_set(capsys):
    from agents.evaluate import main

    overrides = parse_assignments(["midprice=cev", "elasticity=0.5", "reward=pnl"])
    env, p = make_any("cartea_jaimungal_mm", overrides)
    assert isinstance(env.config.midprice, mp.CEV) and float(p.midprice.elasticity) == 0.5
    argv = ["--env", "cartea_jaimungal_mm", "--agent", "random", "--episodes", "4", "--json",
            "--seed", "0", "--set", "midprice=cev", "--set", "elasticity=0.5",
            "--set", "max_steps_in_episode=5", "--set", "terminal_time=0.05"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["env"] == "cartea_jaimungal_mm"
    with pytest.raises(SystemExit):
        main([*argv[:9], "--set", "midprice=bogus"])
    err = capsys.readouterr().err
    assert "midprice: unknown midprice model 'bogus'" in err
