"""A replay step's info: the typed `envs.metrics.StepMetrics` record and the replay market's extras.

``info`` of every step (fixed keys and shapes; everything but the task's running report is zero once
the episode is over):

- ``info[envs.metrics.METRICS]``: `step_record` (money in dollars; ``fills`` are the agent's limit
  orders' trades, ``market_orders`` the deadline market order's, so their sum is all it traded);
- `market_info`: ``agent_volume``, ``other_volume``, ``total_volume`` (shares), ``step_vwap`` (the
  other traders' VWAP in dollars, the arrival price when they traded none), ``resync_added``,
  ``resync_removed``, ``resync_dropped`` (what the re-synchronisation did), ``evicted_orders``
  (orders pushed out of a full side, the agent's among them) and ``unmatched_messages`` (data
  messages naming an order the book does not have);
- `fill_info`: ``queue_fills`` (shares of the agent's orders that data executions filled ahead of
  the order they named, `envs.replay.queue`), ``self_trade_cancels`` (agent orders cancelled or not
  sent by self-trade prevention, `envs.replay.orders`), ``data_id_refused`` (data messages naming an
  id in the agent's range, refused), ``impact_displaced`` (shares the agent has taken from the
  visible levels and the re-synchronisation does not restore, `envs.replay.impact`) and
  ``impact_overflow`` (displacements dropped for want of a tracking entry);
- with latency compiled in (`envs.replay.latency`): ``latency_deferred`` (a decision not sent
  because a batch was in flight), ``latency_dropped`` (batches dropped at a halt or the episode's
  end), ``latency_stale`` (a view older than the data latency asks), ``latency_in_flight`` (a
  batch travels over the step's end) and ``latency_order_ns`` (the latency of the batch the step
  sent, 0 when none);
- the task's terms of the reward (`TaskStep.reward_parts`) and its running report
  (`ReplayTask.info`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.metrics import StepMetrics, step_metrics
from envs.replay.market import StepTrades
from envs.replay.orders import best_resting_prices, resting_by_side
from envs.replay.state import EnvState
from envs.replay.task import TaskStep
from jaxlob import messages as m
from jaxlob.resync import ResyncStats
from jaxlob.state import BookState

_F32 = jnp.float32


def when_live(live, x):
    """``x`` while the episode runs, zero once it is over."""
    return jnp.where(live, x, jnp.zeros_like(x))


def step_record(
    state: EnvState, step: TaskStep, trades: StepTrades, market_orders, invalid, live, pnl
) -> StepMetrics:
    """The step's metrics; ``state`` is the state after the step, ``market_orders`` the deadline
    order's [bought, sold], ``invalid`` the number of NaN action components."""
    bid_rest, ask_rest = resting_by_side(state.slots, state.rest)
    quoted = jnp.stack([bid_rest > 0, ask_rest > 0]) & live
    prices = best_resting_prices(state.slots, state.rest)
    traded = jnp.stack([trades.agent_bought, trades.agent_sold]).astype(_F32)
    market_orders = when_live(live, jnp.asarray(market_orders, _F32))
    return step_metrics(
        pnl,
        when_live(live, traded) - market_orders,
        state.inventory,
        inventory_penalty=when_live(live, step.inventory_penalty),
        terminal_penalty=when_live(live, step.terminal_penalty),
        market_orders=market_orders,
        quoted=quoted,
        spread=jnp.where(quoted[0] & quoted[1], (prices[1] - prices[0]) / m.PRICE_UNIT, 0.0),
        invalid_action=when_live(live, (invalid > 0).astype(_F32)),
    )


def market_info(
    trades: StepTrades,
    vwap,
    stats: ResyncStats,
    book_before: BookState,
    book_after: BookState,
    live,
) -> dict[str, jax.Array]:
    """The replay market's own entries (see the module docstring)."""
    c0, c1 = book_before.counters, book_after.counters
    unmatched = c1.unmatched_cancels + c1.unmatched_executions
    unmatched = unmatched - c0.unmatched_cancels - c0.unmatched_executions
    entries = {
        "agent_volume": trades.agent_bought + trades.agent_sold,
        "other_volume": trades.other_volume,
        "total_volume": trades.total_volume,
        "step_vwap": vwap / m.PRICE_UNIT,
        "resync_added": stats.added,
        "resync_removed": stats.removed,
        "resync_dropped": stats.dropped_orders,
        "evicted_orders": c1.evicted_orders - c0.evicted_orders,
        "unmatched_messages": unmatched,
    }
    return {name: when_live(live, value) for name, value in entries.items()}


def fill_info(
    queued, prevented, refused, impact_after, impact_before, live
) -> dict[str, jax.Array]:
    """The replay market's entries on queue-true fills, self-trade prevention, refused data ids
    and the agent's displacement of the book (see the module docstring)."""
    entries = {
        "queue_fills": queued,
        "self_trade_cancels": prevented,
        "data_id_refused": refused,
        "impact_displaced": jnp.sum(jnp.maximum(impact_after.amount, 0), dtype=jnp.int32),
        "impact_overflow": impact_after.overflow - impact_before.overflow,
    }
    return {name: when_live(live, value) for name, value in entries.items()}
