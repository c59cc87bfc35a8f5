"""Presets: every registered market gets a config and an agent whose head fits its action space."""

import pytest

import envs
from agents.learned.distributions import CONTINUOUS, MULTI_BINARY
from purejaxrl_train.presets import default_config
from purejaxrl_train.trainer import build


@pytest.mark.parametrize("name", envs.registered())
def test_every_registered_market_builds(name):
    config = default_config(name)
    env, params, actor = build(config)
    assert float(config.hparams.gamma) == 1.0  # finite-horizon criteria are undiscounted
    assert "cash" not in config.obs_features and "midprice" not in config.obs_features
    assert actor.obs_dim == len(config.obs_features) > 0
    space = env.action_space(params)
    expected = MULTI_BINARY if "touch" in getattr(env, "action_type", "") else CONTINUOUS
    assert actor.action_spec.kind == expected
    assert actor.action_spec.shape == tuple(space.shape)


def test_gymnax_environment_keeps_generic_defaults_and_changes_apply():
    config = default_config("Pendulum-v1", num_envs=8, hparams={"gamma": 0.9})
    assert config.obs_features == ()
    assert config.num_envs == 8 and float(config.hparams.gamma) == 0.9
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        default_config("Pendulum-v1", num_env=8)
    with pytest.raises(ValueError, match="no field"):
        default_config("Pendulum-v1", env_overrides=(("not_a_field", 1.0),))
