"""The trained policy's final evaluation, and the reference agent it is compared with.

Both go through `agents.evaluate_policy`, the one evaluation every agent gets (same episodes for the
same key, same statistics): the trained network, feed-forward or recurrent (its GRU state carried
through each episode), is an `agents.learned.TrainedPolicy`.
"""

from __future__ import annotations

import jax

from agents import evaluate_policy, make_agent
from agents.learned import ActorCritic, TrainedPolicy

# Presets whose reference agent in `agents` is known: the progress lines and the final evaluation
# report the trained policy's return as a percentage of this agent's.
REFERENCE_AGENTS = {
    "cartea_jaimungal_mm": "cartea_jaimungal_mm",
    "cj_execution_speed": "cartea_jaimungal_execution",
    "cj_execution_lo_mo": "limit_market_liquidation",
    "avellaneda_stoikov": "avellaneda_stoikov",
}


def trained_policy(actor: ActorCritic, params, obs_rms, greedy: bool = True) -> TrainedPolicy:
    """The policy a run trained, as an agent (greedy by default)."""
    return TrainedPolicy(params=params, obs_rms=obs_rms, actor=actor, greedy=greedy)


def evaluate_trained(actor: ActorCritic, params, obs_rms, env, env_params, num_episodes, key):
    """`agents.evaluate_policy` statistics of the greedy trained policy."""
    policy = trained_policy(actor, params, obs_rms)
    return evaluate_policy(env, env_params, policy, num_episodes, key)


def reference_agent(env_name: str) -> str | None:
    """Name of the agent a preset's returns are compared with (None if there is none)."""
    return REFERENCE_AGENTS.get(env_name)


def evaluate_reference(
    env_name: str, env, env_params, num_episodes: int, key: jax.Array
) -> dict | None:
    """`agents.evaluate_policy` statistics of the preset's reference agent, or None without one."""
    agent = reference_agent(env_name)
    if agent is None:
        return None
    policy = make_agent(agent, env, env_params)
    result = evaluate_policy(env, env_params, policy, num_episodes, key)
    result["agent"] = agent
    return result
