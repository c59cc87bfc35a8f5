"""Evaluating a trained policy greedily, and the reference (optimal) agent it is compared with.

Feed-forward policies on the project's markets go through `agents.evaluate`, exactly like the
baseline agents (same episodes, same statistics). Recurrent policies and gymnax's own environments
use `evaluate_returns`, which carries the GRU state through each episode.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from purejaxrl_train.config import TrainConfig
from purejaxrl_train.distributions import deterministic_action
from purejaxrl_train.environment import is_project_env
from purejaxrl_train.policy import ActorCritic

# Presets whose optimal (or reference) agent in `agents` is known: the progress lines and the final
# evaluation report the trained policy's return as a percentage of this agent's.
REFERENCE_AGENTS = {
    "cartea_jaimungal_mm": "cartea_jaimungal_mm",
    "cj_execution_speed": "cartea_jaimungal_execution",
    "cj_execution_lo_mo": "limit_market_liquidation",
    "avellaneda_stoikov": "avellaneda_stoikov",
}


@functools.partial(jax.jit, static_argnames=("actor", "env", "num_steps", "batch_size"))
def _greedy_returns(
    actor: ActorCritic, env, params, obs_rms, env_params, key, num_steps, batch_size
):
    """Return of the first episode in each of `batch_size` environments (NaN if unfinished)."""
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, batch_size), env_params
    )
    init = (
        obs,
        state,
        actor.initial_carry(batch_size),
        jnp.ones((batch_size,), bool),  # first observation of an episode
        jnp.ones((batch_size,), bool),  # still in the first episode
        jnp.zeros((batch_size,), jnp.float32),
    )

    def step(carry, step_key):
        obs, state, hidden, reset, alive, total = carry
        features = actor.normalized(obs_rms, actor.features(obs))
        hidden, head, _, _ = actor.network.apply(params, hidden, features[None], reset[None])
        action = actor.env_action(deterministic_action(actor.action_spec, head[0]))
        obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(step_key, batch_size), state, action, env_params
        )
        done = jnp.logical_or(terminated, truncated)
        total = total + jnp.where(alive, reward, 0.0)
        return (obs, state, hidden, done, alive & ~done, total), None

    (_, _, _, _, alive, total), _ = jax.lax.scan(step, init, jax.random.split(run_key, num_steps))
    return jnp.where(alive, jnp.nan, total)


def evaluate_returns(
    actor: ActorCritic,
    params,
    obs_rms,
    env,
    env_params,
    num_episodes: int,
    key: jax.Array,
    batch_size: int = 4096,
) -> dict:
    """Mean, std and standard error of the greedy policy's episode return (any gymnax env).

    Episodes that do not end within `max_steps_in_episode` steps are counted in `unfinished` and
    left out of the statistics.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    batch = min(batch_size, num_episodes)
    num_steps = int(env_params.max_steps_in_episode)
    chunks = []
    for index in range(math.ceil(num_episodes / batch)):
        returns = _greedy_returns(
            actor,
            env,
            params,
            obs_rms,
            env_params,
            jax.random.fold_in(key, index),
            num_steps,
            batch,
        )
        chunks.append(np.asarray(returns, np.float64))
    returns = np.concatenate(chunks)[:num_episodes]
    finished = returns[~np.isnan(returns)]
    n = finished.size
    std = float(finished.std(ddof=1)) if n > 1 else float("nan")
    return {
        "episodes": num_episodes,
        "return": {
            "mean": float(finished.mean()) if n else float("nan"),
            "std": std,
            "stderr": std / math.sqrt(n) if n > 1 else float("nan"),
            "count": int(n),
        },
        "unfinished": int(num_episodes - n),
    }


def evaluate_trained(
    config: TrainConfig, actor: ActorCritic, params, obs_rms, env, env_params, num_episodes, key
) -> dict:
    """Greedy evaluation: `agents.evaluate` for feed-forward policies on the project's markets
    (every statistic the baselines get), `evaluate_returns` otherwise."""
    if not config.recurrent and is_project_env(config.env_name):
        from agents.evaluation import evaluate
        from purejaxrl_train.checkpoint import TrainedPolicy

        policy = TrainedPolicy(params=params, obs_rms=obs_rms, actor=actor)
        return evaluate(env, env_params, policy, num_episodes, key)
    return evaluate_returns(actor, params, obs_rms, env, env_params, num_episodes, key)


def reference_agent(env_name: str) -> str | None:
    """Name of the agent a preset's returns are compared with (None if there is none)."""
    return REFERENCE_AGENTS.get(env_name)


def evaluate_reference(env_name: str, env, env_params, num_episodes: int, key) -> dict | None:
    """`agents.evaluate` statistics of the preset's reference agent, or None without one."""
    agent = reference_agent(env_name)
    if agent is None:
        return None
    from agents.evaluation import evaluate
    from agents.registry import make_agent

    policy = make_agent(agent, env, env_params)
    result = evaluate(env, env_params, policy, num_episodes, key)
    result["agent"] = agent
    return result
