"""A trained actor-critic as an `agents.policy.Policy`: feed-forward and recurrent alike.

`TrainedPolicy.step(state, key, obs)` runs the network on one observation; its state is the GRU's
hidden state (an empty vector for a feed-forward network), carried through the episode by the
rollout and zero at the start of each. Greedy by default (the Gaussian mean, the argmax, p > 1/2);
``greedy=False`` samples from the policy's distribution with the step's key, the policy the
training curve measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from agents.learned.actor import ActorCritic
from agents.learned.checkpoint import read_meta, read_policy
from agents.learned.distributions import deterministic_action, make_distribution
from agents.learned.normalization import RunningMeanStd
from envs.catalog import make_any


@struct.dataclass
class TrainedPolicy:
    """Network parameters, observation statistics and the (static) actor that reads them."""

    params: Any
    obs_rms: RunningMeanStd
    actor: ActorCritic = struct.field(pytree_node=False)
    greedy: bool = struct.field(pytree_node=False, default=True)

    def initial_state(self) -> jax.Array:
        return self.actor.initial_carry(1)[0]

    def step(self, state: jax.Array, key: jax.Array, obs: jax.Array):
        actor = self.actor
        features = actor.normalized(self.obs_rms, actor.features(obs))
        carry, head, log_std, _ = actor.network.apply(
            self.params, state[None], features[None, None], jnp.zeros((1, 1), bool)
        )
        head = head[0, 0]
        if self.greedy:
            raw = deterministic_action(actor.action_spec, head)
        else:
            raw = make_distribution(actor.action_spec, head, log_std).sample(seed=key)
        return actor.env_action(raw), carry[0]


def load_trained(run_dir: str | Path, overrides: dict | None = None, greedy: bool = True):
    """`(env_name, env, env_params, policy)` of a run directory: the run's environment with its own
    overrides (and `overrides` on top), and its trained policy."""
    meta = read_meta(run_dir)
    config = meta["config"]
    env_name = config["env_name"]
    env_overrides = {**dict(config.get("env_overrides", {})), **dict(overrides or {})}
    env, env_params = make_any(env_name, env_overrides)
    stored = read_policy(run_dir, env, env_params, meta)
    policy = TrainedPolicy(
        params=stored.params, obs_rms=stored.obs_rms, actor=stored.actor, greedy=greedy
    )
    return env_name, env, env_params, policy
