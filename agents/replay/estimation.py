"""Numbers the baselines take from the data (host NumPy, float64): the intraday volume curve of a
window, mid-price volatility and the arrival rate of trades by depth (for Avellaneda-Stoikov).

All of them read `ReplayData` (one day, windows in use only): the step messages and the orderbook
rows after each step. Trades are LOBSTER executions of visible (type 4) and hidden (type 5) orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaxlob import messages as m

NANOS = m.NANOS_PER_SECOND


def _windows(data) -> int:
    count = np.asarray(data.num_windows)
    if count.ndim:
        raise ValueError("estimation needs the data of one day (not stacked days)")
    return int(count)


def _trades(data, w: int):
    """(time after the window start in seconds, price, size) of window w's trades."""
    msgs = np.asarray(data.messages[w]).reshape(-1, m.NUM_FIELDS)
    trade = np.isin(msgs[:, m.TYPE], (m.EXECUTE, m.HIDDEN))
    msgs = msgs[trade]
    start = int(np.asarray(data.start_s[w]))
    t = (msgs[:, m.TIME_S].astype(np.float64) - start) + msgs[:, m.TIME_NS] / NANOS
    return t, msgs[:, m.PRICE].astype(np.float64), msgs[:, m.SIZE].astype(np.float64)


def cumulative_volume_share(data, buckets: int = 30) -> np.ndarray:
    """Cumulative share of traded volume at the bucket edges of elapsed window time, averaged over
    the windows (shape ``(buckets + 1,)``, from 0 to 1). Each window's curve is normalised first, so
    busy and quiet windows weigh the same."""
    curves = []
    for w in range(_windows(data)):
        t, _, size = _trades(data, w)
        length = float(np.asarray(data.end_s[w]) - np.asarray(data.start_s[w]))
        if size.sum() <= 0:
            continue
        edges = np.linspace(0.0, 1.0, buckets + 1)
        share = np.histogram(np.clip(t / length, 0.0, 1.0), bins=edges, weights=size)[0]
        curves.append(np.concatenate([[0.0], np.cumsum(share) / share.sum()]))
    if not curves:
        return np.linspace(0.0, 1.0, buckets + 1)
    return np.mean(curves, axis=0)


def mean_step_fraction(data) -> float:
    """Average share of a window's time one step takes (1 / steps, averaged over windows)."""
    steps = np.asarray(data.num_steps)[: _windows(data)].astype(np.float64)
    return float(np.mean(1.0 / np.maximum(steps, 1.0)))


def _step_mids_and_times(data, w: int):
    rows = np.asarray(data.step_rows[w]).astype(np.float64)
    steps = int(np.asarray(data.num_steps[w]))
    initial = np.asarray(data.initial_row[w]).astype(np.float64)
    mids = np.concatenate(
        [[(initial[0] + initial[2]) / 2], (rows[:steps, 0] + rows[:steps, 2]) / 2]
    )
    msgs = np.asarray(data.messages[w])[:steps]
    real = msgs[:, :, m.TYPE] != m.NOOP
    last = np.maximum(real.sum(axis=1) - 1, 0)
    end = msgs[np.arange(steps), last]
    start = int(np.asarray(data.start_s[w]))
    times = (end[:, m.TIME_S] - start) + end[:, m.TIME_NS] / NANOS
    return mids, np.concatenate([[0.0], times])


@dataclass(frozen=True)
class MarketEstimates:
    """Avellaneda-Stoikov inputs in ticks and seconds."""

    sigma: float  # mid-price volatility, ticks per sqrt(second)
    intensity_a: float  # trades per second that reach depth 0 (A)
    intensity_k: float  # decay of the rate with depth, per tick (k)
    median_spread: float  # ticks


def estimate_market(data, tick_size: int) -> MarketEstimates:
    """sigma from the mids at step ends (realised variance per second); A and k from a log-linear
    fit of the rate of trades whose price lies at least delta ticks from the mid at the start of
    their step, lambda(delta) = A exp(-k delta), over delta = 0, 1, ... ticks (both sides pooled,
    rate per side)."""
    squared, seconds, depths, spreads = 0.0, 0.0, [], []
    for w in range(_windows(data)):
        mids, times = _step_mids_and_times(data, w)
        squared += float(np.sum(np.diff(mids / tick_size) ** 2))
        seconds += float(times[-1] - times[0])
        rows = np.asarray(data.step_rows[w])
        steps = int(np.asarray(data.num_steps[w]))
        spreads.append((rows[:steps, 0] - rows[:steps, 2]) / tick_size)
        msgs = np.asarray(data.messages[w])[:steps]
        for s in range(steps):
            step = msgs[s]
            trade = np.isin(step[:, m.TYPE], (m.EXECUTE, m.HIDDEN))
            depths.append(np.abs(step[trade, m.PRICE] - mids[s]) / tick_size)
    depth = np.concatenate(depths) if depths else np.zeros(0)
    seconds = max(seconds, 1e-9)
    sigma = float(np.sqrt(squared / seconds))
    grid = np.arange(0.0, max(float(np.percentile(depth, 99)) if depth.size else 1.0, 1.0) + 1)
    rate = np.array([(depth >= d).sum() for d in grid]) / seconds / 2.0
    use = rate > 0
    if use.sum() >= 2:
        slope, intercept = np.polyfit(grid[use], np.log(rate[use]), 1)
        k, a = max(-slope, 1e-3), float(np.exp(intercept))
    else:
        k, a = 1.0, float(rate[0]) if rate.size else 0.0
    spread = float(np.median(np.concatenate(spreads))) if spreads else 1.0
    return MarketEstimates(sigma=sigma, intensity_a=a, intensity_k=float(k), median_spread=spread)
