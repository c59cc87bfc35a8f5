"""The one trainer on the other action kinds: recurrent PPO with multi-binary (at-the-touch) actions,
feed-forward PPO with a discrete gymnax environment. Tiny runs: they must compile, count episodes
and move the parameters; learning itself is checked in test_end_to_end."""

import jax
import numpy as np
import pytest

from agents.learned.distributions import DISCRETE, MULTI_BINARY
from purejaxrl_train.presets import default_config
from purejaxrl_train.trainer import build, make_train

CASES = {
    "recurrent-touch": default_config(
        "cartea_jaimungal_touch",
        env_overrides=(("max_steps_in_episode", 5), ("terminal_time", 0.05)),
        recurrent=True,
        gru_size=8,
        hidden_sizes=(8,),
        num_envs=4,
        num_steps=10,
        num_minibatches=2,
        update_epochs=2,
        total_timesteps=80,
        log_interval=0,
    ),
    "feedforward-cartpole": default_config(
        "CartPole-v1",
        env_overrides=(("max_steps_in_episode", 8),),
        hidden_sizes=(8,),
        num_envs=4,
        num_steps=16,
        num_minibatches=2,
        update_epochs=2,
        total_timesteps=128,
        log_interval=0,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tiny_run(name):
    config = CASES[name]
    env, env_params, actor = build(config)
    assert actor.action_spec.kind == (MULTI_BINARY if config.recurrent else DISCRETE)
    state, metrics = jax.jit(make_train(config))(jax.random.key(0))
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        assert np.isfinite(np.asarray(metrics[key])).all(), key
    assert int(np.sum(metrics["episodes"])) >= config.num_envs  # every env ended an episode
    initial = actor.init(jax.random.split(jax.random.key(0), 3)[1])
    moved = [
        not np.allclose(a, b)
        for a, b in zip(
            jax.tree.leaves(initial), jax.tree.leaves(state.learner.params), strict=True
        )
    ]
    assert any(moved)
    if config.recurrent:
        assert state.env.carry.shape == (config.num_envs, config.gru_size)
