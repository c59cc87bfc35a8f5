"""Reading and validating LOBSTER message and orderbook files into the engine's int32 rows.

The text is checked first (``jaxlob.lobster.text``: rows, commas, the characters of each field).
Messages become rows in the engine's layout (``jaxlob.messages``, trader id 0, time split into whole
seconds and nanoseconds parsed from the decimal text, never through a float; a time with more than
9 decimals is rounded to the nanosecond and counted); orderbook rows become int32 with LOBSTER's
dummy prices replaced by the engine's ``DUMMY_ASK_PRICE`` / ``DUMMY_BID_PRICE``. Any defect raises
``LobsterFormatError`` naming the file, the row (1-based line number) and, where there is one, the
column.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jaxlob import messages as m
from jaxlob.lobster.errors import LobsterFormatError
from jaxlob.lobster.names import try_parse_name
from jaxlob.lobster.text import check_characters, check_column_counts, read_bytes, split_rows
from jaxlob.state import (
    DUMMY_ASK_PRICE,
    DUMMY_BID_PRICE,
    LOBSTER_DUMMY_ASK_PRICE,
    LOBSTER_DUMMY_BID_PRICE,
    SNAPSHOT_ID_BASE,
)

MESSAGE_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")
NUM_MESSAGE_COLUMNS = len(MESSAGE_COLUMNS)
LOBSTER_TYPES = range(1, 8)  # event types a LOBSTER message file may hold
INT32_MAX = 2**31 - 1
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _parse_integer_table(path, data: bytes, names: list[str], str_columns=()) -> pd.DataFrame:
    """Parse a table whose column counts are already checked. Integer columns are int64; the columns
    in ``str_columns`` stay text. A field that is not an integer raises with its row and column."""
    dtypes = {i: (str if i in str_columns else np.int64) for i in range(len(names))}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.read_csv(
                io.BytesIO(data),
                header=None,
                dtype=dtypes,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
            )
    except (ValueError, OverflowError, pd.errors.ParserError):
        pass
    # Slow path, only to say where the problem is.
    text = pd.read_csv(
        io.BytesIO(data), header=None, dtype=str, na_filter=False, skip_blank_lines=False
    )
    for i, name in enumerate(names):
        if i in str_columns:
            continue
        column = text[i]
        ok = column.str.fullmatch(_INTEGER.pattern)
        bad = np.flatnonzero(~ok.to_numpy(dtype=bool))
        if bad.size:
            row = int(bad[0])
            raise LobsterFormatError(
                path, f"{column.iloc[row]!r} is not an integer", row=row + 1, column=name
            )
        too_big = column.map(lambda s: abs(int(s)) >= 2**63).to_numpy(dtype=bool)
        if too_big.any():
            row = int(np.flatnonzero(too_big)[0])
            raise LobsterFormatError(
                path, f"{column.iloc[row]} is out of range", row=row + 1, column=name
            )
    raise LobsterFormatError(path, "cannot parse the file as integer CSV")


def _parse_times(path, text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimal seconds (text) as exact (whole seconds, nanoseconds) int64 arrays, and the rows whose
    time had more than 9 decimals: those are rounded to the nearest nanosecond (a half up)."""
    text = np.strings.strip(np.asarray(text, dtype=str))
    whole, _, fraction = np.strings.partition(text, ".")
    digits = np.strings.str_len(fraction)
    fraction_ok = (digits == 0) | np.strings.isdecimal(fraction)
    ok = np.strings.isdecimal(whole) & fraction_ok & (np.strings.str_len(whole) <= 9)
    bad = np.flatnonzero(~ok)
    if bad.size:
        row = int(bad[0])
        raise LobsterFormatError(
            path,
            f"{str(text[row])!r} is not a decimal time in seconds (digits[.digits])",
            row=row + 1,
            column="time",
        )
    long = np.flatnonzero(digits > 9)
    fraction = fraction.copy()
    fraction[long] = ""  # parsed below, one by one (real files have a handful of such rows)
    seconds = whole.astype(np.int64)
    nanos = np.strings.ljust(fraction, 9, "0").astype(np.int64)
    for row in long.tolist():
        decimals = str(text[row]).partition(".")[2]
        ns = int(decimals[:9]) + (decimals[9] >= "5")
        seconds[row] += ns // m.NANOS_PER_SECOND
        nanos[row] = ns % m.NANOS_PER_SECOND
    return seconds, nanos, long


