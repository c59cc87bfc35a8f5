"""The one episode rollout: a batch of whole episodes of any policy on any environment, one `scan`.

Every evaluation (`agents.evaluate_policy`, the per-window replay report, the trainer's final
evaluation) and every rollout benchmark runs this loop. It steps `step_env` directly, with no
auto-reset (gymnax's `step` computes a reset every step only to discard it), for a fixed number of
steps (the environment's `max_steps_in_episode` by default), and counts each episode once: rewards
and metrics after an episode terminated are masked out, so markets with a fixed horizon and
gymnax's own environments (which may terminate early) are treated alike.

Policies implement `agents.policy.Policy` (``initial_state()``, ``step(state, key, obs)``); their
state, a GRU's for instance, is carried through the episode. A market that implements
`envs.interfaces.BatchStepper` (the model-based ones) steps the whole batch from one key, drawing
all of a step's random numbers in one call; any other environment gets a vmapped `step_env` with
one key per episode. Results for a key therefore depend on the batch size.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import struct

from agents.policy import as_policy
from envs.interfaces import BatchStepper
from envs.metrics import METRICS, StepMetrics


@struct.dataclass
class Episodes:
    """A batch of finished episodes (leading axis: episode)."""

    returns: jax.Array  # (n,) sum of rewards until the episode ended
    lengths: jax.Array  # (n,) int32 steps until it terminated (or the step limit)
    terminated: jax.Array  # (n,) bool: it terminated within the steps run
    metrics: StepMetrics | None  # per-episode sums of the step metrics (None: env reports none)
    final: StepMetrics | None  # the metrics of each episode's last step (terminal inventory)
    state: Any  # the environment states after the last step run


def _env_step(env, params, n: int):
    """`(key, states, actions) -> step_env outputs` for a batch of `n` environments."""
    if isinstance(env, BatchStepper):
        return lambda key, state, action: env.batch_step_env(key, state, action, params)
    step = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))
    return lambda key, state, action: step(jax.random.split(key, n), state, action, params)


def _float_dtype():
    return jnp.asarray(0.0).dtype  # float64 when x64 is enabled, else float32


def rollout(env, params, policy, key: jax.Array, num_episodes: int, num_steps: int | None = None):
    """Run `num_episodes` episodes of `num_steps` steps (default: `params.max_steps_in_episode`).

    `policy` is an `agents.policy.Policy` or a plain ``f(key, obs)`` for one environment; it is
    vmapped over the batch. Returns `Episodes`.
    """
    policy = as_policy(policy)
    n = int(num_episodes)
    num_steps = int(params.max_steps_in_episode) if num_steps is None else int(num_steps)
    real = _float_dtype()
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, n), params)
    policy_state = jax.vmap(lambda _: policy.initial_state())(jnp.arange(n))
    env_step = _env_step(env, params, n)
    act = jax.vmap(policy.step)
    action_shape = (n, *env.action_space(params).shape)

    def advance(obs, state, policy_state, t):
        policy_key, env_key = jax.random.split(jax.random.fold_in(run_key, t))
        action, policy_state = act(policy_state, jax.random.split(policy_key, n), obs)
        # A policy built for another market would otherwise be broadcast or cut silently.
        chex.assert_shape(action, action_shape)
        obs, state, reward, terminated, info = env_step(env_key, state, action)
        return obs, state, policy_state, reward, terminated, info.get(METRICS)

    probe = jax.eval_shape(lambda: advance(obs, state, policy_state, 0)[5])
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, real), probe)

    def step(carry, t):
        obs, state, policy_state, alive, total, length, sums, final = carry
        obs, state, policy_state, reward, terminated, metrics = advance(obs, state, policy_state, t)
        live = alive.astype(real)
        total = total + live * jnp.asarray(reward, real)
        length = length + alive.astype(jnp.int32)
        if metrics is not None:

            def masked(x):
                return live.reshape((n,) + (1,) * (x.ndim - 1)) * jnp.asarray(x, real)

            sums = jax.tree.map(lambda s, x: s + masked(x), sums, metrics)
            final = jax.tree.map(
                lambda f, x: jnp.where(
                    alive.reshape((n,) + (1,) * (x.ndim - 1)), jnp.asarray(x, real), f
                ),
                final,
                metrics,
            )
        alive = alive & ~jnp.asarray(terminated, bool)
        return (obs, state, policy_state, alive, total, length, sums, final), None

    carry = (
        obs,
        state,
        policy_state,
        jnp.ones((n,), bool),
        jnp.zeros((n,), real),
        jnp.zeros((n,), jnp.int32),
        zeros,
        zeros,
    )
    carry, _ = jax.lax.scan(step, carry, jnp.arange(num_steps))
    _, state, _, alive, total, length, sums, final = carry
    return Episodes(
        returns=total, lengths=length, terminated=~alive, metrics=sums, final=final, state=state
    )


def rollout_blocks(
    env, params, policy, key: jax.Array, num_episodes: int, block_size: int, num_steps=None
):
    """`rollout` run as sequential blocks of `block_size` episodes (`lax.map`).

    On a CPU a block whose state fits in cache runs markedly faster per step than one wide batch;
    on a GPU use one wide batch (`block_size = num_episodes`). Same outputs, concatenated.
    """
    if num_episodes % block_size:
        raise ValueError(
            f"num_episodes={num_episodes} is not a multiple of block_size={block_size}"
        )
    keys = jax.random.split(key, num_episodes // block_size)
    out = jax.lax.map(lambda k: rollout(env, params, policy, k, block_size, num_steps), keys)
    return jax.tree.map(lambda x: x.reshape(num_episodes, *x.shape[2:]), out)


def rollout_sharded(
    env,
    params,
    policy,
    key: jax.Array,
    num_episodes: int,
    block_size: int,
    devices=None,
    num_steps=None,
):
    """`rollout_blocks` with the blocks spread over `devices` (default: all), one thread each.

    On a CPU, start the process with `XLA_FLAGS=--xla_force_host_platform_device_count=<cores>` to
    get one device per core (`python -m benchmarks` does). Returns the same outputs as
    `rollout_blocks` with the blocks in device order.
    """
    devices = jax.devices() if devices is None else devices
    num_blocks = num_episodes // block_size
    if len(devices) == 1 or num_blocks % len(devices):
        return rollout_blocks(env, params, policy, key, num_episodes, block_size, num_steps)
    mesh = jax.sharding.Mesh(devices, ("blocks",))
    spec = jax.sharding.PartitionSpec("blocks")

    def local(keys):
        out = jax.lax.map(lambda k: rollout(env, params, policy, k, block_size, num_steps), keys)
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), out)

    sharded = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return sharded(jax.random.split(key, num_blocks))
