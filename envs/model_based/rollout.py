"""Whole-episode rollouts of a fixed-horizon environment, for evaluation and benchmarks.

Every model-based episode lasts exactly `max_steps_in_episode` steps, so a batch of episodes is one
`lax.scan` over steps with no auto-reset (gymnax's `step` computes a reset every step only to
discard it). Each step draws the random numbers of the whole batch in one generator call and vmaps
`env.transition`, rather than splitting a key per trajectory per step: the same distribution with a
third of the hashing. Results for a key therefore depend on the batch size.
Returns per-episode sums of the reward and of every numeric `info` field, and the final state.
Other gymnax environments (the replay markets) run the same loop over a vmapped `step_env`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from envs.model_based.draws import draw, real_dtype

Policy = Callable[[jax.Array, jax.Array], jax.Array]


def _zero_sums(info_shapes):
    return jax.tree.map(lambda s: jnp.zeros(s.shape, real_dtype()), info_shapes)


def _batched_step(env, params, n: int):
    """`(keys of step t) -> (obs, state, reward, terminated, info)` for a batch of `n` episodes.

    Environments with `transition`/`num_random` (the model-based markets) draw the batch's random
    numbers in one call; any other gymnax environment gets a vmapped `step_env` with one key each.
    """
    if hasattr(env, "transition") and hasattr(env, "num_random"):
        exact = getattr(env.config.arrivals, "exact_counts", False)
        num_u, num_n = env.num_random
        transition = jax.vmap(env.transition, in_axes=(0, 0, None, 1, 1, 0))

        def act_and_step(policy, step_key, obs, state):
            policy_key, draw_key, count_key = jax.random.split(step_key, 3)
            action = jax.vmap(policy)(jax.random.split(policy_key, n), obs)
            uniforms, normals = draw(draw_key, num_u, num_n, (n,))
            count_keys = jax.random.split(count_key, n) if exact else jnp.zeros((n,), jnp.uint32)
            return transition(state, action, params, uniforms, normals, count_keys)

    else:
        step_env = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))

        def act_and_step(policy, step_key, obs, state):
            policy_key, env_key = jax.random.split(step_key)
            action = jax.vmap(policy)(jax.random.split(policy_key, n), obs)
            return step_env(jax.random.split(env_key, n), state, action, params)

    return act_and_step


def rollout_batch(env, params, policy: Policy, key: jax.Array, num_episodes: int):
    """Run `num_episodes` episodes of `params.max_steps_in_episode` steps.

    Returns `(returns (n,), info sums {field: (n, ...)}, final states)`.
    `policy(key, obs)` acts on one observation; it is vmapped over the batch.
    """
    num_steps = int(params.max_steps_in_episode)
    n = num_episodes
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    act_and_step = _batched_step(env, params, n)

    def step(carry, t):
        obs, state, total, sums = carry
        obs, state, reward, _, info = act_and_step(
            policy, jax.random.fold_in(run_key, t), obs, state
        )
        sums = jax.tree.map(lambda s, x: s + jnp.asarray(x, real_dtype()), sums, info)
        return (obs, state, total + reward, sums), None

    probe = jax.eval_shape(lambda: act_and_step(policy, run_key, obs, state)[4])
    carry = (obs, state, jnp.zeros((n,), real_dtype()), _zero_sums(probe))
    (obs, state, total, sums), _ = jax.lax.scan(step, carry, jnp.arange(num_steps))
    return total, sums, state


def rollout_blocks(env, params, policy: Policy, key: jax.Array, num_episodes: int, block_size: int):
    """`rollout_batch` run as sequential blocks of `block_size` episodes (`lax.map`).

    On a CPU a block whose state fits in cache runs markedly faster per step than one wide batch;
    on a GPU use one wide batch (`block_size = num_episodes`). Same outputs, concatenated.
    """
    if num_episodes % block_size:
        raise ValueError(
            f"num_episodes={num_episodes} is not a multiple of block_size={block_size}"
        )
    keys = jax.random.split(key, num_episodes // block_size)
    out = jax.lax.map(lambda k: rollout_batch(env, params, policy, k, block_size), keys)
    return jax.tree.map(lambda x: x.reshape(num_episodes, *x.shape[2:]), out)


def rollout_sharded(
    env, params, policy: Policy, key: jax.Array, num_episodes: int, block_size: int, devices=None
):
    """`rollout_blocks` with the blocks spread over `devices` (default: all), one thread each.

    On a CPU, start the process with `XLA_FLAGS=--xla_force_host_platform_device_count=<cores>` to
    get one device per core (`python -m benchmarks` does). Returns the same outputs as
    `rollout_blocks` with the blocks in device order.
    """
    devices = jax.devices() if devices is None else devices
    num_blocks = num_episodes // block_size
    if len(devices) == 1 or num_blocks % len(devices):
        return rollout_blocks(env, params, policy, key, num_episodes, block_size)
    mesh = jax.sharding.Mesh(devices, ("blocks",))
    spec = jax.sharding.PartitionSpec("blocks")

    def local(keys):
        out = jax.lax.map(lambda k: rollout_batch(env, params, policy, k, block_size), keys)
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), out)

    sharded = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return sharded(jax.random.split(key, num_blocks))
