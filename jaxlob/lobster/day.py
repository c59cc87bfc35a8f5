"""A LOBSTER day: a validated message/orderbook pair of one ticker, date and level count."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxlob.lobster.errors import LobsterFormatError
from jaxlob.lobster.names import LobsterName, try_parse_name
from jaxlob.lobster.read import parse_messages, read_orderbook


@dataclass(frozen=True)
class LobsterDay:
    """A validated message/orderbook pair: row ``k`` of ``orderbook`` is the book after message ``k``."""

    messages: np.ndarray  # (num_rows, NUM_FIELDS) int32, engine layout
    orderbook: np.ndarray  # (num_rows, 4 * num_levels) int32, engine dummies
    message_path: str
    orderbook_path: str
    name: LobsterName | None  # from the message file's name, when it follows LOBSTER's pattern
    # 0-based message rows whose time had more than 9 decimals and was rounded to the nanosecond
    rounded_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def rounded_times(self) -> int:
        """How many message times were rounded to the nanosecond (they had more than 9 decimals)."""
        return len(self.rounded_rows)

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
            self.rounded_rows[self.rounded_rows < num_rows],
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
    parsed = parse_messages(message_path)
    msgs = parsed.rows
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
    return LobsterDay(
        msgs, book, str(message_path), str(orderbook_path), msg_name, parsed.rounded_rows
    )
