"""Held-out windows of a replay market: train on some windows of the data, report on others.

A replay run trains on the windows ``[window_lo, window_hi)`` of its environment overrides and,
after training, runs the greedy policy once on each of `TrainConfig.heldout_windows` (and on each
training window), beside the TWAP baseline on the same windows, with the execution report of
`agents.replay.windows` (implementation shortfall against the arrival price and the window's market
VWAP, bps, positive = cost). The default for ``lobster_execution`` (`purejaxrl_train.presets`)
trains on the GOOG day's first nine 30-minute windows and holds out the last four::

    python -m purejaxrl_train --env lobster_execution --recurrent
    python -m purejaxrl_train --env lobster_execution --recurrent --train-windows 0:6 --test-windows 6:13
"""

from __future__ import annotations

from agents import make_agent
from agents.replay.windows import add_window_vwap, evaluate_windows, summary
from envs.replay.execution import ExecutionTask

COLUMNS = ("return", "shortfall_arrival_bps", "shortfall_window_vwap_bps", "liquidated")
BASELINE = "twap"


def parse_windows(text: str, flag: str) -> tuple[int, int]:
    """``"A:B"`` -> (A, B), the windows A..B-1; a one-line ValueError naming the flag otherwise."""
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        bounds = int(lo), int(hi)
    except ValueError:
        raise ValueError(
            f"{flag}: expected windows as START:STOP (e.g. 0:9), got {text!r}"
        ) from None
    if not 0 <= bounds[0] < bounds[1]:
        raise ValueError(f"{flag}: needs 0 <= START < STOP, got {text!r}")
    return bounds


def window_overrides(train: tuple[int, int]) -> dict[str, int]:
    """The environment overrides that make resets draw from the training windows."""
    return {"window_lo": train[0], "window_hi": train[1]}


def training_windows(params) -> list[int]:
    """The windows resets draw from under `params`."""
    count = int(params.data.num_windows)
    hi = int(params.window_hi) or count
    return list(range(int(params.window_lo), min(hi, count)))


def heldout_report(env, params, policy, heldout: tuple[int, ...]) -> dict:
    """Per-window results of `policy` and of the TWAP baseline on the training and held-out
    windows, their summaries, and the policy's shortfall minus TWAP's (bps, paired by window)."""
    if not isinstance(env.config.task, ExecutionTask):
        raise ValueError("heldout_windows: the held-out report is for execution markets")
    count = int(params.data.num_windows)
    bad = [w for w in heldout if not 0 <= w < count]
    if bad:
        raise ValueError(f"heldout_windows: {bad} not in 0..{count - 1}")
    side = int(params.task.side)
    baseline = make_agent(BASELINE, env, params)
    report = {}
    for split, windows in (("train", training_windows(params)), ("test", list(heldout))):
        ours = add_window_vwap(evaluate_windows(env, params, policy, windows), params, side)
        base = add_window_vwap(evaluate_windows(env, params, baseline, windows), params, side)
        paired = [
            {"d": a["shortfall_arrival_bps"] - b["shortfall_arrival_bps"]}
            for a, b in zip(ours, base, strict=True)
        ]
        report[split] = {
            "windows": windows,
            "policy": {"rows": ours, "summary": summary(ours, COLUMNS)},
            BASELINE: {"rows": base, "summary": summary(base, COLUMNS)},
            f"policy_minus_{BASELINE}_shortfall_arrival_bps": summary(paired)["d"],
        }
    return report


def format_report(report: dict) -> str:
    lines = []
    for split, entry in report.items():
        lines.append(f"{split} windows {entry['windows']}:")
        for name in ("policy", BASELINE):
            for col, s in entry[name]["summary"].items():
                lines.append(
                    f"  {name:>6} {col:>26}: mean {s['mean']:10.3f}  stderr {s['stderr']:8.3f}"
                )
        d = entry[f"policy_minus_{BASELINE}_shortfall_arrival_bps"]
        lines.append(
            f"  policy - {BASELINE} shortfall vs arrival: {d['mean']:.3f} bps "
            f"(stderr {d['stderr']:.3f})"
        )
    return "\n".join(lines)