def _fail_at(path, mask: np.ndarray, problem, column: str | None = None, offset: int = 0):
    """Raise for the first row where ``mask`` is set; ``problem(i)`` says what is wrong there."""
    bad = np.flatnonzero(mask)
    if bad.size:
        i = int(bad[0])
        raise LobsterFormatError(path, problem(i), row=i + 1 + offset, column=column)


@dataclass(frozen=True)
class MessageFile:
    """A parsed message file: engine rows and what the parser had to round."""

    rows: np.ndarray  # (num_rows, NUM_FIELDS) int32, engine layout
    rounded_rows: np.ndarray  # 0-based rows whose time had more than 9 decimals (rounded to 1 ns)


def read_messages(path) -> np.ndarray:
    """A LOBSTER message file as int32 rows in the engine's layout ``(num_rows, NUM_FIELDS)``."""
    return parse_messages(path).rows


def parse_messages(path) -> MessageFile:
    """Read and check a LOBSTER message file: ``read_messages``'s rows plus the rows it rounded.

    Checks: 6 columns, integers (time: decimal seconds, more than 9 decimals rounded to the
    nanosecond), event type 1..7, direction +-1 (a halt, type 7, may also carry 0), positive size
    for types 1..6, positive price below the engine's empty-ask marker for types 1..6 and a halt
    code -1/0/1 for type 7, values that fit int32, order ids above the engine's snapshot id range,
    and times that never go backwards.
    """
    data, lines = split_rows(path, read_bytes(path))
    check_column_counts(path, lines, NUM_MESSAGE_COLUMNS)
    check_characters(path, data, lines, list(MESSAGE_COLUMNS), decimal_column=0)
    table = _parse_integer_table(path, data, list(MESSAGE_COLUMNS), str_columns=(0,))
    seconds, nanos, rounded = _parse_times(path, table[0].to_numpy(dtype=str))
    typ, oid, size, price, direction = (table[i].to_numpy(np.int64) for i in range(1, 6))

    _fail_at(path, (typ < 1) | (typ > 7), lambda i: f"unknown event type {typ[i]}", "type")
    halt = typ == m.HALT
    _fail_at(
        path,
        ~np.isin(direction, (m.BUY, m.SELL)) & ~(halt & (direction == 0)),
        lambda i: f"direction {direction[i]} is not 1 (buy) or -1 (sell)",
        "direction",
    )
    _fail_at(
        path,
        ~halt & (size <= 0),
        lambda i: f"size {size[i]} must be positive for event type {typ[i]}",
        "size",
    )
    _fail_at(path, halt & (size < 0), lambda i: f"size {size[i]} is negative", "size")
    _fail_at(
        path,
        ~halt & (price <= 0),
        lambda i: f"price {price[i]} must be positive for event type {typ[i]}",
        "price",
    )
    _fail_at(
        path,
        halt & ~np.isin(price, (-1, 0, 1)),
        lambda i: f"halt code {price[i]} (in the price column) is not -1, 0 or 1",
        "price",
    )
    for name, values in (("size", size), ("price", price), ("time", seconds)):
        _fail_at(path, values > INT32_MAX, lambda i, v=values: f"{v[i]} does not fit int32", name)
    _fail_at(
        path,
        ~halt & (price >= DUMMY_ASK_PRICE),
        lambda i: f"price {price[i]} is the engine's empty-ask marker; prices must be below it",
        "price",
    )
    _fail_at(
        path,
        (oid > INT32_MAX) | (oid <= SNAPSHOT_ID_BASE),
        lambda i: f"order id {oid[i]} is outside {SNAPSHOT_ID_BASE + 1}..{INT32_MAX}",
        "order_id",
    )
    total_ns = seconds * m.NANOS_PER_SECOND + nanos
    _fail_at(
        path,
        np.diff(total_ns) < 0,
        lambda i: (
            f"time {seconds[i + 1]}.{nanos[i + 1]:09d} is before the previous row's "
            f"{seconds[i]}.{nanos[i]:09d}"
        ),
        "time",
        offset=1,
    )
    out = np.zeros((len(typ), m.NUM_FIELDS), np.int32)
    out[:, m.TYPE] = typ
    out[:, m.DIRECTION] = direction
    out[:, m.SIZE] = size
    out[:, m.PRICE] = price
    out[:, m.ORDER_ID] = oid
    out[:, m.TIME_S] = seconds
    out[:, m.TIME_NS] = nanos
    return MessageFile(out, rounded)


