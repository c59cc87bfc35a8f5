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


def test_cartpole_default_is_purejaxrls_ppo_and_recurrent_runs_get_the_stable_gru():
    """PureJaxRL's ppo.py CartPole-v1 settings (its published config), written out here."""
    c = default_config("CartPole-v1")
    assert (c.total_timesteps, c.num_envs, c.num_steps) == (500_000, 4, 128)
    assert (c.update_epochs, c.num_minibatches, c.hidden_sizes, c.activation) == (
        4,
        4,
        (64, 64),
        "tanh",
    )
    assert not c.normalize_obs and c.anneal_lr and not c.recurrent
    hp = {name: float(getattr(c.hparams, name)) for name in ("learning_rate", "ent_coef")}
    assert hp == {"learning_rate": 2.5e-4, "ent_coef": 0.01}
    assert float(c.hparams.gamma) == 0.99 and float(c.hparams.gae_lambda) == 0.95
    r = default_config("CartPole-v1", recurrent=True)
    assert (r.gru_size, r.activation) == (128, "relu")
    assert default_config("CartPole-v1", recurrent=True, gru_size=16).gru_size == 16
    for name in ("Acrobot-v1", "Pendulum-v1", "MountainCar-v0", "MountainCarContinuous-v0"):
        build(default_config(name))  # every classic-control default builds


def test_gymnax_environment_changes_apply():
    config = default_config("Pendulum-v1", num_envs=8, hparams={"gamma": 0.9})
    assert config.obs_features == ()
    assert config.num_envs == 8 and float(config.hparams.gamma) == 0.9
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        default_config("Pendulum-v1", num_env=8)
    with pytest.raises(ValueError, match="no field"):
        default_config("Pendulum-v1", env_overrides=(("not_a_field", 1.0),))
