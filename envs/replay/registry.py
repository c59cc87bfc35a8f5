"""`make(name, **overrides) -> (env, params)` for the replay presets, and `registered()`.

Presets: ``lobster_execution`` (JAX-LOB's execution task: buy 500 GOOG shares in a 30-minute window,
four-price action) and ``lobster_market_making``. Default data: the shipped GOOG level-10 day, 30-minute
windows of 100-message steps, through the `.npz` cache.

Overrides are either static options, which change shapes or code paths:

- ``latency`` (bool, default False; set by a non-zero ``order_latency_ns`` or ``data_latency_ns``:
  compile the order and market-data latency in, `envs.replay.latency`);
- ``resync`` (bool, default True: re-synchronise the visible levels to the orderbook file after each
  step; False: pure replay, the code is not compiled in), ``capacity``, ``levels``, ``history``, ``max_fills`` (see
  `ReplayConfig`); ``action`` (execution: ``"four_prices"`` or ``"single_price"``);
- data: ``data``: a path (a LOBSTER message/orderbook pair, either file of it or its stem, or a
  folder of pairs: several days and tickers, their windows concatenated so that resets draw across
  all of them, `envs.replay.dataset`), a `ReplayData` or a `ReplayDataset`; or
  ``message_path``/``orderbook_path``; with ``window_seconds``, ``messages_per_step``,
  ``max_steps`` (cut longer windows) and ``cache_dir`` for data read from files (each day through
  the ``.npz`` cache);

or `EnvParams` fields: ``window``, ``window_lo``, ``window_hi``, ``tick_size``, ``order_latency_ns``,
``order_latency_jitter_ns`` and ``data_latency_ns`` (0..1e9 ns), and the task's
fields by name (``quantity``, ``side``, ``reward_lambda``, ``max_inventory``, ...). Unknown names and
values a task cannot run with raise a one-line ValueError naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.overrides import as_flag, as_integer, as_number
from envs.replay.data import ReplayData, as_device, load_data
from envs.replay.dataset import ReplayDataset, find_pairs, load_dataset
from envs.replay.environment import EnvParams, ReplayConfig, ReplayMarket, make_params
from envs.replay.execution import ExecutionTask
from envs.replay.latency import MAX_LATENCY_NS
from envs.replay.market_making import MarketMakingTask
from envs.replay.task import ReplayTask


@dataclasses.dataclass(frozen=True)
class Preset:
    """A replay preset: its task's class and the task's static options among the overrides."""

    task: Callable[..., ReplayTask]
    task_options: tuple[str, ...] = ()


PRESETS = {
    "lobster_execution": Preset(ExecutionTask, ("action",)),
    "lobster_market_making": Preset(MarketMakingTask),
}
LATENCY_FIELDS = ("order_latency_ns", "data_latency_ns", "order_latency_jitter_ns")
CONFIG_OPTIONS = ("resync", "capacity", "levels", "history", "max_fills", "latency")
DATA_OPTIONS = (
    "data",
    "message_path",
    "orderbook_path",
    "window_seconds",
    "messages_per_step",
    "max_steps",
    "cache_dir",
)
PARAM_FIELDS = ("window", "window_lo", "window_hi", "tick_size", *LATENCY_FIELDS)


def registered() -> list[str]:
    """Names of the replay presets."""
    return list(PRESETS)


FILE_OPTIONS = ("window_seconds", "messages_per_step", "max_steps", "cache_dir")


@functools.lru_cache(maxsize=8)
def _cached_data(message_path, orderbook_path, window_seconds, messages_per_step, max_steps, cache):
    return as_device(
        load_data(message_path, orderbook_path, window_seconds, messages_per_step, max_steps, cache)
    )


@functools.lru_cache(maxsize=4)
def _cached_dataset(path, stamp, window_seconds, messages_per_step, max_steps, cache):
    """``stamp`` (the files' sizes and modification times) keys a changed file out of the cache."""
    return as_device(load_dataset(path, window_seconds, messages_per_step, max_steps, cache).data)


def _stamp(path) -> tuple:
    days = find_pairs(path)  # one-line errors for a missing path, no pair, unpaired files, levels
    out = []
    for day in days:
        for file in (day.message_path, day.orderbook_path):
            stat = os.stat(file)
            out.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def _file_options(options: dict) -> tuple:
    steps = options.get("max_steps")
    cache_dir = options.get("cache_dir")
    return (
        as_integer("window_seconds", options.get("window_seconds", 1800)),
        as_integer("messages_per_step", options.get("messages_per_step", 100)),
        None if steps is None else as_integer("max_steps", steps),
        cache_dir if isinstance(cache_dir, bool) or cache_dir is None else str(cache_dir),
    )


def _data(options: dict) -> ReplayData:
    data = options.get("data")
    paths = [k for k in ("message_path", "orderbook_path") if options.get(k) is not None]
    if data is not None and paths:
        raise ValueError(f"data: give data= or {'/'.join(paths)}=, not both")
    if isinstance(data, ReplayData | ReplayDataset):
        ignored = [k for k in FILE_OPTIONS if k in options]
        if ignored:
            raise ValueError(
                f"{ignored[0]}: applies to data read from files, not to a given "
                f"{type(data).__name__}"
            )
        return data if isinstance(data, ReplayData) else data.data
    if data is not None:
        if not isinstance(data, str | os.PathLike):
            raise ValueError(
                f"data: expected a path (a LOBSTER pair, its stem or a folder of pairs) or a "
                f"ReplayData, got {type(data).__name__} {data!r} (write ./{data} for a path)"
            )
        path = os.fspath(data)
        return _cached_dataset(path, _stamp(path), *_file_options(options))
    if len(paths) == 1:
        raise ValueError(f"{paths[0]}: give both message_path= and orderbook_path= (or data=)")
    return _cached_data(
        options.get("message_path"), options.get("orderbook_path"), *_file_options(options)
    )


def _task_value(name: str, value, current):
    """A task field's override in the field's kind (the one rule of `envs.overrides`)."""
    return as_integer(name, value) if isinstance(current, int) else as_number(name, value)


def validate(env: ReplayMarket, params: EnvParams) -> None:
    """Raise a one-line ValueError naming the first field the market cannot run with."""
    count = int(np.asarray(params.data.num_windows).max())
    if not -1 <= int(params.window) < count:
        raise ValueError(f"window: must be -1 (draw) or in 0..{count - 1}, got {params.window}")
    if not 0 <= int(params.window_lo) < count:
        raise ValueError(f"window_lo: must be in 0..{count - 1}, got {params.window_lo}")
    hi = int(params.window_hi)
    if hi and not int(params.window_lo) < hi <= count:
        raise ValueError(f"window_hi: must be 0 (all) or in window_lo+1..{count}, got {hi}")
    if int(params.tick_size) < 1:
        raise ValueError(f"tick_size: must be >= 1, got {params.tick_size}")
    for name in LATENCY_FIELDS:
        value = int(getattr(params, name))
        if not 0 <= value <= MAX_LATENCY_NS:
            raise ValueError(f"{name}: must be in 0..{MAX_LATENCY_NS} (ns), got {value}")
        if value and not env.config.latency:
            raise ValueError(f"{name}: needs latency=True (latency=False leaves it out)")
    most = int(params.order_latency_ns) + int(params.order_latency_jitter_ns)
    if most > MAX_LATENCY_NS:
        raise ValueError(
            f"order_latency_jitter_ns: order_latency_ns + order_latency_jitter_ns must be at most "
            f"{MAX_LATENCY_NS} (ns), got {most}"
        )
    env.config.task.validate(params.task)


def make(name: str, **overrides: Any) -> tuple[ReplayMarket, EnvParams]:
    """Build preset ``name`` with ``overrides`` (see the module docstring)."""
    if name not in PRESETS:
        raise ValueError(f"{name}: unknown replay environment; registered: {', '.join(PRESETS)}")
    overrides = dict(overrides)
    preset = PRESETS[name]
    options = preset.task_options
    task = preset.task(**{k: str(overrides.pop(k)) for k in options if k in overrides})
    config_args = {k: overrides.pop(k) for k in CONFIG_OPTIONS if k in overrides}
    for key in ("capacity", "levels", "history", "max_fills"):
        if key in config_args:
            config_args[key] = as_integer(key, config_args[key])
    for key in ("resync", "latency"):
        if key in config_args:
            config_args[key] = as_flag(key, config_args[key])
    config = ReplayConfig(task=task, **config_args)
    data = _data({k: overrides.pop(k) for k in DATA_OPTIONS if k in overrides})
    fields = {k: as_integer(k, overrides.pop(k)) for k in PARAM_FIELDS if k in overrides}
    if "latency" not in config_args and any(fields.get(k) for k in LATENCY_FIELDS):
        config = dataclasses.replace(config, latency=True)  # a latency compiles it in
    defaults = task.task_params()
    task_fields = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    changes = {}
    for key, value in overrides.items():
        if key not in task_fields:
            known = sorted([*CONFIG_OPTIONS, *DATA_OPTIONS, *PARAM_FIELDS, *options, *task_fields])
            raise ValueError(f"{key}: unknown field for {name!r}; known: {', '.join(known)}")
        changes[key] = _task_value(key, value, task_fields[key])
    params = make_params(config, data, task.task_params(**changes), resync=config.resync, **fields)
    env = ReplayMarket(config, params, name=name)
    validate(env, params)
    return env, params
