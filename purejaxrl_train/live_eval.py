"""Live evaluation during training: the current policy on held-out episodes, inside the program.

Every `TrainConfig.eval_every` updates the trainer runs the greedy policy (and, with
`live_eval_stochastic`, the sampling policy the training curve measures) for `live_eval_episodes`
whole episodes through `agents.rollout.rollout`, the one rollout of every evaluation. The episodes
come from a fixed key that no training draw uses (`LIVE_EVAL_SEED`), the same at every evaluation
and for every seed, so successive points of the curve differ only by the policy (common random
numbers). The result is a few scalars per update, NaN where no evaluation was due.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.learned import TrainedPolicy
from agents.rollout import rollout

LIVE_EVAL_SEED = 2_718_281  # the held-out episodes' key: apart from every training key
GREEDY_METRICS = ("eval_return", "eval_return_stderr", "eval_length")
STOCHASTIC_METRICS = ("eval_stochastic_return", "eval_stochastic_return_stderr")


def metric_names(config) -> tuple[str, ...]:
    """The columns a config's live evaluation adds to the per-update metrics (none if off)."""
    if not config.eval_every:
        return ()
    return GREEDY_METRICS + (STOCHASTIC_METRICS if config.live_eval_stochastic else ())


def make_live_eval(config, env, actor, num_steps):
    """`evaluate(params, obs_rms, env_params) -> {name: float32 scalar}` of the current policy,
    episodes of `num_steps` steps (static: a sweep may trace the environment's own limit)."""
    n = config.live_eval_episodes
    num_steps = int(num_steps)

    def stats(policy, env_params):
        episodes = rollout(env, env_params, policy, jax.random.key(LIVE_EVAL_SEED), n, num_steps)
        returns = episodes.returns.astype(jnp.float32)
        stderr = returns.std(ddof=1) / jnp.sqrt(n) if n > 1 else jnp.float32(jnp.nan)
        return returns.mean(), stderr.astype(jnp.float32), episodes.lengths.mean(dtype=jnp.float32)

    def evaluate(params, obs_rms, env_params) -> dict:
        greedy = TrainedPolicy(params=params, obs_rms=obs_rms, actor=actor, greedy=True)
        out = dict(zip(GREEDY_METRICS, stats(greedy, env_params), strict=True))
        if config.live_eval_stochastic:
            sampling = TrainedPolicy(params=params, obs_rms=obs_rms, actor=actor, greedy=False)
            ret, stderr, _ = stats(sampling, env_params)
            out.update(zip(STOCHASTIC_METRICS, (ret, stderr), strict=True))
        return out

    return evaluate


def blank(config) -> dict:
    """NaN for every live-evaluation metric (updates without an evaluation)."""
    return {name: jnp.float32(jnp.nan) for name in metric_names(config)}
