"""Baseline and optimal agents as pure `policy(key, obs) -> action` functions, and their evaluation.

- `make_agent(name, env, params, **agent_args)` builds an agent; `registered_agents()` lists names.
- `evaluate(env, params, policy, num_episodes, key)` returns Monte Carlo episode statistics.
- `agents.solvers` holds the closed forms and numerical solutions they are built from.
"""

from agents.evaluation import evaluate
from agents.registry import make_agent, registered_agents

__all__ = ["evaluate", "make_agent", "registered_agents"]
