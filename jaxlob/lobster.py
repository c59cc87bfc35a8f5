"""LOBSTER files to integer arrays: file names, parsing, validation, episode windows, the .npz cache.

A LOBSTER day is a pair of headerless CSV files (optionally gzipped) with one row per event:

- ``TICKER_YYYY-MM-DD_START_END_message_LEVEL.csv``: time (seconds after midnight, decimal, up to
  nanoseconds), event type (1..7), order id, size, price (dollars times 10000), direction (1 buy,
  -1 sell; the side of the resting order for cancels and executions).
- ``TICKER_YYYY-MM-DD_START_END_orderbook_LEVEL.csv``: the book after that event, ``4 * LEVEL``
  columns ask price 1, ask size 1, bid price 1, bid size 1, ask price 2, ... Empty levels read
  +9999999999 (ask) or -9999999999 (bid) with size 0.

``START`` and ``END`` are milliseconds after midnight. Messages become int32 rows in the engine's
layout (``jaxlob.messages``, trader id 0, time split into whole seconds and nanoseconds parsed from
the decimal text, never through a float); orderbook rows become int32 with LOBSTER's dummy prices
replaced by the engine's ``DUMMY_ASK_PRICE`` / ``DUMMY_BID_PRICE``. Any defect raises
``LobsterFormatError`` with a one-line message naming the file, the row (1-based line number) and,
where there is one, the column.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from flax import struct

from jaxlob import messages as m
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
NANOS = 1_000_000_000
INT32_MAX = 2**31 - 1
DEFAULT_WINDOW_SECONDS = 1800
DEFAULT_MESSAGES_PER_STEP = 100
CACHE_FORMAT = 1  # bump when the cached arrays change meaning

_NAME = re.compile(
    r"^(?P<ticker>.+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<level>\d+)\.csv(?:\.gz)?$"
)
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


class LobsterFormatError(ValueError):
    """A LOBSTER file that cannot be used as it is; the message is one line naming file and row."""

    def __init__(self, path, problem: str, row: int | None = None, column: str | None = None):
        self.path, self.row, self.column, self.problem = str(path), row, column, problem
        where = str(path)
        if row is not None:
            where += f": row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class LobsterName:
    """What a LOBSTER file name says: ``TICKER_DATE_START_END_KIND_LEVEL.csv[.gz]``."""

    ticker: str
    date: str  # YYYY-MM-DD
    start_ms: int  # milliseconds after midnight
    end_ms: int
    kind: str  # "message" or "orderbook"
    level: int

    @property
    def start_s(self) -> int:
        return self.start_ms // 1000

    @property
    def end_s(self) -> int:
        return -(-self.end_ms // 1000)


def parse_name(path) -> LobsterName:
    """Parse a LOBSTER file name; raises ``LobsterFormatError`` if it does not follow the pattern."""
    name = Path(path).name
    match = _NAME.match(name)
    if match is None:
        raise LobsterFormatError(
            path, "file name is not TICKER_YYYY-MM-DD_START_END_message|orderbook_LEVEL.csv[.gz]"
        )
    parsed = LobsterName(
        ticker=match["ticker"],
        date=match["date"],
        start_ms=int(match["start"]),
        end_ms=int(match["end"]),
        kind=match["kind"],
        level=int(match["level"]),
    )
    if parsed.level < 1 or parsed.end_ms < parsed.start_ms:
        raise LobsterFormatError(
            path,
            f"file name has level {parsed.level} and start/end "
            f"{parsed.start_ms}/{parsed.end_ms} ms: level must be >= 1 and "
            "end >= start",
        )
    return parsed


def try_parse_name(path) -> LobsterName | None:
    """``parse_name`` or None for a file not named the LOBSTER way (the data are still usable)."""
    try:
        return parse_name(path)
    except LobsterFormatError:
        return None


def read_bytes(path) -> bytes:
    """The file's text as bytes, gunzipped when it is gzipped (by its magic number, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise LobsterFormatError(path, f"cannot read: {error.strerror or error}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise LobsterFormatError(path, f"broken gzip data: {error}") from None
    return raw


def _lines(path, data: bytes) -> list[bytes]:
    """Rows of a headerless CSV; a blank line inside the file is an error (one at the end is not)."""
    lines = data.split(b"\n")
    if lines and lines[-1].strip() == b"":
        lines.pop()
    if not lines:
        raise LobsterFormatError(path, "file has no rows")
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            raise LobsterFormatError(path, "empty row", row=row)
    return lines


