"""LOBSTER messages as hftbacktest's market-by-price feed (its normalised event array).

hftbacktest (2.4) reads a structured NumPy array of events (`EVENT_DTYPE`, its ``event_dtype``):
a flag word ``ev`` (exchange and local event bits, the event kind, a side bit), exchange and local
timestamps (ns), a price and a quantity. A depth event sets the *total* quantity resting at one
price on one side (0 removes the level); a trade event reports a trade with the initiator's side.

The LOBSTER orderbook file is the visible book (``L`` levels) after each message, so the feed is the
difference of consecutive rows: every visible level whose quantity changed, every level removed
from the view's price range (quantity 0). A level pushed beyond the ``L``-th by a better one is
kept at its last quantity, and messages at its price (out of view) adjust it until it is seen
again, or removed once the view's range covers its price without it (the file is the authority);
levels never seen are absent, as they are from the file. Executions (LOBSTER types 4 and 5,
visible and hidden) become trade events before the depth change they cause; the initiator is the
side opposite the resting order. The initial book (row 0) comes first as depth events at the first
message's time; events then follow messages 1, 2, ..., with feed and order latency 0 (local time =
exchange time). Prices stay LOBSTER integers (1/10,000 dollar), so hftbacktest's tick size is
``TICK`` = 100 (one cent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaxlob import messages as m

# hftbacktest's flags (hftbacktest/types.py) and its event layout, as documented there.
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
DEPTH_EVENT = 1
TRADE_EVENT = 2
EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
TICK = 100  # LOBSTER price units per cent, GOOG's tick in 2012
_BOTH = EXCH_EVENT | LOCAL_EVENT
_EXECUTIONS = (m.EXECUTE, m.HIDDEN)


@dataclass(frozen=True)
class Feed:
    """The events, and for each message row ``k`` the number of events up to and including it."""

    events: np.ndarray  # (num_events,) EVENT_DTYPE
    events_through: np.ndarray  # (num_rows,) int64; row 0: the initial book's events


def _visible(row: np.ndarray, side: int) -> dict[int, int]:
    """{price: size} of one side's non-empty levels (side 0 ask, 1 bid) in an engine-layout row."""
    prices, sizes = row[2 * side :: 4], row[2 * side + 1 :: 4]
    return {int(p): int(q) for p, q in zip(prices, sizes, strict=True) if q > 0}


def lobster_feed(messages: np.ndarray, orderbook: np.ndarray) -> Feed:
    """The hftbacktest feed of a LOBSTER day in engine layout (`jaxlob.lobster.load_day`)."""
    if len(messages) != len(orderbook) or len(messages) == 0:
        raise ValueError(
            f"messages ({len(messages)} rows) and orderbook ({len(orderbook)} rows) must be "
            "non-empty and of equal length"
        )
    levels = orderbook.shape[1] // 4
    times = messages[:, m.TIME_S].astype(np.int64) * m.NANOS_PER_SECOND + messages[:, m.TIME_NS]
    out: list[tuple[int, int, int, int]] = []  # (ev, ts, price, qty)
    through = np.zeros(len(messages), np.int64)
    previous = (_visible(orderbook[0], 0), _visible(orderbook[0], 1))
    for side, flag in ((0, SELL_EVENT), (1, BUY_EVENT)):
        for price, qty in previous[side].items():
            out.append((_BOTH | DEPTH_EVENT | flag, int(times[0]), price, qty))
    through[0] = len(out)
    stale: tuple[dict[int, int], dict[int, int]] = ({}, {})  # out of view, still in the feed
    for k in range(1, len(messages)):
        msg, ts = messages[k], int(times[k])
        kind, direction = int(msg[m.TYPE]), int(msg[m.DIRECTION])
        price, size = int(msg[m.PRICE]), int(msg[m.SIZE])
        if kind in _EXECUTIONS:
            initiator = SELL_EVENT if direction == 1 else BUY_EVENT
            out.append((_BOTH | TRADE_EVENT | initiator, ts, price, size))
        current = (_visible(orderbook[k], 0), _visible(orderbook[k], 1))
        for side, flag in ((0, SELL_EVENT), (1, BUY_EVENT)):
            before, now, hidden = previous[side], current[side], stale[side]
            depth = _BOTH | DEPTH_EVENT | flag
            for p, q in now.items():
                hidden.pop(p, None)
                if before.get(p) != q:
                    out.append((depth, ts, p, q))
            # A vanished level is removed unless the view is full and it lies beyond its last level.
            worst = (max(now) if side == 0 else min(now)) if len(now) == levels else None
            for p in before.keys() - now.keys():
                pushed_out = worst is not None and (p > worst if side == 0 else p < worst)
                if pushed_out:
                    hidden[p] = before[p]
                else:
                    out.append((depth, ts, p, 0))
            # The file shows no level there: a stale level inside the view's range is gone.
            for p in [
                p for p in hidden if worst is None or (p < worst if side == 0 else p > worst)
            ]:
                del hidden[p]
                out.append((depth, ts, p, 0))
            book_side = 1 if direction == 1 else 0
            if side == book_side and price in hidden and kind in (1, 2, 3, 4):
                left = hidden[price] + (size if kind == 1 else -size)
                if left > 0:
                    hidden[price] = left
                else:
                    del hidden[price]
                out.append((depth, ts, price, max(left, 0)))
        previous = current
        through[k] = len(out)
    events = np.zeros(len(out), EVENT_DTYPE)
    if out:
        columns = np.asarray(out, np.int64)
        events["ev"] = columns[:, 0].astype(np.uint64)
        events["exch_ts"] = columns[:, 1]
        events["local_ts"] = columns[:, 1]
        events["px"] = columns[:, 2]
        events["qty"] = columns[:, 3]
    return Feed(events=events, events_through=through)
