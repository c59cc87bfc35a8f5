"""LOBSTER files to integer arrays, and the public API of that I/O in one place.

A LOBSTER day is a pair of headerless CSV files (optionally gzipped) with one row per event:

- ``TICKER_YYYY-MM-DD_START_END_message_LEVEL.csv``: time (seconds after midnight, decimal, up to
  nanoseconds), event type (1..7), order id, size, price (dollars times ``PRICE_UNIT`` = 10000),
  direction (1 buy, -1 sell; the side of the resting order for cancels and executions).
- ``TICKER_YYYY-MM-DD_START_END_orderbook_LEVEL.csv``: the book after that event, ``4 * LEVEL``
  columns ask price 1, ask size 1, bid price 1, bid size 1, ask price 2, ... Empty levels read
  +9999999999 (ask) or -9999999999 (bid) with size 0.

``START`` and ``END`` are milliseconds after midnight. The code lives in small modules, one job
each: ``names`` (file names, finding days in a folder), ``text`` (bytes, rows, separators and the
characters of each field), ``read`` (parsing and validating rows into the engine's int32 layout),
``write`` (engine rows back to LOBSTER files), ``day`` (a validated pair), ``windows`` (episode
windows, stacking across days, cached loading through ``jaxlob.cache``). Any defect in a file raises
``LobsterFormatError`` with a one-line message naming the file, the row (1-based line number) and,
where there is one, the column. The one leniency, a time with more than 9 decimals, is rounded to
the nanosecond and counted (``LobsterDay.rounded_times``).
"""

from jaxlob.lobster.day import LobsterDay, load_day
from jaxlob.lobster.errors import LobsterFormatError
from jaxlob.lobster.names import LobsterName, day_label, find_days, parse_name, try_parse_name
from jaxlob.lobster.read import MessageFile, parse_messages, read_messages, read_orderbook
from jaxlob.lobster.text import read_bytes
from jaxlob.lobster.windows import (
    DEFAULT_MESSAGES_PER_STEP,
    DEFAULT_WINDOW_SECONDS,
    Windows,
    load_days,
    load_windows,
    make_windows,
    stack_windows,
    windows_cache_path,
)
from jaxlob.lobster.write import (
    format_times,
    to_lobster_orderbook,
    write_messages,
    write_orderbook,
)

__all__ = [
    "DEFAULT_MESSAGES_PER_STEP",
    "DEFAULT_WINDOW_SECONDS",
    "LobsterDay",
    "LobsterFormatError",
    "LobsterName",
    "MessageFile",
    "Windows",
    "day_label",
    "find_days",
    "format_times",
    "load_day",
    "load_days",
    "load_windows",
    "make_windows",
    "parse_messages",
    "parse_name",
    "read_bytes",
    "read_messages",
    "read_orderbook",
    "stack_windows",
    "to_lobster_orderbook",
    "try_parse_name",
    "windows_cache_path",
    "write_messages",
    "write_orderbook",
]
