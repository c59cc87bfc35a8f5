"""LOBSTER file names (``TICKER_YYYY-MM-DD_START_END_KIND_LEVEL.csv[.gz]``) and finding days in a
folder by them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jaxlob.lobster.errors import LobsterFormatError

_NAME = re.compile(
    r"^(?P<ticker>.+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<level>\d+)\.csv(?:\.gz)?$"
)


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


def day_label(message_path) -> str:
    """A short readable name of a day for derived files: ``TICKER_DATE_LLEVEL``, else the file's
    name up to its first dot."""
    name = try_parse_name(message_path)
    if name is not None:
        return f"{name.ticker}_{name.date}_L{name.level}"
    return Path(message_path).name.split(".")[0]
