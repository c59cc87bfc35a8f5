"""Writing engine rows back as LOBSTER files (the reconstruct command's output, synthetic days)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from jaxlob import messages as m
from jaxlob.state import (
    DUMMY_ASK_PRICE,
    DUMMY_BID_PRICE,
    LOBSTER_DUMMY_ASK_PRICE,
    LOBSTER_DUMMY_BID_PRICE,
)


def to_lobster_orderbook(rows: np.ndarray) -> np.ndarray:
    """int32 engine rows back to LOBSTER's values (int64, dummies +-9999999999)."""
    out = np.asarray(rows, np.int64).copy()
    prices = out[:, 0::2]
    prices[prices >= DUMMY_ASK_PRICE] = LOBSTER_DUMMY_ASK_PRICE
    prices[prices <= DUMMY_BID_PRICE] = LOBSTER_DUMMY_BID_PRICE
    out[:, 0::2] = prices
    return out


def write_orderbook(path, rows: np.ndarray) -> None:
    """Write rows in LOBSTER orderbook layout (gzipped when ``path`` ends in .gz)."""
    text = pd.DataFrame(to_lobster_orderbook(rows)).to_csv(header=False, index=False)
    _write_text(path, text)


def format_times(time_s: np.ndarray, time_ns: np.ndarray) -> list[str]:
    """Exact decimal seconds with nine decimals, as LOBSTER writes them."""
    return [
        f"{s}.{ns:09d}" for s, ns in zip(np.asarray(time_s).tolist(), np.asarray(time_ns).tolist())
    ]


def write_messages(path, msgs: np.ndarray) -> None:
    """Write engine-layout messages as a LOBSTER message file (gzipped when ``path`` ends in .gz)."""
    msgs = np.asarray(msgs)
    frame = pd.DataFrame(
        {
            "time": format_times(msgs[:, m.TIME_S], msgs[:, m.TIME_NS]),
            "type": msgs[:, m.TYPE],
            "order_id": msgs[:, m.ORDER_ID],
            "size": msgs[:, m.SIZE],
            "price": msgs[:, m.PRICE],
            "direction": msgs[:, m.DIRECTION],
        }
    )
    _write_text(path, frame.to_csv(header=False, index=False))


def _write_text(path, text: str) -> None:
    path = Path(path)
    data = text.encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
