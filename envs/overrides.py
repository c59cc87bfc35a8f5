"""The one command-line override parser: ``--set field=value`` text to Python values, one rule.

Every command (`python -m agents.evaluate`, `python -m purejaxrl_train`, the replay report) reads
its ``--set`` items here, so a value means the same everywhere:

- ``true`` / ``false`` (any case) are booleans (``normalize_obs=false`` switches it off);
- an integer literal is an int, any other number a float (``1e-3``, ``inf`` and ``nan`` included:
  `envs.make` rejects the values a field cannot take, naming the field);
- a comma-separated list of numbers is a tuple of floats (per-side fields: ``rate=140,120``);
- anything else stays text (``action=single_price``, ``data=PATH``) for `make` to judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

_BOOLEANS = {"true": True, "false": False}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_value(text: str) -> Any:
    """The value a ``--set`` item's text means (see the module docstring)."""
    text = text.strip()
    if text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    try:
        if "," in text:
            return tuple(float(part) for part in text.split(","))
        return _number(text)
    except ValueError:
        return text


def parse_assignments(items: Iterable[str], flag: str = "--set") -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a malformed item is a ValueError naming it."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{flag} {item!r}: expected field=value")
        out[name.strip()] = parse_value(value)
    return out


def as_integer(name: str, value: Any) -> int:
    """`value` as an int for field `name` (an integral number, not a bool), or a one-line
    ValueError naming the field."""
    try:
        number = float(value)
        if isinstance(value, bool) or not number.is_integer():
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: must be an integer, got {value!r}") from None
    return int(number)


def as_flag(name: str, value: Any) -> bool:
    """`value` as a bool for field `name` (a bool, 0/1 or true/false text), or a one-line
    ValueError naming the field."""
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise ValueError(f"{name}: must be true or false, got {value!r}")


def as_number(name: str, value: Any) -> float:
    """`value` as a finite float for field `name`, or a one-line ValueError naming the field."""
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return number


def attach_negative_values(argv: Sequence[str], value_flags: Iterable[str]) -> list[str]:
    """``["--lr", "-1e-3"]`` -> ``["--lr=-1e-3"]`` for options that take a value, so that a
    negative number reaches the option (and its one-line validation) instead of being read as an
    unknown flag: argparse only recognises plain negative decimals, not ``-1e-3`` or ``-inf``."""
    flags = set(value_flags)
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        following = items[i + 1] if i + 1 < len(items) else None
        if item in flags and following is not None and following.startswith("-"):
            try:
                float(following)
            except ValueError:
                out.append(item)
                i += 1
                continue
            out.append(f"{item}={following}")
            i += 2
            continue
        out.append(item)
        i += 1
    return out
