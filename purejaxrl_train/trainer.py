"""`make_train(config) -> train(key, hparams)`: rollout, GAE and PPO update in one jitted program.

One trainer serves feed-forward and recurrent PPO; the only difference is how minibatches are cut
(samples vs whole environment sequences) and the carry the network threads through time. The
returned `train` is pure: jit it, vmap it over keys, hyperparameters, or both.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents.learned.actor import ActorCritic
from envs.catalog import make_any
from purejaxrl_train.config import HyperParams, TrainConfig
from purejaxrl_train.gae import compute_gae, next_values
from purejaxrl_train.minibatch import flat_minibatches, sequence_minibatches
from purejaxrl_train.normalization import RewardScaler, scale_rewards, update_reward_scaler
from purejaxrl_train.ppo_loss import LossInfo, ppo_loss
from purejaxrl_train.rollout import (
    EnvRunner,
    EpisodeStats,
    Transition,
    collect_rollout,
    reset_runner,
)

# Host callback signature: progress(update_index, episode_return_mean, episodes, member).
ProgressFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], None]


@flax.struct.dataclass
class LearnerState:
    """Network parameters and optimiser state."""

    params: object
    opt_state: object


@flax.struct.dataclass
class RunnerState:
    """Everything carried from one update to the next."""

    learner: LearnerState
    env: EnvRunner
    reward_scaler: RewardScaler
    since_log: EpisodeStats  # episodes ended since the last progress line
    key: jax.Array


@flax.struct.dataclass
class Batch:
    """A rollout with its advantages and value targets (leaves (T, N, ...))."""

    transitions: Transition
    advantages: jax.Array
    targets: jax.Array


def make_optimizer(config: TrainConfig, hp: HyperParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; the learning rate decays linearly to 0 if annealed."""
    steps_per_update = config.update_epochs * config.num_minibatches

    def learning_rate(count):
        if not config.anneal_lr:
            return hp.learning_rate
        done = (count // steps_per_update).astype(jnp.float32)
        return hp.learning_rate * (1.0 - done / config.num_updates)

    return optax.chain(
        optax.clip_by_global_norm(hp.max_grad_norm),
        optax.adam(learning_rate, eps=1e-5),
    )


def build(config: TrainConfig, env=None, env_params=None):
    """(env, env_params, policy) for a config (the env is made from its name if not given)."""
    if env is None:
        env, env_params = make_any(config.env_name, config.env_overrides)
    return env, env_params, ActorCritic.for_env(config.network, env, env_params)


def make_train(
    config: TrainConfig,
    env=None,
    env_params=None,
    progress: ProgressFn | None = None,
) -> Callable:
    """The training function `train(key, hparams=None, member=0, env_params=None)`.

    Returns `(RunnerState, metrics)`. hparams: traced `HyperParams` (default: `config.hparams`).
    env_params: traced environment parameters (default: the config's), so that a sweep can vmap
    over markets as well as hyperparameters. member: an index passed to the
    progress callback, so a host printer can tell vmapped runs apart. metrics: dict of arrays with
    one entry per update.
    """
    env, env_params, policy = build(config, env, env_params)
    num_updates = config.num_updates
    log_every = config.log_interval if progress is not None else 0

    def ppo_minibatch(hp: HyperParams, tx, learner: LearnerState, minibatch):
        batch, carry = minibatch
        if not config.recurrent:  # samples become sequences of length 1
            batch = jax.tree.map(lambda x: x[None], batch)
        tr = batch.transitions

        def loss_fn(params):
            dist, value = policy.sequence(params, carry, tr.features, tr.reset)
            return ppo_loss(
                dist.log_prob(tr.action),
                tr.log_prob,
                batch.advantages,
                value,
                tr.value,
                batch.targets,
                dist.entropy(),
                hp.clip_eps,
                hp.vf_coef,
                hp.ent_coef,
                normalize_advantages=config.normalize_advantages,
                clip_value=config.clip_value,
            )

        grads, info = jax.grad(loss_fn, has_aux=True)(learner.params)
        updates, opt_state = tx.update(grads, learner.opt_state, learner.params)
        params = optax.apply_updates(learner.params, updates)
        return LearnerState(params=params, opt_state=opt_state), info

    def ppo_epoch(hp, tx, batch: Batch, initial_carry, learner: LearnerState, key):
        if config.recurrent:
            minibatches = sequence_minibatches(key, batch, initial_carry, config.num_minibatches)
        else:
            samples = flat_minibatches(key, batch, config.num_minibatches)
            carries = jnp.zeros((config.num_minibatches, config.minibatch_size, 0), jnp.float32)
            minibatches = (samples, carries)
        return jax.lax.scan(
            lambda state, mb: ppo_minibatch(hp, tx, state, mb), learner, minibatches
        )

    def update(hp: HyperParams, tx, member, env_params, state: RunnerState, update_index):
        key, rollout_key, epoch_key = jax.random.split(state.key, 3)
        params = state.learner.params
        env_runner, transitions, episodes = collect_rollout(
            policy, env, env_params, params, state.env, rollout_key, config.num_steps
        )
        last_features = policy.normalized(env_runner.obs_rms, policy.features(env_runner.obs))
        last_value = policy.value(params, env_runner.carry, last_features, env_runner.reset)

        rewards = transitions.reward
        terminated, truncated = transitions.terminated, transitions.truncated
        scaler = state.reward_scaler
        if config.scale_rewards:
            scaler = update_reward_scaler(
                scaler, rewards, jnp.logical_or(terminated, truncated), hp.gamma
            )
            rewards = scale_rewards(scaler, rewards)
        values_next = next_values(
            transitions.value, last_value, transitions.bootstrap_value, truncated
        )
        advantages, targets = compute_gae(
            rewards, transitions.value, values_next, terminated, truncated, hp.gamma, hp.gae_lambda
        )
        batch = Batch(transitions=transitions, advantages=advantages, targets=targets)
        learner, infos = jax.lax.scan(
            lambda learner, k: ppo_epoch(hp, tx, batch, state.env.carry, learner, k),
            state.learner,
            jax.random.split(epoch_key, config.update_epochs),
        )

        count = episodes.count
        safe = jnp.maximum(count, 1).astype(jnp.float32)
        losses: LossInfo = jax.tree.map(jnp.mean, infos)
        metrics = {
            "episodes": count,
            "episode_return": jnp.where(count > 0, episodes.return_sum / safe, jnp.nan),
            "episode_length": jnp.where(count > 0, episodes.length_sum / safe, jnp.nan),
            "policy_loss": losses.policy_loss,
            "value_loss": losses.value_loss,
            "entropy": losses.entropy,
            "approx_kl": losses.approx_kl,
            "clip_fraction": losses.clip_fraction,
        }
        since_log = jax.tree.map(jnp.add, state.since_log, episodes)
        if log_every:
            due = ((update_index + 1) % log_every == 0) | (update_index == num_updates - 1)
            logged = jnp.maximum(since_log.count, 1).astype(jnp.float32)
            jax.lax.cond(
                due,
                lambda: jax.debug.callback(
                    progress,
                    update_index,
                    jnp.where(since_log.count > 0, since_log.return_sum / logged, jnp.nan),
                    since_log.count,
                    member,
                ),
                lambda: None,
            )
            since_log = jax.tree.map(lambda x: jnp.where(due, jnp.zeros_like(x), x), since_log)
        new_state = RunnerState(
            learner=learner,
            env=env_runner,
            reward_scaler=scaler,
            since_log=since_log,
            key=key,
        )
        return new_state, metrics

    default_env_params = env_params

    def train(key: jax.Array, hparams: HyperParams | None = None, member=0, env_params=None):
        hp = (config.hparams if hparams is None else hparams).as_arrays()
        env_params = default_env_params if env_params is None else env_params
        key, init_key, env_key = jax.random.split(key, 3)
        params = policy.init(init_key)
        tx = make_optimizer(config, hp)
        state = RunnerState(
            learner=LearnerState(params=params, opt_state=tx.init(params)),
            env=reset_runner(policy, env, env_params, env_key, config.num_envs),
            reward_scaler=RewardScaler.create(config.num_envs),
            since_log=EpisodeStats(
                count=jnp.zeros((), jnp.int32),
                return_sum=jnp.zeros((), jnp.float32),
                length_sum=jnp.zeros((), jnp.float32),
            ),
            key=key,
        )
        return jax.lax.scan(
            lambda s, u: update(hp, tx, member, env_params, s, u), state, jnp.arange(num_updates)
        )

    return train
