"""Batched rollouts: per-episode sums equal a step-by-step loop over `env.step_env`'s transition,
and blocked/sharded rollouts are the same computation arranged differently."""

import jax
import jax.numpy as jnp
import numpy as np

import envs
from envs.model_based.draws import draw
from envs.model_based.rollout import rollout_batch, rollout_blocks, rollout_sharded

STEPS = 6


def _env():
    return envs.make("cartea_jaimungal_mm", max_steps_in_episode=STEPS, terminal_time=STEPS / 300)


def policy(key, obs):
    # Depth skewed by inventory, so the policy really reads the observation.
    return jnp.array([0.01, 0.01]) + 0.005 * obs[1] * jnp.array([1.0, -1.0])


def test_rollout_batch_equals_an_explicit_loop():
    env, params = _env()
    n = 3
    key = jax.random.key(3)
    returns, sums, final = rollout_batch(env, params, policy, key, n)
    # Re-derive the same random numbers and step with a plain Python loop.
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    transition = jax.jit(env.transition)
    total = np.zeros(n)
    fills = np.zeros((n, 2))
    for t in range(STEPS):
        policy_key, draw_key, _ = jax.random.split(jax.random.fold_in(run_key, t), 3)
        action = jax.vmap(policy)(jax.random.split(policy_key, n), obs)
        u, z = draw(draw_key, *env.num_random, (n,))
        for i in range(n):
            s_i = jax.tree.map(lambda x, i=i: x[i], state)
            o, s_new, r, _, info = transition(s_i, action[i], params, u[:, i], z[:, i], None)
            total[i] += float(r)
            fills[i] += np.asarray(info["fills"])
            state = jax.tree.map(lambda full, x, i=i: full.at[i].set(x), state, s_new)
            obs = obs.at[i].set(o)
    np.testing.assert_allclose(np.asarray(returns), total, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(sums["fills"]), fills)
    np.testing.assert_allclose(np.asarray(final.inventory), np.asarray(state.inventory))


def test_blocks_and_shards_are_the_same_computation():
    env, params = _env()
    key = jax.random.key(0)
    blocked = rollout_blocks(env, params, policy, key, 12, 4)[0]
    keys = jax.random.split(key, 3)
    batch = jax.jit(lambda k: rollout_batch(env, params, policy, k, 4)[0])
    by_hand = jnp.concatenate([batch(k) for k in keys])
    np.testing.assert_allclose(np.asarray(blocked), np.asarray(by_hand), rtol=1e-6)
    sharded = rollout_sharded(env, params, policy, key, 12, 4)[0]
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(by_hand), rtol=1e-6)
