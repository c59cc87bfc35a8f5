"""Baseline, optimal and trained agents behind one policy interface, and their evaluation.

- `make_agent(name, env, params, **agent_args)` builds an agent; `registered_agents()` lists names.
- Every agent implements `agents.policy.Policy` (``initial_state()``, ``step(state, key, obs)``);
  stateless ones are also ``policy(key, obs) -> action``; trained networks are
  `agents.learned.TrainedPolicy` (``agents.learned.load_trained(RUN_DIR)``).
- `evaluate_policy(env, params, policy, num_episodes, key)` returns Monte Carlo episode statistics,
  through `agents.rollout.rollout`, the one episode loop. The command line is
  ``python -m agents.evaluate``.
- `agents.solvers` holds the closed forms and numerical solutions the optimal agents are built from
  (`solvers.discrete_optimum`: the exact optimum of a market's own discrete-time steps, the
  `discrete_optimal` agent); `agents.references` says which agent each preset is compared with,
  whether it is the exact optimum or a baseline, and its gap to the optimum;
  `agents.replay` the replay markets' baselines and per-window report.
"""

from agents.evaluation import evaluate_policy
from agents.policy import Policy, as_policy
from agents.registry import make_agent, registered_agents
from agents.rollout import Episodes, rollout

__all__ = [
    "Episodes",
    "Policy",
    "as_policy",
    "evaluate_policy",
    "make_agent",
    "registered_agents",
    "rollout",
]
