"""Monte Carlo evaluation of a policy: whole episodes under jit, in batches of bounded memory.

One compiled program rolls out `batch_size` episodes for exactly `max_steps_in_episode` steps
(no auto-reset; `envs.model_based.rollout.rollout_batch` for model-based markets), keeping only
per-episode sums of `info`, so memory is O(batch_size) whatever the number of episodes. Batches are combined on the host in
float64 with the parallel (Chan et al.) update of mean and sum of squared deviations, so a million
episodes neither overflow memory nor lose precision. The policy is a jit argument (a pytree), so
agents of one class share a compilation across their numbers. Results for a key depend on the
batch size (the random numbers are drawn per batch).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from envs.model_based.rollout import rollout_batch

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


@functools.partial(jax.jit, static_argnames=("env", "num_steps", "batch_size"))
def _rollout(env, policy, params, key, batch_index, num_steps: int, batch_size: int):
    """(batch_size, len(COLUMNS)) episode statistics for batch `batch_index` of `key`.

    `envs.model_based.rollout.rollout_batch`: model-based markets draw one random-number call per
    step for the whole batch; other environments run a vmapped `step_env`.
    """
    # The horizon is static: the scan length must be a Python int, not a traced params leaf.
    params = params.replace(max_steps_in_episode=num_steps)
    batch_key = jax.random.fold_in(key, batch_index)
    total, sums, state = rollout_batch(env, params, policy, batch_key, batch_size)
    q_final = jnp.asarray(state.inventory, total.dtype)
    quoted = sums["both_quoted"]
    mean_spread = jnp.where(quoted > 0, sums["spread"] / jnp.maximum(quoted, 1.0), jnp.nan)
    columns = [
        total,
        sums["pnl"],
        sums["inventory_penalty"],
        sums["terminal_penalty"],
        q_final,
        jnp.abs(q_final),
        sums["fills"][:, 0],
        sums["fills"][:, 1],
        sums["market_orders"][:, 0],
        sums["market_orders"][:, 1],
        mean_spread,
        quoted,
        sums["invalid_action"],
    ]
    return jnp.stack([jnp.asarray(c, total.dtype) for c in columns], axis=1)


class _Moments:
    """Count, mean and sum of squared deviations per column, merged batch by batch (float64).

    NaN marks a statistic an episode does not have (it is left out of that column's count).
    An infinite value (e.g. a CARA utility that overflowed) is counted in `nonfinite` and makes
    the mean infinite and the std NaN, visibly rather than with a warning.
    """

    def __init__(self, width: int):
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.nonfinite = np.zeros(width, np.int64)

    def add(self, batch: np.ndarray) -> None:
        with np.errstate(invalid="ignore", over="ignore"):
            self._add(np.asarray(batch, np.float64))

    def _add(self, batch: np.ndarray) -> None:
        self.nonfinite += np.isinf(batch).sum(axis=0)
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
        summary = {
            "mean": float(self.mean[column]) if n > 0 else float("nan"),
            "std": std,
            "stderr": std / math.sqrt(n) if n > 1 else float("nan"),
            "count": int(n),
        }
        if self.nonfinite[column]:
            summary["nonfinite"] = int(self.nonfinite[column])
        return summary


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
