"""The one rollout: per-episode sums equal a step-by-step loop, episodes end at termination (masked
afterwards), a policy's state is carried through the episode, and blocked/sharded rollouts are the
same computation arranged differently."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import envs
from agents.rollout import rollout, rollout_blocks, rollout_sharded
from envs.metrics import METRICS

STEPS = 6


def _env():
    return envs.make("cartea_jaimungal_mm", max_steps_in_episode=STEPS, terminal_time=STEPS / 300)


def policy(key, obs):
    # Depth skewed by inventory, so the policy really reads the observation.
    return jnp.array([0.01, 0.01]) + 0.005 * obs[1] * jnp.array([1.0, -1.0])


def test_rollout_equals_an_explicit_loop():
    env, params = _env()
    n = 3
    key = jax.random.key(3)
    episodes = rollout(env, params, policy, key, n)
    # Re-derive the same keys and step the batch with a plain Python loop.
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    step = jax.jit(env.batch_step_env)
    total, fills = np.zeros(n), np.zeros((n, 2))
    for t in range(STEPS):
        policy_key, env_key = jax.random.split(jax.random.fold_in(run_key, t))
        action = jax.vmap(policy)(jax.random.split(policy_key, n), obs)
        obs, state, reward, terminated, info = step(env_key, state, action, params)
        total += np.asarray(reward)
        fills += np.asarray(info[METRICS].fills)
        assert bool(np.all(terminated)) == (t == STEPS - 1)  # the horizon is termination
    np.testing.assert_allclose(np.asarray(episodes.returns), total, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(episodes.metrics.fills), fills)
    np.testing.assert_allclose(np.asarray(episodes.final.inventory), np.asarray(state.inventory))
    assert np.all(np.asarray(episodes.lengths) == STEPS) and np.all(episodes.terminated)


def test_episodes_end_at_termination_and_count_once():
    """CartPole pushed one way falls within a few steps: the return is the number of steps up to
    and including the terminating one, whatever happens in the steps run after it."""
    env, params = gymnax.make("CartPole-v1")
    n, steps = 4, 60
    key = jax.random.key(0)
    push = lambda k, o: jnp.asarray(0, jnp.int32)  # noqa: E731
    episodes = rollout(env, params, push, key, n, num_steps=steps)
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, 0, None)))
    ended = np.full(n, -1)
    for t in range(steps):
        _, env_key = jax.random.split(jax.random.fold_in(run_key, t))
        _, state, _, terminated, _ = step(
            jax.random.split(env_key, n), state, jnp.zeros((n,), jnp.int32), params
        )
        first = (ended < 0) & np.asarray(terminated)
        ended[first] = t + 1
    assert np.all(ended > 0) and np.all(ended < steps)
    np.testing.assert_array_equal(np.asarray(episodes.returns), ended)
    np.testing.assert_array_equal(np.asarray(episodes.lengths), ended)
    assert np.all(episodes.terminated) and episodes.metrics is None


@struct.dataclass
class SellFirstSteps:
    """Sells at `speed` during its first `steps` steps, counted in its own state."""

    speed: jax.Array
    steps: int = struct.field(pytree_node=False)

    def initial_state(self):
        return jnp.zeros((), jnp.int32)

    def step(self, state, key, obs):
        action = jnp.where(state < self.steps, self.speed, 0.0).reshape((1,))
        return action, state + 1


def test_the_policy_state_is_carried_through_each_episode():
    env, params = envs.make("cj_execution_speed")
    steps = int(params.max_steps_in_episode)
    dt = float(params.terminal_time) / steps
    policy = SellFirstSteps(speed=jnp.asarray(2.0), steps=10)
    episodes = jax.jit(lambda k: rollout(env, params, policy, k, 5))(jax.random.key(1))
    expected = float(params.initial_inventory) - 10 * 2.0 * dt
    np.testing.assert_allclose(np.asarray(episodes.final.inventory), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(episodes.metrics.market_orders[:, 1]), 20 * dt, rtol=1e-5)


def test_blocks_and_shards_are_the_same_computation():
    env, params = _env()
    key = jax.random.key(0)
    blocked = rollout_blocks(env, params, policy, key, 12, 4).returns
    keys = jax.random.split(key, 3)
    batch = jax.jit(lambda k: rollout(env, params, policy, k, 4).returns)
    by_hand = jnp.concatenate([batch(k) for k in keys])
    np.testing.assert_allclose(np.asarray(blocked), np.asarray(by_hand), rtol=1e-6)
    sharded = rollout_sharded(env, params, policy, key, 12, 4).returns
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(by_hand), rtol=1e-6)


def test_a_non_policy_is_refused():
    env, params = _env()
    with pytest.raises(TypeError, match="not a policy"):
        rollout(env, params, 3.0, jax.random.key(0), 2)


def test_an_action_of_the_wrong_shape_is_refused():
    env, params = _env()  # two depths per step
    with pytest.raises(AssertionError, match="shape"):
        rollout(env, params, lambda k, o: jnp.zeros((4,)), jax.random.key(0), 2)
