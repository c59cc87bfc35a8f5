"""The replay registry's `make`: names, errors, overrides, spaces and the default data."""

from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp
import pytest

import envs  # noqa: F401  (registers the presets with gymnax)
import envs.replay as envs_replay
from envs.replay import registry


def test_registry_names_and_errors(goog_days):
    assert registry.registered() == ["lobster_execution", "lobster_market_making"]
    with pytest.raises(ValueError, match="nope: unknown replay environment"):
        registry.make("nope")
    with pytest.raises(ValueError, match="sigma: unknown field"):
        registry.make("lobster_execution", data=goog_days[0], sigma=1.0)
    with pytest.raises(ValueError, match="side: must be 1"):
        registry.make("lobster_execution", data=goog_days[0], side=0)
    with pytest.raises(ValueError, match="window: must be -1"):
        registry.make("lobster_execution", data=goog_days[0], window=99)
    with pytest.raises(ValueError, match="action: 'market'"):
        registry.make("lobster_execution", data=goog_days[0], action="market")
    with pytest.raises(ValueError, match="quantity: must be an integer"):
        registry.make("lobster_execution", data=goog_days[0], quantity=1.5)


def test_registry_overrides_and_spaces(goog_days):
    env, params = registry.make(
        "lobster_execution",
        data=goog_days[0],
        action="single_price",
        quantity=800,
        side=-1,
        resync=False,
        capacity=32,
    )
    assert env.action_space(params).shape == (2,)
    assert int(params.task.quantity) == 800 and int(params.task.side) == -1
    assert int(params.task.max_order) == 800
    assert env.config.resync is False and env.config.capacity == 32
    assert params.initial_books.bids.price.shape == (4, 32)
    env, params = registry.make("lobster_market_making", data=goog_days[0], max_inventory=50)
    assert env.action_space(params).shape == (4,)
    assert int(params.task.max_inventory) == 50
    assert env.observation_space(params).shape == (env.obs_size,)


def test_default_data_is_the_shipped_goog_day():
    env, params = registry.make("lobster_execution")
    assert int(params.data.num_windows) == 13  # 09:30-16:00 in 30-minute windows
    assert params.data.messages.shape[-2:] == (100, 8)
    assert params.max_steps_in_episode == params.data.messages.shape[1]


def test_environments_made_differently_keep_their_own_params(goog_days):
    """Two environments of one config share compiled code (their params are arguments), and each
    gets its own results from gymnax's jitted `reset` and `step`: nothing is baked in."""
    a, pa = registry.make("lobster_execution", data=goog_days[0], quantity=500, window=0)
    b, pb = registry.make("lobster_execution", data=goog_days[0], quantity=100, window=0)
    assert a.default_params is pa and b.default_params is pb
    assert a == b and hash(a) == hash(b)  # one config: one trace, params passed in
    key = jax.random.PRNGKey(0)
    action = jnp.asarray([450.0, 0.0, 0.0, 0.0])  # far touch: buys at once what it can
    _, state_a = a.reset(key, pa)
    _, state_b = b.reset(key, pb)
    assert float(state_a.inventory) == -500.0 and float(state_b.inventory) == -100.0
    _, step_a, _, done_a, _, info_a = a.step(key, state_a, action, pa)
    _, step_b, _, done_b, _, info_b = b.step(key, state_b, action, pb)
    executed_a = int(info_a["executed"])
    assert 100 < executed_a <= 450 and not bool(done_a)
    assert float(step_a.inventory) == executed_a - 500
    assert int(info_b["executed"]) == 100 and bool(done_b)  # done, so gymnax reset it
    assert float(step_b.inventory) == -100.0 and int(step_b.time) == 0
    again = a.step(key, state_a, action, pa)
    assert int(again[5]["executed"]) == executed_a


def test_a_missing_params_argument_is_refused(goog_days):
    env, params = registry.make("lobster_execution", data=goog_days[0])
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params)
    action = jnp.zeros((4,), jnp.float32)
    calls = {
        "reset": lambda: env.reset(key),
        "step": lambda: env.step(key, state, action),
        "get_obs": lambda: env.get_obs(state),
        "action_space": lambda: env.action_space(),
        "observation_space": lambda: env.observation_space(),
    }
    for method, call in calls.items():
        with pytest.raises(TypeError, match=rf"^ReplayMarket\.{method}: params is required"):
            call()


def test_gymnax_make_returns_the_overrides(goog_days):
    env, params = gymnax.make("lobster_execution", data=goog_days[0], quantity=120, side=-1)
    assert env.default_params is params
    assert int(params.task.quantity) == 120 and int(params.task.side) == -1
    _, state = env.reset(jax.random.PRNGKey(0), params)
    assert float(state.inventory) == 120.0


def test_data_options_that_cannot_apply_are_named(goog_days):
    dataset = envs_replay.ReplayDataset(data=goog_days[0], days=())
    env, params = registry.make("lobster_execution", data=dataset)
    assert int(params.data.num_windows) == int(goog_days[0].num_windows)
    cases = [
        (dict(data=goog_days[0], window_seconds=60), "window_seconds: applies to data read"),
        (dict(data=dataset, cache_dir=False), "cache_dir: applies to data read"),
        (dict(data="x", message_path="y"), "data: give data= or message_path=, not both"),
        (dict(message_path="y"), "message_path: give both"),
        (dict(data=1.5), "data: expected a path"),
        (dict(window_seconds="half"), "window_seconds: must be an integer"),
    ]
    for overrides, words in cases:
        with pytest.raises(ValueError) as error:
            registry.make("lobster_execution", **overrides)
        assert str(error.value).startswith(words), str(error.value)
