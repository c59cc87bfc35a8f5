"""Hyperparameter sweeps: the grid of traced hyperparameters times seeds, vmapped in one program.

Member m runs configuration m // num_seeds with seed m % num_seeds; every configuration sees the
same seeds (common random numbers make the comparison sharper). The final return of a member is the
episode-weighted mean return over the last tenth of its updates.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from purejaxrl_train.config import HYPERPARAM_NAMES, HyperParams, TrainConfig


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Grid values per hyperparameter (in the given order) and the number of seeds."""

    grid: tuple[tuple[str, tuple[float, ...]], ...]
    num_seeds: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.num_seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.num_seeds}")
        for name, values in self.grid:
            if name not in HYPERPARAM_NAMES:
                raise ValueError(f"sweep: {name!r} is not a hyperparameter ({HYPERPARAM_NAMES})")
            if not values:
                raise ValueError(f"sweep: no values for {name}")

    @property
    def configurations(self) -> list[dict[str, float]]:
        names = [n for n, _ in self.grid]
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*[v for _, v in self.grid])
        ]

    @property
    def num_members(self) -> int:
        return len(self.configurations) * self.num_seeds


def sweep_inputs(config: TrainConfig, plan: SweepPlan):
    """(keys, hparams, members) with a leading axis of length plan.num_members."""
    combos = plan.configurations
    seed_keys = jax.random.split(jax.random.key(plan.seed), plan.num_seeds)
    keys = jnp.concatenate([seed_keys] * len(combos))
    columns = {}
    for name in HYPERPARAM_NAMES:
        default = float(getattr(config.hparams, name))
        per_combo = [c.get(name, default) for c in combos]
        columns[name] = jnp.repeat(jnp.asarray(per_combo, jnp.float32), plan.num_seeds)
    members = jnp.arange(plan.num_members, dtype=jnp.int32)
    return keys, HyperParams(**columns), members


def final_returns(metrics: dict, window_fraction: float = 0.1) -> np.ndarray:
    """Episode-weighted mean return over the last `window_fraction` of updates, per member."""
    returns = np.asarray(metrics["episode_return"], np.float64)
    counts = np.asarray(metrics["episodes"], np.float64)
    window = max(1, int(math.ceil(returns.shape[-1] * window_fraction)))
    r, c = returns[..., -window:], counts[..., -window:]
    total = np.where(c > 0, r * c, 0.0).sum(axis=-1)
    n = c.sum(axis=-1)
    return np.where(n > 0, total / np.maximum(n, 1.0), np.nan)


def summarize(plan: SweepPlan, finals: np.ndarray) -> list[dict]:
    """One row per configuration: its values, mean, std and standard error over seeds."""
    rows = []
    per_config = np.asarray(finals).reshape(len(plan.configurations), plan.num_seeds)
    for combo, values in zip(plan.configurations, per_config, strict=True):
        valid = values[np.isfinite(values)]
        n = valid.size
        std = float(valid.std(ddof=1)) if n > 1 else float("nan")
        rows.append(
            {
                **combo,
                "final_return_mean": float(valid.mean()) if n else float("nan"),
                "final_return_std": std,
                "final_return_stderr": std / math.sqrt(n) if n > 1 else float("nan"),
                "seeds": n,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """Rows sorted by mean final return, best first, as aligned text."""
    ordered = sorted(rows, key=lambda r: -np.nan_to_num(r["final_return_mean"], nan=-np.inf))
    names = list(ordered[0])
    cells = [[_cell(r[n]) for n in names] for r in ordered]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
