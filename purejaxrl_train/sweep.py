"""Sweeps: a grid of traced hyperparameters and environment parameters times seeds, in one program.

A configuration is one point of the product of the hyperparameter grid (`grid`) and the
environment-parameter grid (`env_grid`, values given to `envs.catalog.make_any` like `--set`).
Member m runs configuration m // num_seeds with seed `seed + m % num_seeds`: the key of a single run
with that seed, so `python -m purejaxrl_train --seed <that seed>` with the member's values re-runs
it alone. Every configuration sees the same seeds (common random numbers make the comparison
sharper). The final return of a member is the episode-weighted mean return over the last tenth of
its updates.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envs.catalog import make_any
from purejaxrl_train.config import HYPERPARAM_NAMES, HyperParams, TrainConfig


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Grid values per hyperparameter (in the given order) and the number of seeds."""

    grid: tuple[tuple[str, tuple[float, ...]], ...]
    num_seeds: int = 1
    seed: int = 0
    env_grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self):
        if self.num_seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.num_seeds}")
        for name, values in self.grid:
            if name not in HYPERPARAM_NAMES:
                raise ValueError(f"sweep: {name!r} is not a hyperparameter ({HYPERPARAM_NAMES})")
            if not values:
                raise ValueError(f"sweep: no values for {name}")
        for name, values in self.env_grid:
            if not values:
                raise ValueError(f"--set-grid {name}: no values")
        names = [n for n, _ in (*self.grid, *self.env_grid)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sweep: {repeated[0]} is swept twice")

    @property
    def configurations(self) -> list[dict[str, Any]]:
        """Every point of the grid, hyperparameters first then environment parameters."""
        axes = (*self.grid, *self.env_grid)
        names = [n for n, _ in axes]
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*[v for _, v in axes])
        ]

    @property
    def num_members(self) -> int:
        return len(self.configurations) * self.num_seeds

    def member(self, index: int) -> tuple[dict[str, float], dict[str, Any], int]:
        """(hyperparameter values, environment overrides, seed) of member `index`."""
        if not 0 <= index < self.num_members:
            raise ValueError(f"--member {index}: the sweep has members 0..{self.num_members - 1}")
        combo = self.configurations[index // self.num_seeds]
        hp_names = {n for n, _ in self.grid}
        hp = {k: v for k, v in combo.items() if k in hp_names}
        env = {k: v for k, v in combo.items() if k not in hp_names}
        return hp, env, self.seed + index % self.num_seeds


def member_config(config: TrainConfig, plan: SweepPlan, index: int) -> tuple[TrainConfig, int]:
    """(config, seed) of one member as a single run: its hyperparameters and environment
    overrides on top of `config`'s."""
    hp, env, seed = plan.member(index)
    overrides = {**dict(config.env_overrides), **env}
    changed = config.replace(
        hparams=config.hparams.replace(**hp), env_overrides=tuple(sorted(overrides.items()))
    )
    return changed, seed


def sweep_inputs(config: TrainConfig, plan: SweepPlan):
    """(keys, hparams, members) with a leading axis of length plan.num_members."""
    combos = plan.configurations
    seed_keys = [jax.random.key(plan.seed + s) for s in range(plan.num_seeds)]
    keys = jnp.stack(seed_keys * len(combos))
    columns = {}
    for name in HYPERPARAM_NAMES:
        default = float(getattr(config.hparams, name))
        per_combo = [c.get(name, default) for c in combos]
        columns[name] = jnp.repeat(jnp.asarray(per_combo, jnp.float32), plan.num_seeds)
    members = jnp.arange(plan.num_members, dtype=jnp.int32)
    return keys, HyperParams(**columns), members


def sweep_env_params(config: TrainConfig, plan: SweepPlan):
    """Environment params of every member, stacked on a leading axis (each made by `make_any`,
    which validates the values), or None when the sweep varies no environment parameter.

    A value that changes the environment's static structure (array shapes, dtypes) cannot share
    one program with the others: that is a ValueError naming the field."""
    if not plan.env_grid:
        return None
    names = [n for n, _ in plan.env_grid]
    _, base = make_any(config.env_name, config.env_overrides)
    per_config = []
    for combo in plan.configurations:
        overrides = {**dict(config.env_overrides), **{n: combo[n] for n in names}}
        _, params = make_any(config.env_name, overrides)
        same = jax.tree.structure(params) == jax.tree.structure(base) and all(
            np.shape(a) == np.shape(b) and jnp.result_type(a) == jnp.result_type(b)
            for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(base), strict=True)
        )
        if not same:
            swept = ", ".join(f"{n}={combo[n]!r}" for n in names)
            raise ValueError(
                f"--set-grid {swept}: changes the environment's array shapes, "
                "so it cannot share one program (sweep it in separate runs)"
            )
        per_config.append(params)
    members = [p for p in per_config for _ in range(plan.num_seeds)]
    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(x) for x in leaves]), *members)


def final_returns(metrics: dict, window_fraction: float = 0.1) -> np.ndarray:
    """Episode-weighted mean return over the last `window_fraction` of updates, per member."""
    returns = np.asarray(metrics["episode_return"], np.float64)
    counts = np.asarray(metrics["episodes"], np.float64)
    window = max(1, int(math.ceil(returns.shape[-1] * window_fraction)))
    r, c = returns[..., -window:], counts[..., -window:]
    total = np.where(c > 0, r * c, 0.0).sum(axis=-1)
    n = c.sum(axis=-1)
    return np.where(n > 0, total / np.maximum(n, 1.0), np.nan)


def summarize(plan: SweepPlan, finals: np.ndarray, greedy=None) -> list[dict]:
    """One row per configuration: its values, mean, std and standard error over seeds (and the
    mean over seeds of each member's greedy evaluation, when `greedy` gives one per member)."""
    rows = []
    shape = (len(plan.configurations), plan.num_seeds)
    per_config = np.asarray(finals).reshape(shape)
    greedy_means = None if greedy is None else np.asarray(greedy, np.float64).reshape(shape)
    for i, (combo, values) in enumerate(zip(plan.configurations, per_config, strict=True)):
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
        if greedy_means is not None:
            rows[-1]["greedy_return_mean"] = float(greedy_means[i].mean())
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
