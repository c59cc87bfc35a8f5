"""`make_train(config) -> train(key, hparams)`: rollout, GAE and PPO update in one jitted program.

One trainer serves feed-forward and recurrent PPO; the only difference is how minibatches are cut
(samples vs whole environment sequences) and the carry the network threads through time. The
returned `train` is pure: jit it, vmap it over keys, hyperparameters, or both.

`make_program` exposes the two halves a long run needs: `init(key, ...)` and `updates(state, start,
...)`, a scan over `length` updates that starts at update `start` (a traced number, so one compiled
chunk serves every chunk of a run that checkpoints, `purejaxrl_train.run`). Under `shard_map` with
an `EnvShard` (`purejaxrl_train.parallel`), each device steps its slice of the environments and the
minibatch gradients are averaged over devices; the shuffling is drawn for the whole batch, so the
result for a seed does not depend on the number of devices.

Per-update metrics: episodes, episode_return, episode_length (training episodes that ended), the
loss terms, learning_rate (at the update's first step), grad_norm (global norm of the minibatch
gradient before clipping, mean over minibatches), explained_variance (of the value targets by the
rollout's values), and the live evaluation's columns when `eval_every` > 0
(`purejaxrl_train.live_eval`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents.learned.actor import ActorCritic
from envs.catalog import make_any
from purejaxrl_train import live_eval
from purejaxrl_train.collectives import SINGLE, EnvShard, merge_running
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

# Host callback: progress(update_index, episode_return_mean, episodes, member, eval_return,
# eval_stochastic_return) (the last two NaN where no live evaluation was due).
ProgressFn = Callable[..., None]

TRAINING_METRICS = (
    "episodes",
    "episode_return",
    "episode_length",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "learning_rate",
    "grad_norm",
    "explained_variance",
)


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


def learning_rate_schedule(config: TrainConfig, hp: HyperParams) -> Callable:
    """Learning rate at optimiser step `count`: linear decay to 0 over the run if annealed."""
    steps_per_update = config.update_epochs * config.num_minibatches

    def learning_rate(count):
        if not config.anneal_lr:
            return hp.learning_rate
        done = (count // steps_per_update).astype(jnp.float32)
        return hp.learning_rate * (1.0 - done / config.num_updates)

    return learning_rate


def make_optimizer(config: TrainConfig, hp: HyperParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; the learning rate decays linearly to 0 if annealed."""
    return optax.chain(
        optax.clip_by_global_norm(hp.max_grad_norm),
        optax.adam(learning_rate_schedule(config, hp), eps=1e-5),
    )


def build(config: TrainConfig, env=None, env_params=None):
    """(env, env_params, policy) for a config (the env is made from its name if not given)."""
    if env is None:
        env, env_params = make_any(config.env_name, config.env_overrides)
    return env, env_params, ActorCritic.for_env(config.network, env, env_params)


def metric_names(config: TrainConfig) -> tuple[str, ...]:
    """The per-update metrics of a config, in order."""
    return TRAINING_METRICS + live_eval.metric_names(config)


def _blank_metrics(config: TrainConfig) -> dict:
    """Metrics of an update past the end of the run (a chunk's padding): 0 episodes, NaN."""
    out = {name: jnp.float32(jnp.nan) for name in metric_names(config)}
    out["episodes"] = jnp.int32(0)
    return out


def explained_variance(targets: jax.Array, values: jax.Array, shard: EnvShard) -> jax.Array:
    """1 - Var(targets - values) / Var(targets) over the whole batch (NaN if Var(targets) = 0)."""
    _, var_y = shard.mean_and_var(targets)
    _, var_residual = shard.mean_and_var(targets - values)
    return jnp.where(var_y > 0, 1.0 - var_residual / jnp.where(var_y > 0, var_y, 1.0), jnp.nan)


def _update_scaler(scaler: RewardScaler, rewards, dones, gamma, shard: EnvShard) -> RewardScaler:
    """`update_reward_scaler` with the return statistics merged over every device."""
    if not shard.split:
        return update_reward_scaler(scaler, rewards, dones, gamma)

    def step(ret, inputs):
        reward, done = inputs
        ret = ret * gamma + reward
        return jnp.where(done, 0.0, ret), ret

    final, returns = jax.lax.scan(step, scaler.discounted_return, (rewards, dones))
    return RewardScaler(stats=merge_running(scaler.stats, returns, shard), discounted_return=final)


