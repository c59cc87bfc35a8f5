"""Observation layout of the replay environments: what a trader could see, as one float32 vector.

Market part (`market_names`), in this order:

=====================  =====================================================================
``time``               elapsed share of the task's window, (now - start) / (deadline - start)
``time_of_day``        seconds after midnight / 86400
``drift``              other traders' mid minus the arrival mid, in ticks
``spread``             other traders' best ask minus best bid, in ticks
``imbalance_1``        (bid - ask) / (bid + ask) sizes at the best level of the book
``imbalance_k``        the same over the best k levels
``drift_lag{h}``       ``drift`` at the end of the step h steps back (h = 1..H)
``spread_lag{h}``      ``spread`` h steps back
``ask_offset_{i}``     level i's ask price minus the mid, in ticks (i = 1..k; the book as the
``ask_size_{i}``       agent sees it, its own orders included); empty levels read +-max_ticks
``bid_offset_{i}``     and size 0
``bid_size_{i}``
=====================  =====================================================================

followed by the task's part (`ReplayTask.obs_names`: `EXECUTION_FEATURES` or
`MARKET_MAKING_FEATURES`): ``inventory`` (signed shares: for execution what is left to trade, + to
sell and - to buy; for market making the position), then for execution ``remaining`` and
``resting`` (shares left to trade and shares resting, as shares of the task),
``executed_vs_arrival`` (average execution price minus the arrival mid, in ticks; 0 before any
fill) and ``side`` (1 buy, -1 sell); for market making ``episode_pnl`` (dollars), ``bid_resting``
and ``ask_resting`` (shares). Every entry is clipped to the bounds of `bounds`, so
``observation_space(params).contains(obs)`` always holds.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlob.views import twice_from_mid

MAX_TICKS = 1000.0  # bound of price offsets, drifts and spreads (ticks)
MAX_SIZE = 1e7  # bound of sizes (shares)
MAX_PNL = 1e9  # bound of the episode pnl (dollars)

# The tasks' parts (`ReplayTask.obs_names`).
EXECUTION_FEATURES = ("inventory", "remaining", "resting", "executed_vs_arrival", "side")
MARKET_MAKING_FEATURES = ("inventory", "episode_pnl", "bid_resting", "ask_resting")


def market_names(levels: int, history: int) -> tuple[str, ...]:
    names = ["time", "time_of_day", "drift", "spread", "imbalance_1", "imbalance_k"]
    for h in range(1, history + 1):
        names += [f"drift_lag{h}", f"spread_lag{h}"]
    for i in range(1, levels + 1):
        names += [f"ask_offset_{i}", f"ask_size_{i}", f"bid_offset_{i}", f"bid_size_{i}"]
    return tuple(names)


def _bound(name: str, inventory_bound: float) -> tuple[float, float]:
    if name == "time":
        return 0.0, 2.0
    if name == "time_of_day":
        return 0.0, 1.0
    if name.startswith(("imbalance",)) or name == "side":
        return -1.0, 1.0
    if name.startswith(("spread",)):
        return 0.0, MAX_TICKS
    if name.startswith(("drift", "ask_offset", "bid_offset")) or name == "executed_vs_arrival":
        return -MAX_TICKS, MAX_TICKS
    if name.startswith(("ask_size", "bid_size")) or name.endswith("_resting"):
        return 0.0, MAX_SIZE
    if name in ("remaining", "resting"):
        return 0.0, 1.0
    if name == "inventory":
        return -inventory_bound, inventory_bound
    if name == "episode_pnl":
        return -MAX_PNL, MAX_PNL
    raise KeyError(name)


def bounds(names: tuple[str, ...], inventory_bound) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(low, high) float32 arrays for the layout ``names``."""
    q = jnp.asarray(inventory_bound, jnp.float32)
    low, high = [], []
    for name in names:
        if name == "inventory":
            low.append(-q)
            high.append(q)
        else:
            lo, hi = _bound(name, 0.0)
            low.append(jnp.asarray(lo, jnp.float32))
            high.append(jnp.asarray(hi, jnp.float32))
    return jnp.stack(low), jnp.stack(high)


def level_features(top: jnp.ndarray, bid, ask, tick, levels: int) -> jnp.ndarray:
    """``top`` (LOBSTER layout, int32, ``4 levels`` values) as offsets from the mid of ``bid`` and
    ``ask`` in ticks and sizes, interleaved like the layout; empty levels at +-MAX_TICKS. Offsets
    come from price differences (``jaxlob.views.twice_from_mid``): exact at any price."""
    top = top.reshape(levels, 4)
    tick2 = 2.0 * jnp.asarray(tick, jnp.float32)

    def offset(price, size, sign):
        diff = twice_from_mid(price, bid, ask) / tick2
        return jnp.where(size > 0, jnp.clip(diff, -MAX_TICKS, MAX_TICKS), sign * MAX_TICKS)

    ask_offset = offset(top[:, 0], top[:, 1], 1.0)
    bid_offset = offset(top[:, 2], top[:, 3], -1.0)
    out = jnp.stack(
        [ask_offset, top[:, 1].astype(jnp.float32), bid_offset, top[:, 3].astype(jnp.float32)],
        axis=1,
    )
    return out.reshape(4 * levels)


def index(names: tuple[str, ...]) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}
