"""Replay markets: gymnax environments over real LOBSTER data replayed through the `jaxlob` engine.

- `registry.make(name, **overrides) -> (env, params)` and `registry.registered()`: the presets
  ``lobster_execution`` and ``lobster_market_making`` (default data: the shipped GOOG day).
- `environment.ReplayMarket`: the environment (reset, step, observation, spaces, episode summary).
- `task.ReplayTask`: the interface of its task (`execution.ExecutionTask`,
  `market_making.MarketMakingTask`); `step_info`: what each step's info holds.
- `data`: windows of LOBSTER days as `ReplayData` in the params.

Baselines (TWAP, VWAP, all-at-once, fixed spread, Avellaneda-Stoikov) and the per-window report
are agents (`agents.replay`); training on real data is the trainer's
(``python -m purejaxrl_train --env lobster_execution --recurrent``); throughput in
``benchmarks/replay_env.py``.
"""

from envs.replay.data import ReplayData, from_day, load_data, stack_days
from envs.replay.environment import EnvParams, EnvState, ReplayConfig, ReplayMarket, make_params
from envs.replay.registry import make, registered
from envs.replay.task import ReplayTask

__all__ = [
    "EnvParams",
    "EnvState",
    "ReplayConfig",
    "ReplayData",
    "ReplayMarket",
    "ReplayTask",
    "from_day",
    "load_data",
    "make",
    "make_params",
    "registered",
    "stack_days",
]
