"""Reading a trained policy back from a run directory (the trainer writes the same files).

A run directory holds `checkpoint.msgpack` (flax serialisation of the network parameters and the
observation statistics) and `checkpoint.json` (format, the run's config, package versions, shapes).
Restoring rebuilds the network from the config's `NetworkSpec` fields and checks every array's
shape against it, so a checkpoint from a different network or environment fails with a one-line
message naming the file instead of silently.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from agents.learned.actor import ActorCritic
from agents.learned.normalization import RunningMeanStd
from agents.learned.spec import NetworkSpec

FORMAT = 1
PARAMS_FILE = "checkpoint.msgpack"
META_FILE = "checkpoint.json"


@dataclasses.dataclass(frozen=True)
class StoredPolicy:
    """What a run directory holds for acting: its metadata, network parameters and statistics."""

    meta: dict[str, Any]  # checkpoint.json (its "config" is the trainer's config as a dict)
    actor: ActorCritic
    params: Any
    obs_rms: RunningMeanStd


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """checkpoint.json of a run directory, checked for presence and format."""
    run_dir = Path(run_dir)
    meta_path, params_path = run_dir / META_FILE, run_dir / PARAMS_FILE
    for path in (meta_path, params_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no checkpoint here (expected {META_FILE} and {PARAMS_FILE})"
            )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{meta_path}: checkpoint format {found!r}, expected {FORMAT}")
    if not isinstance(meta.get("config"), dict) or "env_name" not in meta["config"]:
        raise ValueError(f"{meta_path}: no config with an env_name")
    return meta


def read_arrays(run_dir: str | Path, actor: ActorCritic) -> tuple[Any, RunningMeanStd]:
    """(network params, observation statistics) of a run, shapes checked against `actor`."""
    params_path = Path(run_dir) / PARAMS_FILE
    template = {
        "params": actor.init(jax.random.key(0)),
        "obs_rms": RunningMeanStd.create((actor.obs_dim,)),
    }
    try:
        state = flax.serialization.msgpack_restore(params_path.read_bytes())
    except Exception as err:  # msgpack raises its own types for damaged bytes
        raise ValueError(
            f"{params_path}: corrupt or truncated (not a flax msgpack file: {type(err).__name__})"
        ) from None
    try:
        restored = flax.serialization.from_state_dict(template, state)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{params_path}: does not match the network of its config ({err})"
        ) from None
    for (path, want), got in zip(
        jax.tree_util.tree_leaves_with_path(template), jax.tree.leaves(restored), strict=True
    ):
        if np.shape(want) != np.shape(got):
            name = jax.tree_util.keystr(path)
            raise ValueError(
                f"{params_path}: {name} has shape {np.shape(got)}, the config needs {np.shape(want)}"
            )
    restored = jax.tree.map(jnp.asarray, restored)
    return restored["params"], restored["obs_rms"]


def read_policy(run_dir: str | Path, env, env_params, meta: dict | None = None) -> StoredPolicy:
    """The stored policy of `run_dir`, for acting in `(env, env_params)` (`meta`: its
    checkpoint.json when already read)."""
    meta = read_meta(run_dir) if meta is None else meta
    network = NetworkSpec.from_dict(meta["config"], where=str(Path(run_dir) / META_FILE))
    actor = ActorCritic.for_env(network, env, env_params)
    params, obs_rms = read_arrays(run_dir, actor)
    return StoredPolicy(meta=meta, actor=actor, params=params, obs_rms=obs_rms)
