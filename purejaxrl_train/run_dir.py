"""Writing a run directory: resolved config, per-update metrics, evaluation, learning curve.

Layout: config.json, metrics.csv, checkpoint.{json,msgpack} (the trained policy, see checkpoint.py),
state/<update>/ (full training-state checkpoints for resuming, see resume.py), evaluation.json,
learning_curve.png (only when matplotlib is installed: the optional `plot` extra).
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from purejaxrl_train.config import TrainConfig, config_to_dict

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
EVALUATION_FILE = "evaluation.json"
PLOT_FILE = "learning_curve.png"


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    """runs/<env>-<ppo|rppo>-<UTC timestamp>."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    kind = "rppo" if config.recurrent else "ppo"
    return Path(root) / f"{config.env_name}-{kind}-{stamp}"


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename, so that a
    reader (or a run stopped half-way) sees the old file or the new one, never a part of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: Path, data) -> None:
    atomic_write(path, json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value):
    if isinstance(value, np.generic | np.ndarray):
        return np.asarray(value).tolist()
    if hasattr(value, "__array__"):
        return np.asarray(value).tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_config(run_dir: Path, config: TrainConfig, extra: dict | None = None) -> None:
    data = config_to_dict(config)
    if extra:
        data.update(extra)
    write_json(Path(run_dir) / CONFIG_FILE, data)


def metrics_table(metrics: dict, steps_per_update: int) -> list[dict]:
    """One row per update: update, env_steps, then every metric (NaN where none)."""
    arrays = {k: np.asarray(v) for k, v in metrics.items()}
    num_updates = len(next(iter(arrays.values())))
    rows = []
    for u in range(num_updates):
        row = {"update": u + 1, "env_steps": (u + 1) * steps_per_update}
        for name, values in arrays.items():
            value = values[u].item()
            row[name] = value
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Rows of one table (the first row's keys are the columns)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(Path(path), text.getvalue())


def write_metrics(run_dir: Path, rows: list[dict]) -> Path:
    return write_csv(Path(run_dir) / METRICS_FILE, rows)


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_learning_curve(
    run_dir: Path, rows: list[dict], title: str, reference: float | None = None, label: str = ""
) -> Path | None:
    """Mean episode return against environment steps; None when matplotlib is missing."""
    if not plotting_available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["env_steps"] for r in rows if math.isfinite(r["episode_return"])]
    returns = [r["episode_return"] for r in rows if math.isfinite(r["episode_return"])]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, returns, lw=1.2, label="PPO (training episodes)")
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label=label or "reference")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode return")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(run_dir) / PLOT_FILE
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
