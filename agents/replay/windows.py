"""Evaluating a policy on every window of a replay day, and the execution report.

`evaluate_windows` runs one episode per listed window (all windows vmapped in one compiled program
through `agents.rollout.rollout`, the one episode loop, so a recurrent policy carries its state as
everywhere else) and returns per-window results: the return, the number of steps, and the task's
episode summary (`env.episode_summary`): for execution the executed quantity, average price,
shortfalls against the arrival price and the market VWAP of the episode's steps (bps), the deadline
liquidation; for market making the pnl, terminal inventory and traded volume. `add_window_vwap`
adds the shortfall against the whole window's market VWAP (from the data), the benchmark to compare
policies with, since episodes end at different times. `summary` gives mean, standard deviation and
standard error over windows.

Command line (the numbers of the report)::

    python -m agents.replay.windows [--env lobster_execution] [--agents twap vwap all_at_once]
                                    [--set field=value ...] [--json]

runs each baseline on every window of the default data and also through `agents.evaluate_policy`
(one episode per fixed window) as a cross-check of the episode return.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np

from agents.evaluation import evaluate_policy
from agents.policy import as_policy
from agents.replay.baselines import make_baseline
from agents.rollout import rollout
from envs.overrides import parse_assignments
from envs.replay import make
from envs.replay.execution import ExecutionTask
from jaxlob import messages as m

EXECUTION_COLUMNS = (
    "return",
    "executed",
    "average_price",
    "arrival_price",
    "window_vwap",
    "shortfall_arrival_bps",
    "shortfall_window_vwap_bps",
    "shortfall_vwap_bps",
    "liquidated",
    "unfilled",
    "steps",
)
MARKET_MAKING_COLUMNS = ("return", "pnl", "terminal_inventory", "traded", "steps")


@functools.partial(jax.jit, static_argnames=("env",))
def _episodes(env, policy, params, windows, key):
    """One episode per window: returns, lengths and the task's episode summary."""

    def one(window, episode_key):
        p = params.replace(window=window)
        episodes = rollout(env, p, policy, episode_key, 1)
        state = jax.tree.map(lambda x: x[0], episodes.state)
        return episodes.returns[0], episodes.lengths[0], env.episode_summary(state, p)

    keys = jax.random.split(key, windows.shape[0])
    return jax.vmap(one)(windows, keys)


def _python(value):
    value = np.asarray(value)
    return int(value) if np.issubdtype(value.dtype, np.integer) else float(value)


def evaluate_windows(env, params, policy, windows=None, key=None) -> list[dict]:
    """Per-window results of ``policy`` (one episode each; default: every window in use)."""
    count = int(np.asarray(params.data.num_windows))
    windows = np.arange(count) if windows is None else np.asarray(windows)
    key = jax.random.PRNGKey(0) if key is None else key
    total, length, summaries = jax.device_get(
        _episodes(env, as_policy(policy), params, jnp.asarray(windows, jnp.int32), key)
    )
    rows = []
    for i, w in enumerate(windows.tolist()):
        row = {"window": int(w), "return": float(total[i]), "steps": int(length[i])}
        row.update({name: _python(values[i]) for name, values in summaries.items()})
        rows.append(row)
    return rows


def window_vwap(data, w: int) -> float:
    """VWAP (price units) of the data's own trades (visible and hidden executions) in window w:
    a benchmark that does not depend on what the policy did or how long its episode lasted."""
    msgs = np.asarray(data.messages[w]).reshape(-1, m.NUM_FIELDS)
    trade = np.isin(msgs[:, m.TYPE], (m.EXECUTE, m.HIDDEN))
    size = msgs[trade, m.SIZE].astype(np.float64)
    price = msgs[trade, m.PRICE].astype(np.float64)
    return float((size * price).sum() / size.sum()) if size.sum() > 0 else float("nan")


def add_window_vwap(rows: list[dict], params, side: int) -> list[dict]:
    """Execution rows with the window's market VWAP (dollars) and the shortfall against it (bps,
    positive = cost)."""
    for row in rows:
        vwap = window_vwap(params.data, row["window"]) / m.PRICE_UNIT
        row["window_vwap"] = vwap
        row["shortfall_window_vwap_bps"] = side * (row["average_price"] - vwap) / vwap * 1e4
    return rows


def summary(rows: list[dict], columns=None) -> dict:
    """Mean, standard deviation and standard error over the rows, per column."""
    columns = columns or [k for k in rows[0] if k != "window"]
    out = {}
    for name in columns:
        values = np.asarray([r[name] for r in rows], np.float64)
        n = values.size
        std = float(values.std(ddof=1)) if n > 1 else float("nan")
        out[name] = {
            "mean": float(values.mean()),
            "std": std,
            "stderr": std / math.sqrt(n) if n > 1 else float("nan"),
            "count": n,
        }
    return out


def agents_evaluate_per_window(env, params, policy, windows=None) -> list[float]:
    """The episode return of each window through `agents.evaluate_policy` (one episode, fixed
    window)."""
    count = int(np.asarray(params.data.num_windows))
    windows = range(count) if windows is None else windows
    out = []
    for w in windows:
        result = evaluate_policy(
            env, params.replace(window=int(w)), policy, 1, jax.random.PRNGKey(0)
        )
        out.append(result["return"]["mean"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.replay.windows", description=__doc__)
    parser.add_argument("--env", default="lobster_execution")
    parser.add_argument("--agents", nargs="+")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-cross-check", action="store_true")
    args = parser.parse_args(argv)
    try:
        env, params = make(args.env, **parse_assignments(args.set))
    except ValueError as err:
        parser.error(str(err))
    execution = isinstance(env.config.task, ExecutionTask)
    names = args.agents or (
        ["twap", "vwap", "all_at_once"] if execution else ["fixed_spread", "avellaneda_stoikov"]
    )
    columns = EXECUTION_COLUMNS if execution else MARKET_MAKING_COLUMNS
    report = {}
    for name in names:
        policy = make_baseline(name, env, params)
        rows = evaluate_windows(env, params, policy)
        if execution:
            rows = add_window_vwap(rows, params, int(params.task.side))
        entry = {"windows": rows, "summary": summary(rows, columns)}
        if not args.no_cross_check:
            entry["agents_evaluate_returns"] = agents_evaluate_per_window(env, params, policy)
        report[name] = entry
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, entry in report.items():
        print(
            f"\n{name} on {len(entry['windows'])} windows ({args.env}, resync={env.config.resync})"
        )
        for col, stats in entry["summary"].items():
            print(
                f"  {col:>22}: mean {stats['mean']:12.4f}  std {stats['std']:10.4f}  "
                f"stderr {stats['stderr']:9.4f}"
            )
        if "agents_evaluate_returns" in entry:
            ours = [r["return"] for r in entry["windows"]]
            gap = max(abs(a - b) for a, b in zip(ours, entry["agents_evaluate_returns"]))
            print(f"  agents.evaluate returns agree within {gap:.3g} (max over windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