def _check_column_counts(path, lines: list[bytes], expected: int | None, multiple_of: int = 1):
    """Every row has the same number of columns (``expected`` if given); return that number."""
    commas = np.fromiter((line.count(b",") for line in lines), dtype=np.int64, count=len(lines))
    columns = commas + 1
    want = expected if expected is not None else int(columns[0])
    if want % multiple_of:
        raise LobsterFormatError(
            path, f"{want} columns, expected a multiple of {multiple_of}", row=1
        )
    wrong = np.flatnonzero(columns != want)
    if wrong.size:
        row = int(wrong[0])
        raise LobsterFormatError(path, f"{columns[row]} columns, expected {want}", row=row + 1)
    return want


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


def _parse_times(path, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal seconds (text) as exact (whole seconds, nanoseconds) int64 arrays."""
    text = np.strings.strip(np.asarray(text, dtype=str))
    whole, _, fraction = np.strings.partition(text, ".")
    fraction_ok = (np.strings.str_len(fraction) == 0) | np.strings.isdecimal(fraction)
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
    long = np.flatnonzero(np.strings.str_len(fraction) > 9)
    if long.size:
        row = int(long[0])
        raise LobsterFormatError(
            path,
            f"{str(text[row])!r} has more than 9 decimals (finer than a nanosecond)",
            row=row + 1,
            column="time",
        )
    seconds = whole.astype(np.int64)
    nanos = np.strings.ljust(fraction, 9, "0").astype(np.int64)
    return seconds, nanos


def _fail_at(path, mask: np.ndarray, problem, column: str | None = None, offset: int = 0):
    """Raise for the first row where ``mask`` is set; ``problem(i)`` says what is wrong there."""
    bad = np.flatnonzero(mask)
    if bad.size:
        i = int(bad[0])
        raise LobsterFormatError(path, problem(i), row=i + 1 + offset, column=column)


def read_messages(path) -> np.ndarray:
    """A LOBSTER message file as int32 rows in the engine's layout ``(num_rows, NUM_FIELDS)``.

    Checks: 6 columns, integers (time: decimal seconds), event type 1..7, direction +-1 (a halt,
    type 7, may also carry 0), positive size for types 1..6, positive price for types 1..6 and a
    halt code -1/0/1 for type 7, values that fit int32, order ids above the engine's snapshot id
    range, and times that never go backwards.
    """
    data = read_bytes(path)
    lines = _lines(path, data)
    _check_column_counts(path, lines, NUM_MESSAGE_COLUMNS)
    table = _parse_integer_table(path, data, list(MESSAGE_COLUMNS), str_columns=(0,))
    seconds, nanos = _parse_times(path, table[0].to_numpy(dtype=str))
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
        (oid > INT32_MAX) | (oid <= SNAPSHOT_ID_BASE),
        lambda i: f"order id {oid[i]} is outside {SNAPSHOT_ID_BASE + 1}..{INT32_MAX}",
        "order_id",
    )
    total_ns = seconds * NANOS + nanos
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
    return out


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
    data = read_bytes(path)
    lines = _lines(path, data)
    if num_levels is None:
        name = try_parse_name(path)
        num_levels = name.level if name is not None else None
    expected = None if num_levels is None else 4 * num_levels
    columns = _check_column_counts(path, lines, expected, multiple_of=4)
    num_levels = columns // 4
    names = _level_columns(num_levels)
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


@dataclass(frozen=True)
class LobsterDay:
    """A validated message/orderbook pair: row ``k`` of ``orderbook`` is the book after message ``k``."""

    messages: np.ndarray  # (num_rows, NUM_FIELDS) int32, engine layout
    orderbook: np.ndarray  # (num_rows, 4 * num_levels) int32, engine dummies
    message_path: str
    orderbook_path: str
    name: LobsterName | None  # from the message file's name, when it follows LOBSTER's pattern

    @property
    def num_levels(self) -> int:
        return self.orderbook.shape[1] // 4

    @property
    def num_rows(self) -> int:
        return self.messages.shape[0]

    def head(self, num_rows: int) -> LobsterDay:
        """The first ``num_rows`` rows (for quick checks on part of a day)."""
        return LobsterDay(
            self.messages[:num_rows],
            self.orderbook[:num_rows],
            self.message_path,
            self.orderbook_path,
            self.name,
        )


def load_day(message_path, orderbook_path) -> LobsterDay:
    """Read and validate a message/orderbook pair (``.csv`` or ``.csv.gz``)."""
    msg_name = try_parse_name(message_path)
    book_name = try_parse_name(orderbook_path)
    if msg_name is not None and msg_name.kind != "message":
        raise LobsterFormatError(message_path, "is an orderbook file, expected a message file")
    if book_name is not None and book_name.kind != "orderbook":
        raise LobsterFormatError(orderbook_path, "is a message file, expected an orderbook file")
    if msg_name is not None and book_name is not None:
        for field in ("ticker", "date", "start_ms", "end_ms", "level"):
            if getattr(msg_name, field) != getattr(book_name, field):
                raise LobsterFormatError(
                    orderbook_path,
                    f"file name's {field} {getattr(book_name, field)!r} differs from the message "
                    f"file's {getattr(msg_name, field)!r} ({Path(message_path).name})",
                )
    msgs = read_messages(message_path)
    num_levels = book_name.level if book_name else (msg_name.level if msg_name else None)
    book = read_orderbook(orderbook_path, num_levels)
    if len(msgs) != len(book):
        shorter = orderbook_path if len(book) < len(msgs) else message_path
        raise LobsterFormatError(
            shorter,
            f"{len(book)} orderbook rows but {len(msgs)} message rows "
            f"({Path(message_path).name} / {Path(orderbook_path).name}): every message needs the "
            "book after it",
            row=min(len(book), len(msgs)) + 1,
        )
    return LobsterDay(msgs, book, str(message_path), str(orderbook_path), msg_name)


def find_days(folder) -> list[tuple[Path, Path]]:
    """(message, orderbook) pairs of LOBSTER files in ``folder``, sorted by ticker, date and level."""
    pairs = []
    for path in sorted(Path(folder).iterdir()):
        name = try_parse_name(path)
        if name is None or name.kind != "message":
            continue
        partner = path.name.replace("_message_", "_orderbook_")
        if (path.parent / partner).exists():
            pairs.append((name, path, path.parent / partner))
    pairs.sort(key=lambda t: (t[0].ticker, t[0].date, t[0].level))
    return [(msg, book) for _, msg, book in pairs]


# --------------------------------------------------------------------------- windows


@struct.dataclass
class Windows:
    """Episode windows of one or more days, stacked so that every array has the same shape per window.

    ``messages[w, s]`` are the ``messages_per_step`` messages of step ``s`` of window ``w``; steps
    past the window's last message and the tail of its last step are NOOP padding (all zeros).
    ``initial_book[w]`` is the file's orderbook row just before the window's first message, the
    state the window starts from; ``final_book[w]`` the row after its last message. A day's first
    message is not replayed: orderbook row 0 (the book after it) is where the day starts.
    """

    messages: np.ndarray  # (W, max_steps, messages_per_step, NUM_FIELDS) int32
    initial_book: np.ndarray  # (W, 4 * num_levels) int32
    final_book: np.ndarray  # (W, 4 * num_levels) int32
    num_messages: np.ndarray  # (W,) int32, real messages in the window
    num_steps: np.ndarray  # (W,) int32, steps holding at least one real message
    start_s: np.ndarray  # (W,) int32, the window's nominal start (seconds after midnight)
    first_message: np.ndarray  # (W,) int32, index of the first message in its day's files
    day: np.ndarray  # (W,) int32, which day (position in the list given to stack_windows)
    window_seconds: int = struct.field(pytree_node=False, default=DEFAULT_WINDOW_SECONDS)
    messages_per_step: int = struct.field(pytree_node=False, default=DEFAULT_MESSAGES_PER_STEP)

    @property
    def num_windows(self) -> int:
        return self.messages.shape[0]

    @property
    def max_steps(self) -> int:
        return self.messages.shape[1]

    @property
    def num_levels(self) -> int:
        return self.initial_book.shape[-1] // 4

    def window_messages(self, w: int) -> np.ndarray:
        """The real (unpadded) messages of window ``w``, ``(num_messages[w], NUM_FIELDS)``."""
        flat = np.asarray(self.messages[w]).reshape(-1, m.NUM_FIELDS)
        return flat[: int(self.num_messages[w])]


def _window_bounds(day: LobsterDay, window_seconds: int, start_s: int | None):
    """Nominal window start times and, per window, the message index range [first, end)."""
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    msgs = day.messages
    time_ns = msgs[:, m.TIME_S].astype(np.int64) * NANOS + msgs[:, m.TIME_NS]
    first_s = int(msgs[0, m.TIME_S])
    if start_s is None:
        start_s = day.name.start_s if day.name is not None else first_s
        start_s = min(start_s, first_s)
    if first_s < start_s:
        raise ValueError(
            f"{day.message_path}: first message at {first_s} s is before the window start {start_s} s"
        )
    window_ns = window_seconds * NANOS
    index = (time_ns - start_s * NANOS) // window_ns
    index[0] = -1  # message 0 is the state of row 0, not replayed
    windows = np.unique(index[1:])
    firsts = np.searchsorted(index, windows, side="left")
    ends = np.searchsorted(index, windows, side="right")
    starts = start_s + windows * window_seconds
    return starts, firsts, ends


def make_windows(
    day: LobsterDay,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    start_s: int | None = None,
) -> Windows:
    """Split a day into fixed time windows of ``window_seconds`` (from the file name's start time,
    or ``start_s``), each cut into steps of ``messages_per_step`` messages.

    Every message but the day's first belongs to exactly one window; the last, partial window is
    kept and windows with no message are left out (``start_s`` says which ones remain).
    ``max_steps`` pads every window to that many steps (default: the longest window's); a window
    that needs more raises ValueError rather than being cut.
    """
    if messages_per_step <= 0:
        raise ValueError(f"messages_per_step must be positive, got {messages_per_step}")
    if day.num_rows < 2:
        raise ValueError(f"{day.message_path}: a day needs at least 2 rows to make a window")
    starts, firsts, ends = _window_bounds(day, window_seconds, start_s)
    counts = ends - firsts
    steps = -(-counts // messages_per_step)
    needed = int(steps.max())
    if max_steps is None:
        max_steps = needed
    elif needed > max_steps:
        w = int(np.argmax(steps))
        raise ValueError(
            f"{day.message_path}: window starting at {starts[w]} s needs {needed} steps of "
            f"{messages_per_step} messages, more than max_steps={max_steps}"
        )
    num_windows = len(starts)
    out = np.zeros((num_windows, max_steps * messages_per_step, m.NUM_FIELDS), np.int32)
    for w in range(num_windows):
        out[w, : counts[w]] = day.messages[firsts[w] : ends[w]]
    return Windows(
        messages=out.reshape(num_windows, max_steps, messages_per_step, m.NUM_FIELDS),
        initial_book=day.orderbook[firsts - 1].copy(),
        final_book=day.orderbook[ends - 1].copy(),
        num_messages=counts.astype(np.int32),
        num_steps=steps.astype(np.int32),
        start_s=starts.astype(np.int32),
        first_message=firsts.astype(np.int32),
        day=np.zeros(num_windows, np.int32),
        window_seconds=window_seconds,
        messages_per_step=messages_per_step,
    )


def _pad_levels(rows: np.ndarray, num_levels: int) -> np.ndarray:
    have = rows.shape[-1] // 4
    if have == num_levels:
        return rows
    if have > num_levels:
        raise ValueError(f"cannot shrink {have} levels to {num_levels}")
    empty = np.tile(
        np.array([DUMMY_ASK_PRICE, 0, DUMMY_BID_PRICE, 0], np.int32),
        (rows.shape[0], num_levels - have),
    )
    return np.concatenate([rows, empty], axis=-1)


def stack_windows(
    windows: list[Windows], max_steps: int | None = None, num_levels: int | None = None
) -> Windows:
    """Concatenate windows of several days into one ``Windows`` with identical shapes (vmappable).

    Steps are padded with NOOP messages to ``max_steps`` (default: the most any day needs) and book
    rows with empty levels to ``num_levels`` (default: the most any day has). ``day`` numbers the
    inputs in order. All inputs must share ``window_seconds`` and ``messages_per_step``.
    """
    if not windows:
        raise ValueError("stack_windows needs at least one Windows")
    first = windows[0]
    for w in windows[1:]:
        if (w.window_seconds, w.messages_per_step) != (
            first.window_seconds,
            first.messages_per_step,
        ):
            raise ValueError(
                "cannot stack windows of different window_seconds/messages_per_step: "
                f"{(first.window_seconds, first.messages_per_step)} vs "
                f"{(w.window_seconds, w.messages_per_step)}"
            )
    need_steps = max(w.max_steps for w in windows)
    max_steps = need_steps if max_steps is None else max_steps
    if need_steps > max_steps:
        raise ValueError(f"a day needs {need_steps} steps, more than max_steps={max_steps}")
    num_levels = max(w.num_levels for w in windows) if num_levels is None else num_levels

    def pad_steps(x: np.ndarray) -> np.ndarray:
        pad = max_steps - x.shape[1]
        return np.pad(x, ((0, 0), (0, pad), (0, 0), (0, 0))) if pad else x

    return Windows(
        messages=np.concatenate([pad_steps(np.asarray(w.messages)) for w in windows]),
        initial_book=np.concatenate(
            [_pad_levels(np.asarray(w.initial_book), num_levels) for w in windows]
        ),
        final_book=np.concatenate(
            [_pad_levels(np.asarray(w.final_book), num_levels) for w in windows]
        ),
        num_messages=np.concatenate([w.num_messages for w in windows]),
        num_steps=np.concatenate([w.num_steps for w in windows]),
        start_s=np.concatenate([w.start_s for w in windows]),
        first_message=np.concatenate([w.first_message for w in windows]),
        day=np.concatenate([np.full(w.num_windows, i, np.int32) for i, w in enumerate(windows)]),
        window_seconds=first.window_seconds,
        messages_per_step=first.messages_per_step,
    )


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``$JAXLOB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxlob``, else ``~/.cache/jaxlob``."""
    if os.environ.get("JAXLOB_CACHE_DIR"):
        return Path(os.environ["JAXLOB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxlob"


def content_hash(*paths) -> str:
    """SHA-256 over the bytes of the files, in order (the cache key's data part)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


_WINDOW_ARRAYS = (
    "messages",
    "initial_book",
    "final_book",
    "num_messages",
    "num_steps",
    "start_s",
    "first_message",
    "day",
)


def cache_path(
    message_path, orderbook_path, window_seconds, messages_per_step, max_steps, start_s, cache_dir
) -> Path:
    """Where ``load_windows`` keeps these windows: the files' content hash plus the parameters."""
    key = content_hash(message_path, orderbook_path)
    params = f"v{CACHE_FORMAT}_w{window_seconds}_p{messages_per_step}_s{max_steps}_t{start_s}"
    key = hashlib.sha256(f"{key}|{params}".encode()).hexdigest()[:24]
    name = try_parse_name(message_path)
    label = (
        f"{name.ticker}_{name.date}_L{name.level}"
        if name
        else Path(message_path).name.split(".")[0]
    )
    return Path(cache_dir) / f"{label}_{key}.npz"


def load_windows(
    message_path,
    orderbook_path,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    start_s: int | None = None,
    cache_dir=None,
) -> Windows:
    """Windows of one day, from the ``.npz`` cache when the same files and parameters were seen.

    ``cache_dir`` defaults to ``default_cache_dir()`` (outside the repository); ``False`` turns
    the cache off. The key is the SHA-256 of both files' bytes plus every parameter, so an edited
    file is never served stale.
    """
    use_cache = cache_dir is not False
    path = None
    if use_cache:
        cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
        path = cache_path(
            message_path,
            orderbook_path,
            window_seconds,
            messages_per_step,
            max_steps,
            start_s,
            cache_dir,
        )
        if path.exists():
            try:
                with np.load(path) as stored:
                    return Windows(
                        **{name: stored[name] for name in _WINDOW_ARRAYS},
                        window_seconds=window_seconds,
                        messages_per_step=messages_per_step,
                    )
            except (OSError, KeyError, ValueError):
                pass  # a damaged cache file is rebuilt below
    day = load_day(message_path, orderbook_path)
    windows = make_windows(day, window_seconds, messages_per_step, max_steps, start_s)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **{name: np.asarray(getattr(windows, name)) for name in _WINDOW_ARRAYS})
        os.replace(tmp, path)
    return windows


def load_days(
    pairs,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    num_levels: int | None = None,
    cache_dir=None,
) -> Windows:
    """Windows of several (message, orderbook) pairs, stacked with identical shapes."""
    per_day = [
        load_windows(msg, book, window_seconds, messages_per_step, cache_dir=cache_dir)
        for msg, book in pairs
    ]
    return stack_windows(per_day, max_steps=max_steps, num_levels=num_levels)
