"""A CPU baseline users run: hftbacktest (Rust core, numba strategy) replaying the GOOG level-10 day
with an order resting at the touch, beside this engine's and the replay environment's throughput.

The day's LOBSTER messages become hftbacktest's market-by-price feed
(`benchmarks.hftbacktest_events`); hftbacktest replays it with zero latencies, its risk-averse
queue model and its no-partial-fill exchange. Two runs, each on a fresh backtester after a warm-up
run that compiles the numba functions on the first rows: the feed alone (the clock advanced a
minute at a time), and a strategy that every ``STEP_MS`` ms keeps one buy order at the best bid
and one sell order at the best ask (``ORDER_QTY`` shares; an order left behind by the touch is
cancelled and a new one posted). Throughput in LOBSTER messages and hftbacktest feed events per
second of wall time. This engine: the whole day through one book (one `lax.scan`); the replay
environment `lobster_execution` (100 data messages per step, random actions) in data messages per
second. Skipped with a message when hftbacktest is not installed (`pip install -e
'.[hftbacktest]'`).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.hftbacktest_events import TICK, lobster_feed
from benchmarks.lobster_pipeline import _files, _replay_fn
from benchmarks.timing import best_and_median
from jaxlob import lobster

STEP_MS = 100
ORDER_QTY = 100
WARM_ROWS = 2_000
MESSAGES_PER_ENV_STEP = 100


def available() -> str | None:
    """None when hftbacktest and numba import, else why not (a one-line message)."""
    try:
        import hftbacktest  # noqa: F401
        import numba  # noqa: F401
    except ImportError as error:
        return (
            f"skipped: {error.name} is not installed (the optional extra: "
            "pip install -e '.[hftbacktest]')"
        )
    return None


def backtester(events: np.ndarray):
    """A hftbacktest market-by-price backtester over ``events``: zero latency and fees, the
    risk-averse queue model, no partial fills, LOBSTER integer prices (tick ``TICK``), 1-share lots."""
    import hftbacktest as hb

    asset = (
        hb.BacktestAsset()
        .data(events)
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(float(TICK))
        .lot_size(1.0)
        .last_trades_capacity(0)
    )
    return hb.HashMapMarketDepthBacktest([asset])


def _strategies():
    """The numba functions (built on first use, so the module imports without numba)."""
    from hftbacktest import GTC, LIMIT
    from numba import njit

    @njit
    def replay_only(hbt, step_ns):
        steps = 0
        while hbt.elapse(step_ns) == 0:
            steps += 1
        return steps

    @njit
    def touch_quotes(hbt, step_ns, qty):
        next_id = 1
        bid_id = 0
        ask_id = 0
        requotes = 0
        while hbt.elapse(step_ns) == 0:
            hbt.clear_inactive_orders(0)
            depth = hbt.depth(0)
            bid = depth.best_bid_tick * depth.tick_size
            ask = depth.best_ask_tick * depth.tick_size
            orders = hbt.orders(0)
            if bid_id in orders and orders.get(bid_id).price != bid:
                hbt.cancel(0, bid_id, False)
            if ask_id in orders and orders.get(ask_id).price != ask:
                hbt.cancel(0, ask_id, False)
            if bid_id not in orders and depth.best_bid_tick > 0:
                bid_id = next_id
                next_id += 1
                hbt.submit_buy_order(0, bid_id, bid, qty, GTC, LIMIT, False)
                requotes += 1
            if ask_id not in orders and depth.best_ask_tick > 0:
                ask_id = next_id
                next_id += 1
                hbt.submit_sell_order(0, ask_id, ask, qty, GTC, LIMIT, False)
                requotes += 1
        return requotes

    return replay_only, touch_quotes


def _time_hftbacktest(feed, fn, *args) -> tuple[float, float, object]:
    """(construction s, run s, fn's result, the final state values) on a fresh backtester."""
    start = time.perf_counter()
    hbt = backtester(feed.events)
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = fn(hbt, *args)
    elapsed = time.perf_counter() - start
    values = hbt.state_values(0)
    trades = (int(values.num_trades), float(values.position))
    hbt.close()
    return built, elapsed, (result, trades)


def _row(name, messages, events, best, median, setup_s, extra="") -> dict:
    return {
        "implementation": name,
        "messages": messages,
        "events": events,
        "setup_s": round(setup_s, 3),
        "best_s": round(best, 4),
        "median_s": round(median, 4),
        "messages_per_s": round(messages / best),
        "events_per_s": round(events / best) if events else "",
        "notes": extra,
    }


def _hftbacktest_rows(day, repeats: int) -> list[dict]:
    start = time.perf_counter()
    feed = lobster_feed(day.messages, day.orderbook)
    convert_s = time.perf_counter() - start
    replay_only, touch_quotes = _strategies()
    warm = lobster_feed(day.messages[:WARM_ROWS], day.orderbook[:WARM_ROWS])
    step = STEP_MS * 1_000_000
    _time_hftbacktest(warm, replay_only, 60 * 1_000_000_000)  # numba compiles here
    _time_hftbacktest(warm, touch_quotes, step, float(ORDER_QTY))
    messages, events = day.num_rows - 1, len(feed.events)
    rows = []
    for label, fn, args in (
        ("hftbacktest 2.4.4, feed only", replay_only, (60 * 1_000_000_000,)),
        (
            f"hftbacktest 2.4.4, bid and ask at the touch, requoted every {STEP_MS} ms",
            touch_quotes,
            (step, float(ORDER_QTY)),
        ),
    ):
        runs = [_time_hftbacktest(feed, fn, *args) for _ in range(repeats)]
        times = sorted(r[1] for r in runs)
        result, (trades, position) = runs[0][2]
        extra = f"conversion {convert_s:.2f} s (NumPy, once)"
        if fn is touch_quotes:
            extra += f"; {result} orders posted, {trades} fills, final position {position:+.0f}"
        rows.append(
            _row(label, messages, events, times[0], times[len(times) // 2], runs[0][0], extra)
        )
    return rows


def _engine_row(day, repeats: int) -> dict:
    one = _replay_fn(day.num_levels)
    msgs, row0 = jnp.asarray(day.messages[1:]), jnp.asarray(day.orderbook[0])
    start = time.perf_counter()
    compiled = jax.jit(one).lower(row0, msgs).compile()
    compile_s = time.perf_counter() - start
    best, median = best_and_median(lambda: jax.block_until_ready(compiled(row0, msgs)), repeats)
    return _row(
        "jaxlob engine, whole day, one book (scan)",
        msgs.shape[0],
        0,
        best,
        median,
        compile_s,
        "setup = compile",
    )


def _env_rows(quick: bool, repeats: int) -> list[dict]:
    from benchmarks.replay_env import _env_rows as time_env
    from envs.replay.registry import make

    env, params = make("lobster_execution")
    sizes = ((1, 50), (1000, 3)) if quick else ((1, 200), (1000, 5))
    rows = []
    for r in time_env(env, params, sizes, repeats, "lobster_execution"):
        steps = r["num_envs"] * r["steps_per_env"]
        data_messages = steps * MESSAGES_PER_ENV_STEP
        rows.append(
            _row(
                f"replay env lobster_execution, {r['num_envs']} env(s), random actions",
                data_messages,
                0,
                r["best_s"],
                r["median_s"],
                r["compile_s"],
                f"{r['env_steps_per_s']} env-steps/s, {MESSAGES_PER_ENV_STEP} data messages each",
            )
        )
    return rows


def run(quick: bool = False) -> dict:
    description = __doc__.split("\n\n")[0].replace("\n", " ")
    missing = available()
    if missing:
        print(f"hftbacktest_baseline: {missing}", flush=True)
        return {
            "name": "hftbacktest_baseline",
            "description": description,
            "rows": [],
            "notes": missing,
        }
    msg, book = _files()
    day = lobster.load_day(msg, book)
    repeats = 2 if quick else 3
    rows = _hftbacktest_rows(day, repeats)
    rows.append(_engine_row(day, repeats))
    rows += _env_rows(quick, repeats)
    return {
        "name": "hftbacktest_baseline",
        "description": description,
        "rows": rows,
        "notes": f"GOOG 2012-06-21 level 10 ({Path(msg).name}); best and median of {repeats} runs "
        "(hftbacktest: each on a fresh backtester, after a numba warm-up; setup_s = building the "
        "backtester from the event array, or the JAX compile). hftbacktest is single-threaded; "
        "its feed events outnumber messages (trade prints plus the depth changes). The replay "
        "environment's messages are its data messages (the agent's own orders not counted).",
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