@dataclasses.dataclass(frozen=True)
class TrainProgram:
    """The two pure halves of a run.

    init(key, hp, env_params) -> RunnerState; updates(state, start, hp, member, env_params) ->
    (state, metrics) runs updates start .. start + length - 1 (those past the run's last update
    leave the state as it is and report blank metrics). hp: `HyperParams` as arrays.
    """

    init: Callable
    updates: Callable
    length: int


def make_program(
    config: TrainConfig,
    env=None,
    env_params=None,
    progress: ProgressFn | None = None,
    shard: EnvShard = SINGLE,
    length: int | None = None,
) -> TrainProgram:
    """`TrainProgram` of a config; `length` updates per `updates` call (default: the whole run)."""
    env, env_params, policy = build(config, env, env_params)
    num_updates = config.num_updates
    length = num_updates if length is None else int(length)
    ragged = num_updates % length != 0
    log_every = config.log_interval if progress is not None else 0
    eval_every = config.eval_every
    report = progress is not None and (log_every or eval_every)
    if eval_every:  # episodes as long as the config's own market's
        evaluate = live_eval.make_live_eval(config, env, policy, env_params.max_steps_in_episode)
    steps_per_update = config.update_epochs * config.num_minibatches
    normalize_here = config.normalize_advantages and not shard.split

    def ppo_minibatch(hp: HyperParams, tx, learner: LearnerState, minibatch):
        batch, carry = minibatch
        if not config.recurrent:  # samples become sequences of length 1
            batch = jax.tree.map(lambda x: x[None], batch)
        tr = batch.transitions
        advantages = batch.advantages
        if config.normalize_advantages and shard.split:  # over the minibatch on every device
            mean, var = shard.mean_and_var(advantages)
            advantages = (advantages - mean) / (jnp.sqrt(var) + 1e-8)

        def loss_fn(params):
            dist, value = policy.sequence(params, carry, tr.features, tr.reset)
            return ppo_loss(
                dist.log_prob(tr.action),
                tr.log_prob,
                advantages,
                value,
                tr.value,
                batch.targets,
                dist.entropy(),
                hp.clip_eps,
                hp.vf_coef,
                hp.ent_coef,
                normalize_advantages=normalize_here,
                clip_value=config.clip_value,
            )

        grads, info = jax.grad(loss_fn, has_aux=True)(learner.params)
        grads, info = shard.mean((grads, info))
        updates, opt_state = tx.update(grads, learner.opt_state, learner.params)
        params = optax.apply_updates(learner.params, updates)
        return LearnerState(params=params, opt_state=opt_state), (info, optax.tree.norm(grads))

    def ppo_epoch(hp, tx, batch: Batch, initial_carry, learner: LearnerState, key):
        # batch and initial_carry hold every device's environments; each device keeps its share
        # of every minibatch, so the minibatches are the same on any number of devices.
        if config.recurrent:
            sequences, carries = sequence_minibatches(
                key, batch, initial_carry, config.num_minibatches
            )
            minibatches = (shard.local(sequences, axis=2), shard.local(carries, axis=1))
        else:
            samples = shard.local(flat_minibatches(key, batch, config.num_minibatches), axis=1)
            size = config.minibatch_size // shard.num_devices
            carries = jnp.zeros((config.num_minibatches, size, 0), jnp.float32)
            minibatches = (samples, carries)
        return jax.lax.scan(
            lambda state, mb: ppo_minibatch(hp, tx, state, mb), learner, minibatches
        )

    def update(hp: HyperParams, tx, member, env_params, state: RunnerState, update_index):
        key, rollout_key, epoch_key = jax.random.split(state.key, 3)
        params = state.learner.params
        env_runner, transitions, episodes = collect_rollout(
            policy, env, env_params, params, state.env, rollout_key, config.num_steps, shard
        )
        last_features = policy.normalized(env_runner.obs_rms, policy.features(env_runner.obs))
        last_value = policy.value(params, env_runner.carry, last_features, env_runner.reset)

        rewards = transitions.reward
        terminated, truncated = transitions.terminated, transitions.truncated
        scaler = state.reward_scaler
        if config.scale_rewards:
            scaler = _update_scaler(
                scaler, rewards, jnp.logical_or(terminated, truncated), hp.gamma, shard
            )
            rewards = scale_rewards(scaler, rewards)
        values_next = next_values(
            transitions.value, last_value, transitions.bootstrap_value, truncated
        )
        advantages, targets = compute_gae(
            rewards, transitions.value, values_next, terminated, truncated, hp.gamma, hp.gae_lambda
        )
        batch = shard.gather(
            Batch(transitions=transitions, advantages=advantages, targets=targets), axis=1
        )
        initial_carry = shard.gather(state.env.carry, axis=0)
        learner, (infos, grad_norms) = jax.lax.scan(
            lambda learner, k: ppo_epoch(hp, tx, batch, initial_carry, learner, k),
            state.learner,
            jax.random.split(epoch_key, config.update_epochs),
        )

        count = episodes.count
        safe = jnp.maximum(count, 1).astype(jnp.float32)
        losses: LossInfo = jax.tree.map(jnp.mean, infos)
        f32 = jnp.float32
        metrics = {
            "episodes": count.astype(jnp.int32),
            "episode_return": jnp.where(count > 0, episodes.return_sum / safe, jnp.nan).astype(f32),
            "episode_length": jnp.where(count > 0, episodes.length_sum / safe, jnp.nan).astype(f32),
            "policy_loss": losses.policy_loss.astype(f32),
            "value_loss": losses.value_loss.astype(f32),
            "entropy": losses.entropy.astype(f32),
            "approx_kl": losses.approx_kl.astype(f32),
            "clip_fraction": losses.clip_fraction.astype(f32),
            "learning_rate": jnp.asarray(
                learning_rate_schedule(config, hp)(update_index * steps_per_update), f32
            ),
            "grad_norm": jnp.mean(grad_norms).astype(f32),
            "explained_variance": explained_variance(targets, transitions.value, shard).astype(f32),
        }
        last = update_index == num_updates - 1
        eval_due = False
        if eval_every:
            eval_due = ((update_index + 1) % eval_every == 0) | last
            metrics.update(
                jax.lax.cond(
                    eval_due,
                    lambda: evaluate(learner.params, env_runner.obs_rms, env_params),
                    lambda: live_eval.blank(config),
                )
            )
        since_log = jax.tree.map(jnp.add, state.since_log, episodes)
        if report:
            due = eval_due
            if log_every:
                due = due | ((update_index + 1) % log_every == 0) | last
            logged = jnp.maximum(since_log.count, 1).astype(jnp.float32)
            nan = jnp.float32(jnp.nan)
            jax.lax.cond(
                due & shard.is_first(),  # one line per run, not one per device
                lambda: jax.debug.callback(
                    progress,
                    update_index,
                    jnp.where(since_log.count > 0, since_log.return_sum / logged, jnp.nan),
                    since_log.count,
                    member,
                    metrics.get("eval_return", nan),
                    metrics.get("eval_stochastic_return", nan),
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

    def init(key: jax.Array, hp: HyperParams, env_params) -> RunnerState:
        key, init_key, env_key = jax.random.split(key, 3)
        params = policy.init(init_key)
        tx = make_optimizer(config, hp)
        runner = reset_runner(policy, env, env_params, env_key, config.num_envs, shard)
        return RunnerState(
            learner=LearnerState(params=params, opt_state=tx.init(params)),
            env=runner,
            reward_scaler=RewardScaler.create(runner.reset.shape[0]),
            since_log=EpisodeStats(
                count=jnp.zeros((), jnp.int32),
                return_sum=jnp.zeros((), jnp.float32),
                length_sum=jnp.zeros((), jnp.float32),
            ),
            key=key,
        )

    def updates(state: RunnerState, start, hp: HyperParams, member, env_params):
        tx = make_optimizer(config, hp)

        def body(s, u):
            if not ragged:
                return update(hp, tx, member, env_params, s, u)
            return jax.lax.cond(
                u < num_updates,
                lambda: update(hp, tx, member, env_params, s, u),
                lambda: (s, _blank_metrics(config)),
            )

        return jax.lax.scan(body, state, start + jnp.arange(length))

    return TrainProgram(init=init, updates=updates, length=length)


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
    env, default_env_params, _ = build(config, env, env_params)
    program = make_program(config, env, default_env_params, progress)

    def train(key: jax.Array, hparams: HyperParams | None = None, member=0, env_params=None):
        hp = (config.hparams if hparams is None else hparams).as_arrays()
        env_params = default_env_params if env_params is None else env_params
        state = program.init(key, hp, env_params)
        return program.updates(state, 0, hp, member, env_params)

    return train
