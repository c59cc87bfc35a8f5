"""Parameter checks that raise one-line `ValueError`s naming the offending field."""

from __future__ import annotations

import numpy as np


def _values(value) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=np.float64))


def require(condition: bool, field: str, message: str) -> None:
    """Raise `ValueError("field: message")` unless `condition` holds."""
    if not condition:
        raise ValueError(f"{field}: {message}")


def non_negative(value, field: str) -> None:
    v = _values(value)
    require(bool(np.all(np.isfinite(v))), field, f"must be finite, got {value!r}")
    require(bool(np.all(v >= 0)), field, f"must be >= 0, got {value!r}")


def positive(value, field: str) -> None:
    v = _values(value)
    require(bool(np.all(np.isfinite(v))), field, f"must be finite, got {value!r}")
    require(bool(np.all(v > 0)), field, f"must be > 0, got {value!r}")


def finite(value, field: str) -> None:
    v = _values(value)
    require(bool(np.all(np.isfinite(v))), field, f"must be finite, got {value!r}")


def in_range(value, field: str, low: float, high: float) -> None:
    v = _values(value)
    require(
        bool(np.all((v >= low) & (v <= high))), field, f"must lie in [{low}, {high}], got {value!r}"
    )