def _level_columns(num_levels: int) -> list[str]:
    names = []
    for level in range(1, num_levels + 1):
        names += [
            f"ask_price_{level}",
            f"ask_size_{level}",
            f"bid_price_{level}",
            f"bid_size_{level}",
        ]
    return names


def read_orderbook(path, num_levels: int | None = None) -> np.ndarray:
    """A LOBSTER orderbook file as int32 rows ``(num_rows, 4 * num_levels)``, dummy prices mapped.

    ``num_levels`` defaults to the file name's level, else to the column count / 4. Checks: the
    column count, integers, non-negative sizes, values that fit int32 (LOBSTER's +-9999999999 are
    mapped to ``DUMMY_ASK_PRICE``/``DUMMY_BID_PRICE`` first), real levels before empty ones and in
    price order on each side, and no crossed row (best ask below best bid).
    """
    data, lines = split_rows(path, read_bytes(path))
    if num_levels is None:
        name = try_parse_name(path)
        num_levels = name.level if name is not None else None
    expected = None if num_levels is None else 4 * num_levels
    columns = check_column_counts(path, lines, expected, multiple_of=4)
    num_levels = columns // 4
    names = _level_columns(num_levels)
    check_characters(path, data, lines, names)
    values = _parse_integer_table(path, data, names).to_numpy(np.int64)

    prices = values[:, 0::2]  # ask 1, bid 1, ask 2, bid 2, ...
    sizes = values[:, 1::2]
    is_ask = np.arange(prices.shape[1]) % 2 == 0
    empty_ask = is_ask & (prices >= LOBSTER_DUMMY_ASK_PRICE)
    empty_bid = ~is_ask & (prices <= LOBSTER_DUMMY_BID_PRICE)
    empty = empty_ask | empty_bid

    def first_bad(mask2d, problem):
        rows = np.flatnonzero(mask2d.any(axis=1))
        if rows.size:
            r = int(rows[0])
            c = int(np.flatnonzero(mask2d[r])[0])
            raise LobsterFormatError(path, problem(r, c), row=r + 1, column=names[2 * c])

    first_bad(
        ~empty & ((prices <= 0) | (prices > INT32_MAX - 1)),
        lambda r, c: f"price {prices[r, c]} is not a positive int32 nor a LOBSTER dummy",
    )
    size_bad = (sizes < 0) | (sizes > INT32_MAX) | (empty & (sizes != 0)) | (~empty & (sizes == 0))
    rows = np.flatnonzero(size_bad.any(axis=1))
    if rows.size:
        r = int(rows[0])
        c = int(np.flatnonzero(size_bad[r])[0])
        raise LobsterFormatError(
            path,
            f"size {sizes[r, c]} for price {prices[r, c]} (a real level needs a positive size, an "
            "empty one size 0)",
            row=r + 1,
            column=names[2 * c + 1],
        )
    for side, offset, better in (("ask", 0, np.less), ("bid", 1, np.greater)):
        side_prices = prices[:, offset::2]
        side_empty = empty[:, offset::2]
        gap = side_empty[:, :-1] & ~side_empty[:, 1:]
        order = ~side_empty[:, 1:] & ~better(side_prices[:, :-1], side_prices[:, 1:])
        bad = gap | order
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            r = int(rows[0])
            c = int(np.flatnonzero(bad[r])[0])
            raise LobsterFormatError(
                path,
                f"{side} level {c + 2} ({side_prices[r, c + 1]}) is not behind level {c + 1} "
                f"({side_prices[r, c]}): levels must be best first, empty levels last",
                row=r + 1,
                column=f"{side}_price_{c + 2}",
            )
    best_ask, best_bid = prices[:, 0], prices[:, 1]
    _fail_at(
        path,
        ~empty[:, 0] & ~empty[:, 1] & (best_ask < best_bid),
        lambda i: f"crossed book: best ask {best_ask[i]} is below best bid {best_bid[i]}",
    )
    out = values.copy()
    price_columns = out[:, 0::2]
    price_columns[empty_ask] = DUMMY_ASK_PRICE
    price_columns[empty_bid] = DUMMY_BID_PRICE
    out[:, 0::2] = price_columns
    return out.astype(np.int32)
