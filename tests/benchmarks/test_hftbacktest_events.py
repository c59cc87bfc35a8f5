"""The LOBSTER -> hftbacktest feed conversion, checked against LOBSTER's own orderbook file: the feed
replayed by an independent market-by-price book (here) and by hftbacktest itself (when installed)
shows, after every message, the visible book the file records."""

import functools
from pathlib import Path

import numpy as np
import pytest

from benchmarks.hftbacktest_events import (
    BUY_EVENT,
    DEPTH_EVENT,
    EVENT_DTYPE,
    TICK,
    TRADE_EVENT,
    lobster_feed,
)
from jaxlob import lobster
from jaxlob import messages as m

DATA = Path(__file__).resolve().parents[2] / "data"
STEM = "GOOG_2012-06-21_34200000_57600000"
ROWS = 20_000  # the first ~25 minutes of the day


@functools.cache
def day():
    full = lobster.load_day(
        DATA / f"{STEM}_message_10.csv.gz", DATA / f"{STEM}_orderbook_10.csv.gz"
    )
    return full.head(ROWS)


@functools.cache
def feed():
    d = day()
    return lobster_feed(d.messages, d.orderbook)


def _times(d) -> np.ndarray:
    return d.messages[:, m.TIME_S].astype(np.int64) * m.NANOS_PER_SECOND + d.messages[:, m.TIME_NS]


def test_feed_replayed_by_a_price_level_book_shows_the_files_book_after_every_message():
    d, f = day(), feed()
    events = f.events
    assert f.events_through[-1] == len(events)
    assert np.all(np.diff(events["exch_ts"]) >= 0)  # hftbacktest needs time order
    books = ({}, {})  # ask, bid: price -> total quantity
    done = 0
    for k in range(d.num_rows):
        for e in events[done : f.events_through[k]]:
            if e["ev"] & 0xFF == DEPTH_EVENT:
                side = books[1 if e["ev"] & BUY_EVENT else 0]
                if e["qty"] > 0:
                    side[int(e["px"])] = int(e["qty"])
                else:
                    side.pop(int(e["px"]), None)
        done = f.events_through[k]
        row = d.orderbook[k]
        for side, book in enumerate(books):
            depth = int((row[2 * side + 1 :: 4] > 0).sum())
            shown = sorted(book.items(), reverse=side == 1)[:depth]
            expected = list(zip(row[2 * side :: 4][:depth], row[2 * side + 1 :: 4][:depth]))
            assert shown == [(int(p), int(q)) for p, q in expected], (k, side)


def test_every_execution_is_one_trade_event_with_the_initiators_side():
    d, f = day(), feed()
    trades = f.events[f.events["ev"] & 0xFF == TRADE_EVENT]
    executions = d.messages[1:][np.isin(d.messages[1:, m.TYPE], (m.EXECUTE, m.HIDDEN))]
    assert len(trades) == len(executions) > 100
    np.testing.assert_array_equal(trades["px"], executions[:, m.PRICE])
    np.testing.assert_array_equal(trades["qty"], executions[:, m.SIZE])
    buyer_initiated = (trades["ev"] & BUY_EVENT) > 0
    np.testing.assert_array_equal(buyer_initiated, executions[:, m.DIRECTION] == -1)


def test_mismatched_files_are_refused():
    d = day()
    with pytest.raises(ValueError, match="equal length"):
        lobster_feed(d.messages[:10], d.orderbook[:9])


def test_hftbacktest_replays_the_feed_to_the_files_best_bid_and_ask():
    hb = pytest.importorskip("hftbacktest", reason="hftbacktest (optional extra) not installed")
    numba = pytest.importorskip("numba")
    from benchmarks.hftbacktest_baseline import backtester

    assert hb.event_dtype == EVENT_DTYPE

    @numba.njit
    def probe(hbt, step, out):
        i = 0
        while i < out.shape[0] and hbt.elapse(step) == 0:
            depth = hbt.depth(0)
            out[i, 0] = hbt.current_timestamp
            out[i, 1] = depth.best_bid_tick
            out[i, 2] = depth.best_ask_tick
            out[i, 3] = depth.bid_qty_at_tick(depth.best_bid_tick)
            out[i, 4] = depth.ask_qty_at_tick(depth.best_ask_tick)
            i += 1
        return i

    d = day()
    hbt = backtester(feed().events)
    out = np.zeros((4_000, 5), np.int64)
    n = probe(hbt, 250_000_000, out)  # every 0.25 s of the exchange clock
    hbt.close()
    out = out[:n]
    assert n > 1_000
    times = _times(d)
    assert out[-1, 0] <= times[-1]
    book = d.orderbook[np.searchsorted(times, out[:, 0], side="right") - 1]  # row before the probe
    np.testing.assert_array_equal(out[:, 1], book[:, 2] // TICK)  # best bid
    np.testing.assert_array_equal(out[:, 2], book[:, 0] // TICK)  # best ask
    np.testing.assert_array_equal(out[:, 3], book[:, 3])
    np.testing.assert_array_equal(out[:, 4], book[:, 1])


def test_benchmark_without_hftbacktest_is_skipped_with_a_message(monkeypatch, capsys):
    import sys

    from benchmarks import hftbacktest_baseline

    monkeypatch.setitem(sys.modules, "hftbacktest", None)  # import now fails, as when absent
    result = hftbacktest_baseline.run(quick=True)
    assert result["rows"] == []
    assert "hftbacktest is not installed" in result["notes"]
    assert "pip install" in capsys.readouterr().out
