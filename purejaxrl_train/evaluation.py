"""The trained policy's final evaluation, and the reference agent it is compared with.

Both go through `agents.evaluate_policy`, the one evaluation every agent gets (same episodes for the
same key, same statistics): the trained network, feed-forward or recurrent (its GRU state carried
through each episode), is an `agents.learned.TrainedPolicy`.
"""

from __future__ import annotations

import jax

from agents import evaluate_policy, make_agent
from agents.learned import ActorCritic, TrainedPolicy
from agents.references import BASELINE, REFERENCES, reference_for

# Preset -> the agent its returns are compared with (the progress lines and the final evaluation
# report the trained policy's return as a percentage of it); kinds and gaps in `agents.references`.
REFERENCE_AGENTS = {name: ref.agent for name, ref in REFERENCES.items()}


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
    """`agents.evaluate_policy` statistics of the preset's reference agent, or None without one;
    "agent" names it and "kind" says whether it is the exact optimum ("optimal") or a baseline.

    Where overrides take the market outside what the exact agent solves (say `exact_counts`), it
    refuses, and the preset's textbook agent stands in as a baseline."""
    reference = reference_for(env_name)
    if reference is None:
        return None
    agent, kind = reference.agent, reference.kind
    try:
        policy = make_agent(agent, env, env_params)
    except ValueError:
        if reference.textbook is None or reference.textbook == agent:
            raise
        agent, kind = reference.textbook, BASELINE
        policy = make_agent(agent, env, env_params)
    result = evaluate_policy(env, env_params, policy, num_episodes, key)
    result["agent"] = agent
    result["kind"] = kind
    return result
