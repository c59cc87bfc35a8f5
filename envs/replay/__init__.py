"""Replay markets: gymnax environments over real LOBSTER data replayed through the `jaxlob` engine.

- `registry.make(name, **overrides) -> (env, params)` and `registry.registered()`: the presets
  ``lobster_execution`` and ``lobster_market_making`` (default data: the shipped GOOG day).
- `environment.ReplayMarket`: the environment (reset, step, observation, spaces, episode summary).
- `task.ReplayTask`: the interface of its task (`execution.ExecutionTask`,
  `market_making.MarketMakingTask`); `step_info`: what each step's info holds.
- `data`: windows of LOBSTER days as `ReplayData` in the params; `dataset`: ``data=PATH`` (a pair,
  its stem or a folder of days and tickers), many days' windows concatenated along the window axis
  (`load_dataset`), each day through the on-disk cache.

Baselines (TWAP, VWAP, all-at-once, fixed spread, Avellaneda-Stoikov) and the per-window report
are agents (`agents.replay`); training on real data is the trainer's
(``python -m purejaxrl_train --env lobster_execution --recurrent``); throughput in
``benchmarks/replay_env.py``.
"""

from envs.replay.data import ReplayData, from_day, load_data, stack_days
from envs.replay.dataset import ReplayDataset, concat_days, find_pairs, load_dataset, split_days
from envs.replay.environment import EnvParams, EnvState, ReplayConfig, ReplayMarket, make_params
from envs.replay.registry import make, registered
from envs.replay.task import ReplayTask

__all__ = [
    "EnvParams",
    "EnvState",
    "ReplayConfig",
    "ReplayData",
    "ReplayDataset",
    "ReplayMarket",
    "ReplayTask",
    "concat_days",
    "find_pairs",
    "from_day",
    "load_data",
    "load_dataset",
    "make",
    "make_params",
    "registered",
    "split_days",
    "stack_days",
]
