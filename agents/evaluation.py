"""Monte Carlo evaluation of a policy: whole episodes under jit, in batches of bounded memory.

One compiled program rolls out `batch_size` episodes for exactly `max_steps_in_episode` steps
(`env.step_env`, no auto-reset), keeping only per-episode running sums of the `info` fields, so
memory is O(batch_size) whatever the number of episodes. Batches are combined on the host in
float64 with the parallel (Chan et al.) update of mean and sum of squared deviations, so a million
episodes neither overflow memory nor lose precision. The policy is a jit argument (a pytree), so
agents of one class share a compilation across their numbers.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

PENALISED_REWARDS = ("running_inventory_penalty", "cj_execution")

# Per-episode statistics, in the order of the columns `_rollout` returns.
COLUMNS = (
    "return",
    "pnl",
    "inventory_penalty",
    "terminal_penalty",
    "terminal_inventory",
    "abs_terminal_inventory",
    "fills_bid",
    "fills_ask",
    "market_orders_buy",
    "market_orders_sell",
    "mean_spread",
    "quoted_steps",
    "invalid_actions",
)


@struct.dataclass
class EpisodeSums:
    reward: jax.Array
    pnl: jax.Array
    inventory_penalty: jax.Array
    terminal_penalty: jax.Array
    fills: jax.Array  # (2,)
    market_orders: jax.Array  # (2,)
    spread: jax.Array
    quoted_steps: jax.Array
    invalid_actions: jax.Array


def _zero_sums() -> EpisodeSums:
    z = jnp.zeros((), jnp.float32)
    return EpisodeSums(z, z, z, z, jnp.zeros((2,)), jnp.zeros((2,)), z, z, z)


def _episode(env, policy, params, num_steps: int, key: jax.Array) -> jax.Array:
    """One episode's statistics as a vector laid out as COLUMNS."""
    reset_key, run_key = jax.random.split(key)
    obs, state = env.reset_env(reset_key, params)

    def step(carry, step_key):
        obs, state, sums = carry
        policy_key, env_key = jax.random.split(step_key)
        action = policy(policy_key, obs)
        obs, state, reward, _, info = env.step_env(env_key, state, action, params)
        both = jnp.all(info["quoted"])
        sums = EpisodeSums(
            reward=sums.reward + reward,
            pnl=sums.pnl + info["pnl"],
            inventory_penalty=sums.inventory_penalty + info["inventory_penalty"],
            terminal_penalty=sums.terminal_penalty + info["terminal_penalty"],
            fills=sums.fills + info["fills"],
            market_orders=sums.market_orders + info["market_orders"],
            spread=sums.spread + jnp.where(both, info["spread"], 0.0),
            quoted_steps=sums.quoted_steps + both,
            invalid_actions=sums.invalid_actions + info["invalid_action"],
        )
        return (obs, state, sums), info["inventory"]

    keys = jax.random.split(run_key, num_steps)
    (_, state, sums), inventories = jax.lax.scan(step, (obs, state, _zero_sums()), keys)
    q_final = inventories[-1]
    mean_spread = jnp.where(
        sums.quoted_steps > 0, sums.spread / jnp.maximum(sums.quoted_steps, 1.0), jnp.nan
    )
    return jnp.stack(
        [
            sums.reward,
            sums.pnl,
            sums.inventory_penalty,
            sums.terminal_penalty,
            q_final,
            jnp.abs(q_final),
            sums.fills[0],
            sums.fills[1],
            sums.market_orders[0],
            sums.market_orders[1],
            mean_spread,
            sums.quoted_steps,
            sums.invalid_actions,
        ]
    ).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("env", "num_steps", "batch_size"))
def _rollout(env, policy, params, key, batch_index, num_steps: int, batch_size: int):
    """(batch_size, len(COLUMNS)) episode statistics for batch `batch_index` of `key`."""
    keys = jax.random.split(jax.random.fold_in(key, batch_index), batch_size)
    return jax.vmap(lambda k: _episode(env, policy, params, num_steps, k))(keys)


class _Moments:
    """Count, mean and sum of squared deviations per column, merged batch by batch (float64)."""

    def __init__(self, width: int):
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64)
        valid = ~np.isnan(batch)
        n = valid.sum(axis=0)
        safe = np.where(valid, batch, 0.0)
        mean = safe.sum(axis=0) / np.maximum(n, 1)
        m2 = (np.where(valid, batch - mean, 0.0) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        share = np.divide(n, total, out=np.zeros_like(total), where=total > 0)
        self.mean = self.mean + delta * share
        self.m2 = self.m2 + m2 + delta**2 * self.count * share
        self.count = total

    def summary(self, column: int) -> dict[str, float]:
        n = self.count[column]
        std = math.sqrt(self.m2[column] / (n - 1)) if n > 1 else float("nan")
        return {
            "mean": float(self.mean[column]) if n > 0 else float("nan"),
            "std": std,
            "stderr": std / math.sqrt(n) if n > 1 else float("nan"),
            "count": int(n),
        }


def evaluate(env, params, policy, num_episodes: int, key: jax.Array, batch_size: int = 4096):
    """Roll out `num_episodes` whole episodes of `policy` and return their statistics.

    Returns {"episodes": n, "batch_size": b, name: {"mean", "std", "stderr", "count"}} for the
    episode return, terminal inventory, |terminal inventory|, fills and market orders per side,
    the time-averaged quoted spread (over steps with both sides quoted; episodes without such steps
    are left out, see its count), invalid actions, and the return's components: pnl always,
    inventory_penalty and terminal_penalty where the reward has them.
    """
    num_episodes = int(num_episodes)
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch = min(int(batch_size), num_episodes)
    steps = int(params.max_steps_in_episode)
    moments = _Moments(len(COLUMNS))
    done = 0
    for index in range(math.ceil(num_episodes / batch)):
        stats = np.asarray(_rollout(env, policy, params, key, index, steps, batch))
        take = min(batch, num_episodes - done)
        moments.add(stats[:take])
        done += take
    result: dict = {"episodes": num_episodes, "batch_size": batch}
    penalised = getattr(getattr(env, "config", None), "reward", None)
    penalised = getattr(penalised, "kind", None) in PENALISED_REWARDS
    for column, name in enumerate(COLUMNS):
        if name in ("inventory_penalty", "terminal_penalty") and not penalised:
            continue
        result[name] = moments.summary(column)
    return result
