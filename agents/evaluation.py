"""Monte Carlo evaluation of a policy: whole episodes under jit, in batches of bounded memory.

`evaluate_policy` runs `agents.rollout.rollout` (the one episode loop) on `batch_size` episodes at
a time, keeping only per-episode statistics, so memory is O(batch_size) whatever the number of
episodes. Batches are combined on the host in float64 with the parallel (Chan et al.) update of
mean and sum of squared deviations, so a million episodes neither overflow memory nor lose
precision. The policy is a jit argument (a pytree), so agents of one class share a compilation
across their numbers. Results for a key depend on the batch size (the random numbers are drawn per
batch).

On a project market (`envs.interfaces.Market`) the statistics come from its typed
`envs.metrics.StepMetrics` record; on any other gymnax environment they are the return and the
episode length.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from agents.policy import as_policy
from agents.rollout import rollout
from envs.interfaces import Market

# Per-episode statistics of a project market, in the order `_statistics` stacks them.
MARKET_COLUMNS = (
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
    "episode_length",
)
# Per-episode statistics of any other environment.
GENERIC_COLUMNS = ("return", "episode_length")
PENALTY_COLUMNS = ("inventory_penalty", "terminal_penalty")


def _statistics(episodes, market: bool):
    """(n, columns) per-episode statistics from a rollout's `Episodes`."""
    total = episodes.returns
    length = jnp.asarray(episodes.lengths, total.dtype)
    if not market:
        return jnp.stack([total, length], axis=1)
    sums, final = episodes.metrics, episodes.final
    quoted = sums.both_quoted
    mean_spread = jnp.where(quoted > 0, sums.spread / jnp.maximum(quoted, 1.0), jnp.nan)
    q_final = final.inventory
    columns = [
        total,
        sums.pnl,
        sums.inventory_penalty,
        sums.terminal_penalty,
        q_final,
        jnp.abs(q_final),
        sums.fills[:, 0],
        sums.fills[:, 1],
        sums.market_orders[:, 0],
        sums.market_orders[:, 1],
        mean_spread,
        quoted,
        sums.invalid_action,
        length,
    ]
    return jnp.stack([jnp.asarray(c, total.dtype) for c in columns], axis=1)


@functools.partial(jax.jit, static_argnames=("env", "num_steps", "batch_size", "market"))
def _rollout(env, policy, params, key, batch_index, num_steps: int, batch_size: int, market: bool):
    """(batch_size, columns) episode statistics for batch `batch_index` of `key`."""
    episodes = rollout(
        env, params, policy, jax.random.fold_in(key, batch_index), batch_size, num_steps
    )
    return _statistics(episodes, market)


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


def evaluate_policy(
    env, params, policy, num_episodes: int, key: jax.Array, batch_size: int = 4096
) -> dict:
    """Roll out `num_episodes` whole episodes of `policy` and return their statistics.

    `policy`: an `agents.policy.Policy` (any agent, a trained network with or without a recurrent
    state) or a plain ``f(key, obs)``. Returns ``{"episodes": n, "batch_size": b, name: {"mean",
    "std", "stderr", "count"}}``. On a project market: the episode return, terminal inventory,
    |terminal inventory|, fills and market orders per side, the time-averaged quoted spread (over
    steps with both sides quoted; episodes without such steps are left out, see its count), quoted
    steps, invalid actions, the episode length, and the return's components: pnl always,
    inventory_penalty and terminal_penalty where the reward has them. On any other environment:
    the return and the episode length.
    """
    num_episodes = int(num_episodes)
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    policy = as_policy(policy)
    market = isinstance(env, Market)
    columns = MARKET_COLUMNS if market else GENERIC_COLUMNS
    batch = min(int(batch_size), num_episodes)
    steps = int(params.max_steps_in_episode)
    moments = _Moments(len(columns))
    done = 0
    for index in range(math.ceil(num_episodes / batch)):
        stats = np.asarray(_rollout(env, policy, params, key, index, steps, batch, market))
        take = min(batch, num_episodes - done)
        moments.add(stats[:take])
        done += take
    result: dict = {"episodes": num_episodes, "batch_size": batch}
    for column, name in enumerate(columns):
        if name in PENALTY_COLUMNS and not env.penalised:
            continue
        result[name] = moments.summary(column)
    return result
