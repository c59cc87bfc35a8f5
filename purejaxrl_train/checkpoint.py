"""Checkpoints: network parameters and observation statistics, with config and versions beside them.

A run directory holds `checkpoint.msgpack` (flax serialisation of params and observation
statistics) and `checkpoint.json` (format, resolved config, package versions, shapes). Restoring
rebuilds the network from the config and checks every array's shape against it, so a checkpoint
from a different network or environment fails with a clear message instead of silently.
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
import jax.numpy as jnp
import numpy as np
from flax import struct

from purejaxrl_train.config import TrainConfig, config_from_dict, config_to_dict
from purejaxrl_train.distributions import deterministic_action
from purejaxrl_train.normalization import RunningMeanStd
from purejaxrl_train.policy import ActorCritic
from purejaxrl_train.trainer import build

FORMAT = 1
PARAMS_FILE = "checkpoint.msgpack"
META_FILE = "checkpoint.json"
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
    (run_dir / PARAMS_FILE).write_bytes(flax.serialization.to_bytes(payload))
    shapes = jax.tree.map(lambda x: list(np.shape(x)), payload)
    meta = {
        "format": FORMAT,
        "config": config_to_dict(config),
        "versions": versions(),
        "shapes": flax.serialization.to_state_dict(shapes),
    }
    (run_dir / META_FILE).write_text(json.dumps(meta, indent=2, default=_jsonable))
    return run_dir / PARAMS_FILE


def _jsonable(value):
    if isinstance(value, np.generic | np.ndarray | jax.Array):
        return np.asarray(value).tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_checkpoint(run_dir: str | Path, env=None, env_params=None) -> Checkpoint:
    """Restore a checkpoint written by `save_checkpoint` (shapes checked against the config)."""
    run_dir = Path(run_dir)
    meta_path, params_path = run_dir / META_FILE, run_dir / PARAMS_FILE
    for path in (meta_path, params_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no checkpoint here (expected {META_FILE} and {PARAMS_FILE})"
            )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_path}: not valid JSON ({err})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{meta_path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}"
        )
    config = config_from_dict(meta["config"], where=str(meta_path))
    _, _, policy = build(config, env, env_params)
    template = {
        "params": policy.init(jax.random.key(0)),
        "obs_rms": RunningMeanStd.create((policy.obs_dim,)),
    }
    try:
        restored = flax.serialization.from_bytes(template, params_path.read_bytes())
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
    return Checkpoint(config, restored["params"], restored["obs_rms"], meta.get("versions", {}))


@struct.dataclass
class TrainedPolicy:
    """A trained feed-forward policy as a pytree `policy(key, obs) -> action` (greedy: Gaussian
    mean, argmax, or p > 1/2), so `agents.evaluate` treats it like any baseline agent."""

    params: Any
    obs_rms: RunningMeanStd
    actor: ActorCritic = struct.field(pytree_node=False)

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        del key
        actor = self.actor
        features = actor.normalized(self.obs_rms, actor.features(obs))
        _, head, _, _ = actor.network.apply(
            self.params, actor.initial_carry(1), features[None, None], jnp.zeros((1, 1), bool)
        )
        return actor.env_action(deterministic_action(actor.action_spec, head[0, 0]))


def trained_policy(config: TrainConfig, params, obs_rms, env, env_params) -> TrainedPolicy:
    """The greedy policy of a feed-forward run (a recurrent one needs its hidden state)."""
    if config.recurrent:
        raise ValueError(
            "a recurrent policy carries a hidden state between steps, so it is not a stateless "
            "policy(key, obs); evaluate it with purejaxrl_train.evaluation.evaluate_returns"
        )
    _, _, actor = build(config, env, env_params)
    return TrainedPolicy(params=params, obs_rms=obs_rms, actor=actor)


def load_policy(run_dir: str | Path) -> tuple[str, dict, TrainedPolicy]:
    """(env_name, env_overrides, policy) of a run directory, for `agents.evaluate --policy`."""
    checkpoint = load_checkpoint(run_dir)
    config = checkpoint.config
    env, env_params, _ = build(config)
    policy = trained_policy(config, checkpoint.params, checkpoint.obs_rms, env, env_params)
    return config.env_name, dict(config.env_overrides), policy
