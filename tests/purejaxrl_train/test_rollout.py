"""Rollouts on a stand-in environment whose trajectory is known: flags, resets, bootstrap values."""

import functools
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.learned.actor import ActorCritic
from purejaxrl_train.config import TrainConfig
from purejaxrl_train.rollout import collect_rollout, reset_runner

_spec = importlib.util.spec_from_file_location(
    "stand_ins", pathlib.Path(__file__).with_name("stand_ins.py")
)
stand_ins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stand_ins)

NUM_ENVS, NUM_STEPS = 2, 7


@functools.cache  # one rollout per variant, shared by the tests
def _rollout(recurrent: bool, terminate_at: int = 1000):
    env = stand_ins.CounterEnv()
    params = stand_ins.CounterParams(max_steps_in_episode=3, terminate_at=terminate_at)
    config = TrainConfig(
        env_name="counter",
        num_envs=NUM_ENVS,
        num_steps=NUM_STEPS,
        num_minibatches=1,
        total_timesteps=NUM_ENVS * NUM_STEPS,
        hidden_sizes=(8,),
        gru_size=4,
        recurrent=recurrent,
        normalize_obs=False,
    )
    actor = ActorCritic.for_env(config.network, env, params)
    net_params = actor.init(jax.random.key(1))
    runner = reset_runner(actor, env, params, jax.random.key(2), NUM_ENVS)
    _, tr, stats = collect_rollout(
        actor, env, params, net_params, runner, jax.random.key(3), NUM_STEPS
    )
    return actor, net_params, tr, stats


@pytest.mark.parametrize("recurrent", [False, True])
def test_flags_resets_and_episode_stats(recurrent):
    _, _, tr, stats = _rollout(recurrent)
    t = np.arange(NUM_STEPS)
    np.testing.assert_array_equal(tr.features[:, 0, 0], t % 3)
    np.testing.assert_array_equal(tr.reset[:, 0], t % 3 == 0)
    np.testing.assert_array_equal(tr.truncated[:, 0], t % 3 == 2)
    assert not tr.terminated.any()
    # two whole episodes of three unit rewards per environment
    assert int(stats.count) == 2 * NUM_ENVS and float(stats.return_sum) == 6.0 * NUM_ENVS


def test_termination_is_not_truncation():
    _, _, tr, _ = _rollout(False, terminate_at=2)
    t = np.arange(NUM_STEPS)
    np.testing.assert_array_equal(tr.terminated[:, 0], t % 2 == 1)
    assert not tr.truncated.any()


def test_feed_forward_bootstrap_is_the_value_of_the_final_observation():
    actor, net_params, tr, _ = _rollout(False)
    final = jnp.array([[3.0, 1.0]])
    want = actor.value(net_params, actor.initial_carry(1), final, jnp.zeros((1,), bool))[0]
    np.testing.assert_allclose(tr.bootstrap_value[2], want, rtol=1e-6)
    np.testing.assert_allclose(tr.bootstrap_value[5], want, rtol=1e-6)


def test_recurrent_state_resets_at_episode_start_and_bootstraps_with_the_episode_state():
    actor, net_params, tr, _ = _rollout(True)
    # same first observation after a reset -> same value as at the very start
    np.testing.assert_allclose(tr.value[3], tr.value[0], rtol=1e-6)
    np.testing.assert_allclose(tr.value[6], tr.value[0], rtol=1e-6)
    # the values inside the episode differ from a fresh start (the GRU state matters)
    obs = jnp.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])[:, None]
    no_reset = jnp.zeros((4, 1), bool).at[0].set(True)
    _, seq_values = actor.sequence(net_params, actor.initial_carry(1), obs, no_reset)
    np.testing.assert_allclose(tr.value[:3, 0], seq_values[:3, 0], rtol=1e-5)
    # bootstrap after step 2 reads the final observation (t=3) with the episode's GRU state
    np.testing.assert_allclose(tr.bootstrap_value[2, 0], seq_values[3, 0], rtol=1e-5)
    fresh = actor.value(net_params, actor.initial_carry(1), obs[3], jnp.ones((1,), bool))
    assert not np.isclose(tr.bootstrap_value[2, 0], fresh[0])
