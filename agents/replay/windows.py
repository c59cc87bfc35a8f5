"""Evaluating a policy on every window of a replay day, and the execution report.

`evaluate_windows` runs one episode per listed window (all windows vmapped in one compiled program,
``max_steps_in_episode`` steps each, no auto-reset) and returns per-window results: the return, and
for execution the executed quantity, average price, shortfalls against the arrival price and the
market VWAP of the episode's steps (bps), the deadline liquidation; for market making the pnl and
terminal inventory. `add_window_vwap` adds the shortfall against the whole window's market VWAP
(from the data), the benchmark to compare policies with, since episodes end at different times.
`summary` gives mean, standard deviation and standard error over windows.

Command line (the numbers of the report)::

    python -m envs.replay.evaluation [--env lobster_execution] [--agents twap vwap all_at_once]
                                     [--set field=value ...] [--json]

runs each baseline on every window of the default data and also through `agents.evaluate` (one
episode per fixed window) as a cross-check of the episode return.
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
    """One episode per window: final state, return and episode sums of the info fields."""
    steps = int(params.max_steps_in_episode)

    def one(window, episode_key):
        p = params.replace(window=window)
        reset_key, run_key = jax.random.split(episode_key)
        obs, state = env.reset_env(reset_key, p)

        def step(carry, t):
            obs, state, total, length = carry
            act_key, env_key = jax.random.split(jax.random.fold_in(run_key, t))
            live = ~state.done
            action = policy(act_key, obs)
            obs, state, reward, _, _ = env.step_env(env_key, state, action, p)
            return (obs, state, total + reward, length + live.astype(jnp.int32)), None

        start = (obs, state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        (obs, state, total, length), _ = jax.lax.scan(step, start, jnp.arange(steps))
        return state, total, length

    keys = jax.random.split(key, windows.shape[0])
    return jax.vmap(one)(windows, keys)


def evaluate_windows(env, params, policy, windows=None, key=None) -> list[dict]:
    """Per-window results of ``policy`` (one episode each; default: every window in use)."""
    count = int(np.asarray(params.data.num_windows))
    windows = np.arange(count) if windows is None else np.asarray(windows)
    key = jax.random.PRNGKey(0) if key is None else key
    state, total, length = _episodes(env, policy, params, jnp.asarray(windows, jnp.int32), key)
    rows = []
    for i, w in enumerate(windows.tolist()):
        s = jax.tree.map(lambda x, i=i: x[i], state)
        row = {"window": int(w), "return": float(total[i]), "steps": int(length[i])}
        if env.config.task.name == "execution":
            info = env._execution_summary(s, params)
            for name in ("executed", "unfilled"):
                row[name] = int(info[name])
            for name in (
                "average_price",
                "arrival_price",
                "market_vwap",
                "shortfall_arrival_bps",
                "shortfall_vwap_bps",
            ):
                row[name] = float(info[name])
            row["liquidated"] = int(s.liquidated)
        else:
            row["pnl"] = float(s.episode_pnl)
            row["terminal_inventory"] = float(s.inventory)
            row["traded"] = int(s.bought + s.sold)
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
        vwap = window_vwap(params.data, row["window"]) / 10_000.0
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
    """The episode return of each window through `agents.evaluate` (one episode, fixed window)."""
    from agents import evaluate

    count = int(np.asarray(params.data.num_windows))
    windows = range(count) if windows is None else windows
    out = []
    for w in windows:
        result = evaluate(env, params.replace(window=int(w)), policy, 1, jax.random.PRNGKey(0))
        out.append(result["return"]["mean"])
    return out


def _parse_set(items) -> dict:
    out = {}
    for item in items or ():
        if "=" not in item:
            raise SystemExit(f"--set: expected field=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None) -> int:
    from agents.replay.baselines import make_baseline
    from envs.replay.registry import make

    parser = argparse.ArgumentParser(prog="python -m envs.replay.evaluation", description=__doc__)
    parser.add_argument("--env", default="lobster_execution")
    parser.add_argument("--agents", nargs="+")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-cross-check", action="store_true")
    args = parser.parse_args(argv)
    env, params = make(args.env, **_parse_set(args.set))
    execution = env.config.task.name == "execution"
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
