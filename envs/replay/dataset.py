"""Many LOBSTER days as one `ReplayData`: their windows concatenated along the window axis.

``data=PATH`` of the replay presets is read here. PATH is

- a message or orderbook file of a pair (its partner is found by LOBSTER's naming,
  ``TICKER_DATE_START_END_message_L.csv[.gz]`` / ``..._orderbook_L.csv[.gz]``, either compression);
- a stem ``DIR/TICKER_DATE_START_END`` (the one pair with that stem; several level counts raise);
- or a folder: every LOBSTER-named pair in it and in its subfolders (several days and tickers),
  ordered by ticker, date, start, level and path. Files not named the LOBSTER way are ignored; an
  unpaired LOBSTER file, two copies of one day, or pairs with different level counts raise.

Each day goes through the ``.npz`` cache of `envs.replay.data.load_data` (`jaxlob.cache`, keyed by
the files' bytes and every parameter): a folder is parsed once, later loads read the cache, and
the arrays of all days are allocated once (peak memory: the dataset plus one day). The days'
windows are concatenated along the window axis (steps padded with NOOP messages to the longest
window of any day, the step rows repeating their last row, as `stack_days` pads), so a reset that draws a window uniformly draws across all days, and no code of
the environment changes. ``ReplayData.day[w]`` is window ``w``'s position in ``ReplayDataset.days``
(ticker, date, level, files) for reports; `split_days` undoes the concatenation and
`envs.replay.data.stack_days` of its result vmaps over days.

Every problem is a one-line ValueError naming the path (``LobsterFormatError`` from the reader
names the file, row and column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.replay.data import ReplayData, cache_entry, load_entry, window_days
from jaxlob import cache, lobster
from jaxlob import messages as m
from jaxlob.lobster import LobsterName, try_parse_name

_STEP_ARRAYS = ("messages", "step_rows")
_WINDOW_ARRAYS = ("initial_row", "num_steps", "start_s", "end_s")


@dataclass(frozen=True)
class DayFiles:
    """One day of a dataset: its pair of files and what their names say (None: not LOBSTER-named)."""

    message_path: Path
    orderbook_path: Path
    name: LobsterName | None

    @property
    def label(self) -> str:
        """``TICKER_DATE_LLEVEL`` (or the file's name up to its first dot)."""
        return lobster.day_label(self.message_path)


@dataclass(frozen=True)
class ReplayDataset:
    """The concatenated windows of several days and, per day index of ``data.day``, its files."""

    data: ReplayData
    days: tuple[DayFiles, ...]

    def window_label(self, w: int) -> str:
        """Which day window ``w`` belongs to, e.g. ``GOOG_2012-06-21_L10``."""
        return self.days[int(window_days(self.data)[w])].label


def _partner(path: Path, name: LobsterName) -> Path | None:
    """The other file of ``path``'s pair (same stem and level, ``.csv`` or ``.csv.gz``)."""
    other = "orderbook" if name.kind == "message" else "message"
    stem = path.name.split(f"_{name.kind}_")[0]
    for suffix in (".csv", ".csv.gz"):
        candidate = path.with_name(f"{stem}_{other}_{name.level}{suffix}")
        if candidate.exists():
            return candidate
    return None


def _pair_of_file(path: Path) -> DayFiles:
    name = try_parse_name(path)
    if name is None:
        raise ValueError(
            f"data: {path}: not named TICKER_DATE_START_END_message|orderbook_LEVEL.csv[.gz], so "
            "its partner cannot be found; pass message_path= and orderbook_path= instead"
        )
    partner = _partner(path, name)
    if partner is None:
        other = "orderbook" if name.kind == "message" else "message"
        raise ValueError(f"data: {path}: no {other} file of the same day and level beside it")
    msg, book = (path, partner) if name.kind == "message" else (partner, path)
    return DayFiles(msg, book, try_parse_name(msg))


def _pairs_of_stem(stem: Path) -> list[DayFiles]:
    folder = stem.parent
    if not folder.is_dir():
        raise ValueError(f"data: {stem} does not exist")
    matches = []
    for path in sorted(folder.iterdir()):
        name = try_parse_name(path)
        if name is not None and name.kind == "message" and path.name.startswith(f"{stem.name}_"):
            if path.name.split("_message_")[0] == stem.name:
                matches.append(path)
    if not matches:
        raise ValueError(
            f"data: {stem} does not exist (neither a file, a folder nor the stem of a LOBSTER pair)"
        )
    days = [_pair_of_file(path) for path in matches]
    levels = sorted({day.name.level for day in days})
    if len(levels) > 1:
        raise ValueError(
            f"data: {stem} has pairs at levels {levels}; name one file, e.g. {matches[0].name}"
        )
    if len(days) > 1:  # the same pair as .csv and .csv.gz
        raise ValueError(f"data: {stem} has two copies of one pair: {matches[0]}, {matches[1]}")
    return days


def _pairs_of_folder(folder: Path) -> list[DayFiles]:
    named = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = try_parse_name(path)
        if name is not None:
            named.append((path, name))
    if not named:
        raise ValueError(
            f"data: {folder} holds no LOBSTER pair "
            "(TICKER_DATE_START_END_message_LEVEL.csv[.gz] with its _orderbook_LEVEL file)"
        )
    days, seen = [], {}
    for path, name in named:
        day = _pair_of_file(path)  # raises for an unpaired file
        if name.kind != "message":
            continue
        key = (name.ticker, name.date, name.start_ms, name.end_ms, name.level)
        if key in seen:
            raise ValueError(f"data: two copies of one day in {folder}: {seen[key]} and {path}")
        seen[key] = path
        days.append(day)
    days.sort(
        key=lambda d: (d.name.ticker, d.name.date, d.name.start_ms, d.name.level, d.message_path)
    )
    levels = {}
    for day in days:
        levels.setdefault(day.name.level, day.message_path)
    if len(levels) > 1:
        found = ", ".join(f"{level} ({path.name})" for level, path in sorted(levels.items()))
        raise ValueError(
            f"data: {folder} mixes pairs of different level counts: {found}; keep one level count "
            "per folder"
        )
    return days


def find_pairs(path) -> tuple[DayFiles, ...]:
    """The days ``path`` names (see the module docstring), in the order of ``ReplayData.day``."""
    if not isinstance(path, str | Path) or not str(path).strip():
        raise ValueError(f"data: expected a path, got {path!r}")
    path = Path(path).expanduser()
    if path.is_dir():
        return tuple(_pairs_of_folder(path))
    if path.is_file():
        return (_pair_of_file(path),)
    for suffix in (".csv", ".csv.gz"):  # a file named without its extension
        if path.with_name(path.name + suffix).is_file():
            return (_pair_of_file(path.with_name(path.name + suffix)),)
    return tuple(_pairs_of_stem(path))


def _check_shapes(shapes: list[tuple], days: tuple[DayFiles, ...]) -> None:
    """Files not named the LOBSTER way (a single pair) still need one level count."""
    for shape, day in zip(shapes[1:], days[1:], strict=True):
        if shape[-1] != shapes[0][-1]:
            raise ValueError(
                f"data: {day.orderbook_path} has {shape[-1] // 4} levels, "
                f"{days[0].orderbook_path} {shapes[0][-1] // 4}; keep one level count"
            )


def _shape(data: ReplayData) -> tuple[int, int, int, int]:
    """(windows in use, steps, messages per step, orderbook columns) of one day's data."""
    return (
        int(np.asarray(data.num_windows)),
        data.max_steps,
        data.messages_per_step,
        np.shape(data.step_rows)[-1],
    )


def _fill(sources, shapes) -> ReplayData:
    """Concatenate the days ``sources`` (zero-argument functions returning each day's data, called
    once each, in order) of the given `_shape` into arrays allocated once."""
    counts = [shape[0] for shape in shapes]
    steps = max(shape[1] for shape in shapes)
    total, (_, _, per_step, columns) = sum(counts), shapes[0]
    out = {
        "messages": np.zeros((total, steps, per_step, m.NUM_FIELDS), np.int32),
        "step_rows": np.empty((total, steps, columns), np.int32),
        "initial_row": np.empty((total, columns), np.int32),
        "day": np.empty(total, np.int32),
    }
    for name in _WINDOW_ARRAYS[1:]:
        out[name] = np.empty(total, np.int32)
    at = 0
    for i, (source, count) in enumerate(zip(sources, counts, strict=True)):
        data = source()
        rows, have = slice(at, at + count), data.max_steps
        out["messages"][rows, :have] = np.asarray(data.messages)[:count]
        step_rows = np.asarray(data.step_rows)[:count]
        out["step_rows"][rows, :have] = step_rows
        out["step_rows"][rows, have:] = step_rows[:, -1:]
        for name in _WINDOW_ARRAYS:
            out[name][rows] = np.asarray(getattr(data, name))[:count]
        out["day"][rows] = i
        at += count
        del data, step_rows
    return ReplayData(**out, num_windows=np.asarray(total, np.int32))


def concat_days(datas: list[ReplayData]) -> ReplayData:
    """The windows of several days' data along the window axis (host arrays). Steps are padded to
    the longest window of any day (NOOP messages; step rows repeat their last row); ``day`` numbers
    the inputs in order. Only the windows in use (``num_windows``) of each input are kept."""
    if not datas:
        raise ValueError("concat_days needs at least one ReplayData")
    shapes = {(d.messages_per_step, d.num_levels) for d in datas}
    if len(shapes) != 1:
        raise ValueError(f"concat_days: messages_per_step and levels differ between days: {shapes}")
    return _fill([lambda d=d: d for d in datas], [_shape(d) for d in datas])


def split_days(data: ReplayData) -> list[ReplayData]:
    """One `ReplayData` per day of concatenated data (every day keeps the common step count, so
    `envs.replay.data.stack_days` of the result stacks them for `jax.vmap` over days)."""
    days = window_days(data)[: int(np.asarray(data.num_windows))]
    out = []
    for i in range(int(days.max()) + 1 if days.size else 0):
        index = np.flatnonzero(days == i)
        if index.size == 0:
            continue
        out.append(
            ReplayData(
                **{name: np.asarray(getattr(data, name))[index] for name in _STEP_ARRAYS},
                **{name: np.asarray(getattr(data, name))[index] for name in _WINDOW_ARRAYS},
                num_windows=np.asarray(index.size, np.int32),
                day=np.zeros(index.size, np.int32),
            )
        )
    return out


def _files(day: DayFiles) -> tuple[Path, Path]:
    return day.message_path, day.orderbook_path


def load_dataset(
    path,
    window_seconds: int = lobster.DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = lobster.DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    cache_dir=None,
) -> ReplayDataset:
    """The days ``path`` names (a pair, a stem or a folder), each through the ``.npz`` cache, their
    windows concatenated (`concat_days`). ``cache_dir`` as `load_data` (False: no cache).

    With the cache, days are read twice (once for their shapes, once into the arrays allocated for
    all of them), so the peak memory is the dataset plus one day rather than twice the dataset;
    without it every day is held until the concatenation is done.
    """
    days = find_pairs(path)
    folder = cache.cache_folder(cache_dir)
    params = (window_seconds, messages_per_step, max_steps)
    if len(days) == 1:
        day = days[0]
        entry = None if folder is None else cache_entry(*_files(day), *params, folder)
        return ReplayDataset(data=load_entry(entry, *_files(day), *params), days=days)
    if folder is None:
        datas = [load_entry(None, d.message_path, d.orderbook_path, *params) for d in days]
        shapes = [_shape(data) for data in datas]
        _check_shapes(shapes, days)
        sources = [lambda data=data: data for data in datas]
    else:
        entries = [cache_entry(d.message_path, d.orderbook_path, *params, folder) for d in days]
        shapes = [
            _shape(load_entry(entry, d.message_path, d.orderbook_path, *params))
            for d, entry in zip(days, entries, strict=True)
        ]
        _check_shapes(shapes, days)
        sources = [
            lambda d=d, entry=entry: load_entry(entry, d.message_path, d.orderbook_path, *params)
            for d, entry in zip(days, entries, strict=True)
        ]
    return ReplayDataset(data=_fill(sources, shapes), days=days)
