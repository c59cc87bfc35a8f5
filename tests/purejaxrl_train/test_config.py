"""Config validation (one clear error per bad field), derived sizes, JSON round trip."""

import json

import pytest

from purejaxrl_train.config import HyperParams, TrainConfig, config_from_dict, config_to_dict


def test_derived_sizes():
    c = TrainConfig(total_timesteps=10_000, num_envs=8, num_steps=16, num_minibatches=4)
    assert c.batch_size == 128 and c.num_updates == 78 and c.minibatch_size == 32
    r = c.replace(recurrent=True)
    assert r.minibatch_size == 2  # environments per minibatch


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"num_envs": 0}, "num_envs"),
        ({"num_steps": 2.5}, "num_steps"),
        ({"update_epochs": True}, "update_epochs"),
        ({"activation": "sigmoid"}, "activation"),
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"total_timesteps": 10}, "total_timesteps"),
        ({"num_envs": 6, "num_steps": 7, "num_minibatches": 4}, "num_minibatches"),
        ({"recurrent": True, "num_envs": 6, "num_minibatches": 4}, "num_minibatches"),
        ({"hparams": HyperParams(gamma=1.5)}, "gamma"),
        ({"hparams": HyperParams(learning_rate=0.0)}, "learning_rate"),
        ({"hparams": HyperParams(clip_eps=float("nan"))}, "clip_eps"),
    ],
)
def test_bad_values_name_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**changes)


def test_recurrent_minibatches_need_divisible_envs_only():
    # 6 envs x 7 steps = 42 samples is not divisible by 3 * 5, but 6 envs split in 3 groups is fine
    TrainConfig(recurrent=True, num_envs=6, num_steps=7, num_minibatches=3, total_timesteps=100)


def test_json_round_trip():
    c = TrainConfig(
        env_name="Pendulum-v1",
        env_overrides=(("arrivals.rate", (30.0, 40.0)), ("max_steps_in_episode", 50)),
        hidden_sizes=(32, 16),
        obs_features=("inventory", "time"),
        recurrent=True,
        hparams=HyperParams(learning_rate=1e-3, ent_coef=0.01),
    )
    data = json.loads(json.dumps(config_to_dict(c)))
    assert data["derived"]["num_updates"] == c.num_updates
    assert config_from_dict(data) == c
    hash(config_from_dict(data))  # static argument of compiled policies


def test_unknown_keys_are_named():
    data = config_to_dict(TrainConfig())
    data["num_env"] = 3
    with pytest.raises(ValueError, match="run/config.json: unknown TrainConfig field 'num_env'"):
        config_from_dict(data, where="run/config.json")
    data = config_to_dict(TrainConfig())
    data["hparams"]["lr"] = 1.0
    with pytest.raises(ValueError, match="lr"):
        config_from_dict(data)
