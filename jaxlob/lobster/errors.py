"""The one error every LOBSTER reader raises: a one-line message naming the file, row and column."""

from __future__ import annotations


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
