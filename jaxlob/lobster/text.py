"""The text of a LOBSTER file before any number is read: bytes (gunzipped), rows, columns and the
characters each column may hold, so that every defect is reported with its file, row and column.

Accepted: LF or CR LF line ends, any number of blank lines at the end, fields of ASCII digits with an
optional sign and surrounding spaces (and one decimal point in the time column). Refused, each with
a one-line ``LobsterFormatError``: unreadable or broken gzip data, CR-only line ends, a blank row
inside the file, another separator than the comma (tabs, semicolons, spaces are named), a byte
outside that set (non-ASCII or a byte-order mark, a letter, an exponent such as ``1e3``, a decimal
point in an integer field).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from jaxlob.lobster.errors import LobsterFormatError

# Bytes a field may hold: digits, signs and spaces; the decimal point only in a decimal column.
_FIELD_BYTES = np.zeros(256, bool)
_FIELD_BYTES[np.frombuffer(b"0123456789+- ", np.uint8)] = True
_SEPARATORS = {b"\t": "tabs", b";": "semicolons", b"|": "vertical bars"}


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
        except (OSError, EOFError, zlib.error) as error:
            raise LobsterFormatError(path, f"broken gzip data: {error}") from None
    return raw


def split_rows(path, data: bytes) -> tuple[bytes, list[bytes]]:
    """The text without its trailing blank lines, and its rows (CR LF ends keep their CR).

    A CR that does not end a CR LF pair (CR-only line ends) and a blank row inside the file are
    errors naming the row."""
    data = data.rstrip(b" \t\r\n")
    if not data:
        raise LobsterFormatError(path, "file has no rows")
    codes = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(codes == ord("\n"))
    cr = np.flatnonzero(codes == ord("\r"))  # never the last byte: stripped above
    lone = cr[codes[cr + 1] != ord("\n")]
    if lone.size:
        row = int(np.searchsorted(newlines, lone[0])) + 1
        raise LobsterFormatError(
            path,
            "carriage return without a line feed (CR-only line ends?): rows must end in LF or CR LF",
            row=row,
        )
    lines = data.split(b"\n")
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            raise LobsterFormatError(path, "empty row", row=row)
    return data + b"\n", lines


def check_column_counts(
    path, lines: list[bytes], expected: int | None, multiple_of: int = 1
) -> int:
    """Every row has the same number of comma-separated columns (``expected`` if given); return it.
    A row separated by tabs or semicolons is named as such."""
    commas = np.fromiter((line.count(b",") for line in lines), dtype=np.int64, count=len(lines))
    columns = commas + 1
    want = expected if expected is not None else int(columns[0])
    if want % multiple_of:
        _column_error(path, lines, 0, f"{want} columns, expected a multiple of {multiple_of}")
    wrong = np.flatnonzero(columns != want)
    if wrong.size:
        row = int(wrong[0])
        _column_error(path, lines, row, f"{columns[row]} columns, expected {want}")
    return want


def _column_error(path, lines: list[bytes], row: int, problem: str):
    line = lines[row].strip()
    names = [name for separator, name in _SEPARATORS.items() if separator in line]
    if not names and b"," not in line and b" " in line:
        names = ["spaces"]
    if names:
        problem += f": fields are separated by {names[0]}, LOBSTER files use commas"
    raise LobsterFormatError(path, problem, row=row + 1)


def check_characters(
    path, data: bytes, lines: list[bytes], names: list[str], decimal_column: int | None = None
) -> None:
    """Every field holds only an integer's bytes (digits, sign, spaces), or in ``decimal_column``
    also a decimal point; raise for the first field that does not, naming its row and column.

    ``data`` and ``lines`` come from ``split_rows`` and have passed ``check_column_counts``."""
    codes = np.frombuffer(data, np.uint8)
    ok = _FIELD_BYTES[codes]
    ok[codes == ord(",")] = True
    ok[codes == ord("\n")] = True
    ok[codes == ord("\r")] = True  # split_rows allowed it only before a line feed
    if decimal_column is not None:
        dots = np.flatnonzero(codes == ord("."))
        if dots.size:
            row, column = _locate(codes, dots, len(names))
            ok[dots[column == decimal_column]] = True
    bad = np.flatnonzero(~ok)
    if not bad.size:
        return
    row, column = (int(x[0]) for x in _locate(codes, bad[:1], len(names)))
    field = lines[row].split(b",")[column].strip()
    shown = "'" + field.decode("ascii", errors="backslashreplace") + "'"
    byte = int(codes[bad[0]])
    if bad[0] == 0 and data.startswith(b"\xef\xbb\xbf"):
        problem = "the file starts with a UTF-8 byte-order mark; LOBSTER files are plain ASCII"
    elif byte >= 0x80 or byte < 0x20:
        problem = f"byte 0x{byte:02x} in {shown} is not ASCII: LOBSTER files hold ASCII numbers"
    elif column == decimal_column:
        problem = f"{shown} is not a decimal time in seconds (digits[.digits])"
    else:
        problem = f"{shown} is not an integer"
    raise LobsterFormatError(path, problem, row=row + 1, column=names[column])


def _locate(codes: np.ndarray, positions: np.ndarray, num_columns: int):
    """(row, column) indices (0-based) of byte ``positions`` in a table of ``num_columns``."""
    newlines = np.flatnonzero(codes == ord("\n"))
    commas = np.flatnonzero(codes == ord(","))
    rows = np.searchsorted(newlines, positions)
    columns = np.searchsorted(commas, positions) - rows * (num_columns - 1)
    return rows, columns
