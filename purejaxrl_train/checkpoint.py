"""Checkpoints: network parameters and observation statistics, with config and versions beside them.

A run directory holds `checkpoint.msgpack` (flax serialisation of params and observation
statistics) and `checkpoint.json` (format, resolved config, package versions, shapes); the format
and its reader are `agents.learned.checkpoint`'s, so a trained policy is evaluated without the
trainer. `load_checkpoint` restores the trainer's view: the typed config beside the arrays. A run
rewrites both at every training-state checkpoint (`purejaxrl_train.resume`, for `--resume`), so a
run in progress can be evaluated too.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from agents.learned.checkpoint import FORMAT, META_FILE, PARAMS_FILE, read_arrays, read_meta
from agents.learned.normalization import RunningMeanStd
from purejaxrl_train import run_dir as run_dir_module
from purejaxrl_train.config import TrainConfig, config_from_dict, config_to_dict
from purejaxrl_train.trainer import build

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "gymnax", "distrax", "chex", "numpy", "jaxlob-rl")


def versions() -> dict[str, str]:
    """Versions of Python and the packages a checkpoint depends on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a run leaves for later use."""

    config: TrainConfig
    params: Any
    obs_rms: RunningMeanStd
    versions: dict


def save_checkpoint(run_dir: str | Path, config: TrainConfig, params, obs_rms) -> Path:
    """Write params, statistics and metadata into `run_dir`; returns the params file."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {"params": jax.device_get(params), "obs_rms": jax.device_get(obs_rms)}
    # Atomic writes, parameters first: a checkpoint.json always describes a complete msgpack.
    run_dir_module.atomic_write(run_dir / PARAMS_FILE, flax.serialization.to_bytes(payload))
    shapes = jax.tree.map(lambda x: list(np.shape(x)), payload)
    meta = {
        "format": FORMAT,
        "config": config_to_dict(config),
        "versions": versions(),
        "shapes": flax.serialization.to_state_dict(shapes),
    }
    run_dir_module.atomic_write(run_dir / META_FILE, json.dumps(meta, indent=2, default=_jsonable))
    return run_dir / PARAMS_FILE


def _jsonable(value):
    if isinstance(value, np.generic | np.ndarray | jax.Array):
        return np.asarray(value).tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_checkpoint(run_dir: str | Path, env=None, env_params=None) -> Checkpoint:
    """Restore a checkpoint written by `save_checkpoint` (shapes checked against the config)."""
    meta = read_meta(run_dir)
    config = config_from_dict(meta["config"], where=str(Path(run_dir) / META_FILE))
    _, _, actor = build(config, env, env_params)
    params, obs_rms = read_arrays(run_dir, actor)
    return Checkpoint(config, params, obs_rms, meta.get("versions", {}))
