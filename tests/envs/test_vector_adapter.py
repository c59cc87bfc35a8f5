"""Gymnasium adapters: Gymnasium's own environment checker on the single-env wrapper, and the
vector adapter's spaces, same-step auto-reset and seeding, on CartPole-v1 and a market.

Oracles: `gymnasium.utils.env_checker.check_env`; CartPole's termination rule (|x| > 2.4 or
|theta| > 12 degrees, Barto et al. 1983 as gymnax and Gymnasium define it) and its reset range
(every state variable uniform in [-0.05, 0.05]); a market observation's time, which is 0 at the
start of an episode and the terminal time at its end."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.vector_adapter import GymnaxEnv, GymnaxVectorEnv

MARKET = ("cartea_jaimungal_mm", {"max_steps_in_episode": 5, "terminal_time": 0.05})


@pytest.mark.parametrize(
    "name, overrides", [("CartPole-v1", {}), MARKET, ("cartea_jaimungal_touch", MARKET[1])]
)
def test_single_env_passes_gymnasiums_checker(name, overrides):
    env = GymnaxEnv(name, overrides)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs in env.observation_space


@pytest.fixture(scope="module")
def cartpole():
    return GymnaxVectorEnv("CartPole-v1", num_envs=16)


def test_vector_spaces_and_batched_outputs(cartpole):
    assert isinstance(cartpole, gymnasium.vector.VectorEnv)
    assert cartpole.single_action_space == gymnasium.spaces.Discrete(2)
    assert cartpole.observation_space.shape == (16, 4)
    obs, info = cartpole.reset(seed=0)
    assert obs.dtype == np.float32 and obs in cartpole.observation_space and info == {}
    cartpole.action_space.seed(0)
    obs, reward, terminated, truncated, infos = cartpole.step(cartpole.action_space.sample())
    assert obs in cartpole.observation_space
    assert reward.shape == terminated.shape == truncated.shape == (16,)
    assert terminated.dtype == bool and infos["final_obs"].shape == (16, 4)


def test_cartpole_same_step_autoreset_follows_the_termination_rule(cartpole):
    cartpole.action_space.seed(1)
    obs, _ = cartpole.reset(seed=1)
    ended = 0
    for _ in range(60):
        obs, _, terminated, truncated, infos = cartpole.step(cartpole.action_space.sample())
        final = infos["final_obs"]
        fallen = (np.abs(final[:, 0]) > 2.4) | (np.abs(final[:, 2]) > 12 * 2 * np.pi / 360)
        np.testing.assert_array_equal(terminated, fallen)
        np.testing.assert_array_equal(infos["_final_obs"], terminated | truncated)
        assert np.all(np.abs(obs[terminated]) <= 0.05)  # the next episode's first observation
        ended += terminated.sum()
    assert ended > 16  # random actions drop the pole within a few dozen steps


def test_vector_seed_fixes_the_trajectory(cartpole):
    def trajectory(seed):
        cartpole.action_space.seed(5)
        obs, _ = cartpole.reset(seed=seed)
        steps = [cartpole.step(cartpole.action_space.sample())[0] for _ in range(20)]
        return np.stack([obs, *steps])

    np.testing.assert_array_equal(trajectory(7), trajectory(7))
    assert not np.array_equal(trajectory(7), trajectory(8))


def test_market_vector_env_resets_at_the_horizon():
    vec = GymnaxVectorEnv(MARKET[0], num_envs=4, overrides=MARKET[1])
    time_index = vec.env.obs_index["time"]
    obs, _ = vec.reset(seed=0)
    assert np.all(obs[:, time_index] == 0.0)
    vec.action_space.seed(0)
    for step in range(1, 11):
        obs, reward, terminated, truncated, infos = vec.step(vec.action_space.sample())
        assert obs in vec.observation_space and np.isfinite(reward).all()
        end = step % 5 == 0
        assert np.all(terminated == end) and not truncated.any()
        if end:
            np.testing.assert_allclose(infos["final_obs"][:, time_index], 0.05, rtol=1e-5)
            assert np.all(obs[:, time_index] == 0.0)
        assert infos["metrics.pnl"].shape == (4,)
