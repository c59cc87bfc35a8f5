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

from collections.abc import Iterable
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
