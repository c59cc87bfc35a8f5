"""The replay registry's `make`: names, errors, overrides, spaces and the default data."""

from __future__ import annotations

import pytest

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
