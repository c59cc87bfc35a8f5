"""Collecting a rollout of `num_steps` steps in `num_envs` parallel environments (one `lax.scan`).

This is the trainer's own loop (sampling, log-probabilities, gymnax's auto-reset); evaluation runs
`agents.rollout`. Each stored `Transition` holds what the network saw (normalised features and the
reset flag), the raw action and its log-probability, and the terminated/truncated flags apart.
Where a time limit cut an episode that had not terminated, `bootstrap_value` is the critic's value
of the pre-reset observation (`info["final_observation"]`, read with the GRU state that saw the
episode); it is computed only in steps where that happens (markets, whose horizon is termination,
never pay for it outside a vmapped sweep).

Split across devices (`purejaxrl_train.collectives.EnvShard`), each device steps its slice of the
environments; every key is drawn for the global environment index (one per environment and step,
for the action and for the environment) and sliced, and the observation statistics merge every
device's batch, so a seed gives the same rollout on any number of devices.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from agents.learned.actor import ActorCritic
from agents.learned.distributions import make_distribution
from agents.learned.normalization import RunningMeanStd
from purejaxrl_train.collectives import SINGLE, EnvShard, merge_running


@flax.struct.dataclass
class Transition:
    """One step of every environment (leaves (N, ...); (T, N, ...) once stacked)."""

    features: jax.Array
    reset: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    bootstrap_value: jax.Array


@flax.struct.dataclass
class EnvRunner:
    """The environments and the acting state carried from one step (and update) to the next."""

    env_state: object
    obs: jax.Array
    reset: jax.Array
    carry: jax.Array
    obs_rms: RunningMeanStd
    episode_return: jax.Array
    episode_length: jax.Array


@flax.struct.dataclass
class EpisodeStats:
    """Sums over the episodes that ended inside one rollout (count may be 0)."""

    count: jax.Array
    return_sum: jax.Array
    length_sum: jax.Array


def reset_runner(
    policy: ActorCritic, env, env_params, key: jax.Array, num_envs: int, shard: EnvShard = SINGLE
) -> EnvRunner:
    """Fresh environments (this device's share of `num_envs`), zero GRU state, observation
    statistics from nothing."""
    keys = shard.local(jax.random.split(key, num_envs))
    num_envs = keys.shape[0]
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)
    return EnvRunner(
        env_state=env_state,
        obs=obs,
        reset=jnp.ones((num_envs,), bool),
        carry=policy.initial_carry(num_envs),
        obs_rms=RunningMeanStd.create((policy.obs_dim,)),
        episode_return=jnp.zeros((num_envs,), jnp.float32),
        episode_length=jnp.zeros((num_envs,), jnp.int32),
    )


def collect_rollout(
    policy: ActorCritic,
    env,
    env_params,
    params,
    runner: EnvRunner,
    key: jax.Array,
    num_steps: int,
    shard: EnvShard = SINGLE,
) -> tuple[EnvRunner, Transition, EpisodeStats]:
    """Run `num_steps` steps; observation statistics are updated as observations arrive. The
    episode statistics are sums over every device's environments."""
    normalize_obs = policy.spec.normalize_obs
    num_envs = runner.reset.shape[0]
    total_envs = num_envs * shard.num_devices

    def sample(head, log_std, key):  # one environment's action from its own key
        return make_distribution(policy.action_spec, head, log_std).sample_and_log_prob(seed=key)

    def one_step(runner: EnvRunner, step_key):
        act_key, env_key = jax.random.split(step_key)
        raw_features = policy.features(runner.obs)
        obs_rms = runner.obs_rms
        if normalize_obs:
            obs_rms = merge_running(obs_rms, raw_features, shard)
        features = policy.normalized(obs_rms, raw_features)
        carry, head, log_std, value = policy.network.apply(
            params, runner.carry, features[None], runner.reset[None]
        )
        value = value[0]
        action, log_prob = jax.vmap(sample, in_axes=(0, None, 0))(
            head[0], log_std, shard.local(jax.random.split(act_key, total_envs))
        )
        obs, env_state, reward, terminated, truncated, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(
            shard.local(jax.random.split(env_key, total_envs)),
            runner.env_state,
            policy.env_action(action),
            env_params,
        )
        reward = reward.astype(jnp.float32)
        terminated = terminated.astype(bool)
        truncated = truncated.astype(bool)
        cut = truncated & ~terminated

        def final_value():
            final = policy.normalized(obs_rms, policy.features(info["final_observation"]))
            return policy.value(params, carry, final, jnp.zeros((num_envs,), bool))

        bootstrap = jax.lax.cond(jnp.any(cut), final_value, lambda: jnp.zeros_like(value))
        done = jnp.logical_or(terminated, truncated)
        episode_return = runner.episode_return + reward
        episode_length = runner.episode_length + 1
        ended = (
            done,
            jnp.where(done, episode_return, 0.0),
            jnp.where(done, episode_length, 0),
        )
        transition = Transition(
            features=features,
            reset=runner.reset,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            bootstrap_value=bootstrap,
        )
        runner = EnvRunner(
            env_state=env_state,
            obs=obs,
            reset=done,
            carry=carry,
            obs_rms=obs_rms,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
        )
        return runner, (transition, ended)

    runner, (transitions, ended) = jax.lax.scan(one_step, runner, jax.random.split(key, num_steps))
    done, returns, lengths = ended
    stats = EpisodeStats(
        count=shard.sum(done.sum().astype(jnp.int32)),
        return_sum=shard.sum(returns.sum()),
        length_sum=shard.sum(lengths.sum().astype(jnp.float32)),
    )
    return runner, transitions, stats
