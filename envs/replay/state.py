"""The pytrees of a replay market: `EnvParams` (data and numbers, traced) and `EnvState` (one episode).

Both are plain data, so the tasks (`envs.replay.task`) can read them without importing the
environment.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import struct

from envs.replay.data import ReplayData
from envs.replay.impact import Displacement
from envs.replay.orders import Slots
from jaxlob.state import BookState


@struct.dataclass
class EnvParams:
    """Data and numbers of a replay market (traced; vmap over ``data``/``initial_books`` for days)."""

    data: ReplayData
    initial_books: BookState  # one book per window, leading axis = window
    task: Any  # the task's numbers: ExecutionParams or MarketMakingParams
    window: int = -1  # >= 0: always this window; -1: draw one at reset
    window_lo: int = 0  # windows drawn from [window_lo, window_hi)
    window_hi: int = 0  # 0: up to the number of windows
    tick_size: int = 100  # price units (jaxlob.messages.PRICE_UNIT to the dollar) per tick
    resync: bool = True  # re-synchronise (when the config compiled it in: ReplayConfig.resync)
    # latencies on the message clock, ns (when the config compiled them in: ReplayConfig.latency)
    order_latency_ns: int = 0  # decision to the book (`envs.replay.latency`)
    data_latency_ns: int = 0  # how old the book the agent sees is
    order_latency_jitter_ns: int = 0  # each batch's order latency gains a uniform 0..jitter ns
    max_steps_in_episode: int = struct.field(pytree_node=False, default=1)  # static: scan length


@struct.dataclass
class EnvState:
    """One episode: the book, the agent's orders and trade record, and the task's own state."""

    book: BookState
    slots: Slots
    rest: jax.Array  # (K,) int32, shares resting per slot after the last step
    window: jax.Array  # () int32
    time: jax.Array  # () int32, steps taken
    done: jax.Array  # () bool, the episode is over (terminal state reached)
    next_id: jax.Array  # () int32, agent order id counter
    last_bid: jax.Array  # () int32, other traders' best bid (last known when a side is empty)
    last_ask: jax.Array
    arrival_bid: jax.Array  # () int32, other traders' best bid and ask when the episode started
    arrival_ask: jax.Array
    history: jax.Array  # (H, 2) float32, [drift, spread] in ticks at the end of past steps
    bought: jax.Array  # () int32, agent shares bought this episode
    sold: jax.Array
    bought_notional: jax.Array  # () float32, price units times shares
    sold_notional: jax.Array
    market_volume: jax.Array  # () int32, other traders' trades this episode
    market_notional: jax.Array  # () float32
    inventory: jax.Array  # () float32, the task's inventory (`ReplayTask.inventory`)
    episode_pnl: jax.Array  # () float32, dollars
    liquidated: jax.Array  # () int32, shares the deadline market order traded
    resync_added: jax.Array  # () int32, episode totals of the re-synchronisation
    resync_removed: jax.Array
    impact: Displacement  # the agent's displacement of the visible levels (`envs.replay.impact`)
    task: Any  # the task's own state (`ReplayTask.init_state`)
    latency: Any = None  # `envs.replay.latency.LatencyState` when ReplayConfig.latency, else None
