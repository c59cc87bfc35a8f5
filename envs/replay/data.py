"""Replay data: the episode windows of LOBSTER days as fixed-shape arrays for `EnvParams`.

`ReplayData` holds, per window, the data messages cut into steps (`jaxlob.lobster.make_windows`),
the orderbook row the window starts from, and the orderbook row after each step's last message (what
the re-synchronised mode aligns the book to). Arrays live in the params pytree, never on the
environment object, so days can be vmapped and jit does not embed them as constants.

`load_data` reads a LOBSTER pair through the `.npz` cache of `jaxlob.cache` (the folder that
`jaxlob.lobster.load_windows` uses, keyed by both files' bytes and every parameter), `from_day`
builds data from a loaded (or cut) `LobsterDay` without a cache, and `stack_days` stacks the data
of several days along a new leading axis for `jax.vmap`. Many days along the window axis instead
(one reset draws from all of them) are `envs.replay.dataset`'s; ``ReplayData.day`` says which day
each window came from there.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxlob import cache, lobster
from jaxlob import messages as m

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
GOOG_STEM = "GOOG_2012-06-21_34200000_57600000"
CACHE_FORMAT = 1  # bump when the cached arrays change meaning
_ARRAYS = (
    "messages",
    "step_rows",
    "initial_row",
    "num_steps",
    "start_s",
    "end_s",
    "num_windows",
)


@struct.dataclass
class ReplayData:
    """Windows of one day (or, after `stack_days`, of several days along a leading axis)."""

    messages: jax.Array  # (W, S, P, NUM_FIELDS) int32; NOOP padding past a window's last message
    step_rows: jax.Array  # (W, S, 4 L) int32, file row after each step (the last row past the end)
    initial_row: jax.Array  # (W, 4 L) int32, file row just before the window's first message
    num_steps: jax.Array  # (W,) int32, steps of each window (the deadline is after the last one)
    start_s: jax.Array  # (W,) int32, window start, seconds after midnight
    end_s: jax.Array  # (W,) int32, the task's deadline, seconds after midnight
    num_windows: jax.Array  # () int32, windows in use (rows past it are padding)
    # (W,) int32, each window's day in its dataset (`envs.replay.dataset`); None: hand-built data
    # of one day (read it through `window_days`)
    day: jax.Array | None = None

    @property
    def max_steps(self) -> int:
        return self.messages.shape[-3]

    @property
    def messages_per_step(self) -> int:
        return self.messages.shape[-2]

    @property
    def num_levels(self) -> int:
        return self.initial_row.shape[-1] // 4

    @property
    def window_capacity(self) -> int:
        """Rows of the window axis (windows in use plus padding)."""
        return self.messages.shape[-4]


def default_files() -> tuple[Path, Path]:
    """The shipped GOOG level-10 sample day (message and orderbook files)."""
    msg = DATA_DIR / f"{GOOG_STEM}_message_10.csv.gz"
    book = DATA_DIR / f"{GOOG_STEM}_orderbook_10.csv.gz"
    if not msg.exists() or not book.exists():
        raise FileNotFoundError(f"{msg}: the GOOG level-10 sample day should ship in data/")
    return msg, book


def from_day(
    day: lobster.LobsterDay,
    window_seconds: int = lobster.DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = lobster.DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    start_s: int | None = None,
) -> ReplayData:
    """Replay data of a day. ``max_steps`` cuts longer windows after that many steps (their deadline
    moves to the cut: the time of the last message kept) instead of raising."""
    windows = lobster.make_windows(day, window_seconds, messages_per_step, None, start_s)
    steps = np.asarray(windows.num_steps).astype(np.int64)
    counts = np.asarray(windows.num_messages).astype(np.int64)
    first = np.asarray(windows.first_message).astype(np.int64)
    starts = np.asarray(windows.start_s).astype(np.int64)
    ends = starts + window_seconds
    messages = np.asarray(windows.messages)
    if max_steps is not None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        cut = steps > max_steps
        counts = np.where(cut, max_steps * messages_per_step, counts)
        steps = np.minimum(steps, max_steps)
        last = first + counts - 1
        ends = np.where(cut, day.messages[last, m.TIME_S].astype(np.int64) + 1, ends)
        if messages.shape[1] < max_steps:
            pad = max_steps - messages.shape[1]
            messages = np.pad(messages, ((0, 0), (0, pad), (0, 0), (0, 0)))
        messages = messages[:, :max_steps].copy()
    num_windows, total_steps = messages.shape[0], messages.shape[1]
    # File row after each step: the step's last real message; the window's last row past its end.
    step = np.arange(total_steps)
    done = np.minimum((step[None, :] + 1) * messages_per_step, counts[:, None])
    row_index = first[:, None] + done - 1
    step_rows = day.orderbook[row_index]
    # Messages of cut windows past the cut are padding.
    flat = messages.reshape(num_windows, -1, m.NUM_FIELDS)
    beyond = np.arange(flat.shape[1])[None, :] >= counts[:, None]
    flat[beyond] = 0
    return ReplayData(
        messages=flat.reshape(messages.shape).astype(np.int32),
        step_rows=step_rows.astype(np.int32),
        initial_row=np.asarray(windows.initial_book, np.int32),
        num_steps=steps.astype(np.int32),
        start_s=starts.astype(np.int32),
        end_s=ends.astype(np.int32),
        num_windows=np.asarray(num_windows, np.int32),
        day=np.zeros(num_windows, np.int32),
    )


def window_days(data: ReplayData) -> np.ndarray:
    """Each window's day index (host int32, any leading axes): ``data.day``, zeros when None."""
    if data.day is not None:
        return np.asarray(data.day, np.int32)
    return np.zeros(np.shape(data.start_s), np.int32)


def cache_entry(
    message_path, orderbook_path, window_seconds, messages_per_step, max_steps, folder
) -> Path:
    """Where `load_data` keeps a pair's data in ``folder``: the files' content hash plus every
    parameter (`jaxlob.cache.entry_path`)."""
    params = {
        "replay_v": CACHE_FORMAT,
        "w": window_seconds,
        "p": messages_per_step,
        "s": max_steps,
    }
    label = lobster.day_label(message_path)
    return cache.entry_path(folder, label, (message_path, orderbook_path), params)


def load_entry(
    entry: Path | None,
    message_path,
    orderbook_path,
    window_seconds: int,
    messages_per_step: int,
    max_steps: int | None,
) -> ReplayData:
    """The pair's data from cache ``entry`` when it reads back, else built (and saved there)."""
    if entry is not None:
        stored = cache.load(entry, _ARRAYS)
        if stored is not None:
            return ReplayData(**stored, day=np.zeros(stored["start_s"].shape, np.int32))
    day = lobster.load_day(message_path, orderbook_path)
    data = from_day(day, window_seconds, messages_per_step, max_steps)
    if entry is not None:
        cache.save(entry, {name: getattr(data, name) for name in _ARRAYS})
    return data


def load_data(
    message_path=None,
    orderbook_path=None,
    window_seconds: int = lobster.DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = lobster.DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    cache_dir=None,
) -> ReplayData:
    """Replay data of a LOBSTER pair (default: the shipped GOOG day), through the `.npz` cache.

    ``cache_dir`` defaults to `jaxlob.cache.default_cache_dir()`; ``False`` turns the cache off.
    The key hashes both files' bytes and every parameter, so an edited file is never served stale;
    a damaged cache file is rebuilt.
    """
    if message_path is None or orderbook_path is None:
        message_path, orderbook_path = default_files()
    folder = cache.cache_folder(cache_dir)
    entry = None
    if folder is not None:
        entry = cache_entry(
            message_path, orderbook_path, window_seconds, messages_per_step, max_steps, folder
        )
    return load_entry(
        entry, message_path, orderbook_path, window_seconds, messages_per_step, max_steps
    )


def select_windows(data: ReplayData, windows) -> ReplayData:
    """The data of the listed windows only (host arrays; e.g. a train or test split)."""
    index = np.asarray(windows, np.int64)
    count = int(np.asarray(data.num_windows))
    if index.ndim != 1 or index.size == 0 or index.min() < 0 or index.max() >= count:
        raise ValueError(f"windows: need indices in 0..{count - 1}, got {windows!r}")
    take = lambda x: np.asarray(x)[index]  # noqa: E731
    return ReplayData(
        messages=take(data.messages),
        step_rows=take(data.step_rows),
        initial_row=take(data.initial_row),
        num_steps=take(data.num_steps),
        start_s=take(data.start_s),
        end_s=take(data.end_s),
        num_windows=np.asarray(index.size, np.int32),
        day=window_days(data)[index],
    )


def _pad_axis(x: np.ndarray, axis: int, size: int) -> np.ndarray:
    pad = size - x.shape[axis]
    if pad == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    if axis == 0:  # extra windows repeat the first one (never drawn: num_windows says so)
        return np.concatenate([x, np.repeat(x[:1], pad, axis=0)])
    if x.ndim == 3 and axis == 1:  # step rows past the end repeat the last row
        return np.concatenate([x, np.repeat(x[:, -1:], pad, axis=1)], axis=1)
    return np.pad(x, widths)


def stack_days(days: list[ReplayData]) -> ReplayData:
    """Data of several days along a new leading axis (pad windows and steps to the largest)."""
    if not days:
        raise ValueError("stack_days needs at least one ReplayData")
    shapes = {(d.messages_per_step, d.num_levels) for d in days}
    if len(shapes) != 1:
        raise ValueError(f"stack_days: messages_per_step and levels differ between days: {shapes}")
    width = max(d.window_capacity for d in days)
    steps = max(d.max_steps for d in days)
    out = {}
    for name in _ARRAYS:
        parts = []
        for d in days:
            x = np.asarray(getattr(d, name))
            if name != "num_windows":
                x = _pad_axis(x, 0, width)
            if name in ("messages", "step_rows"):
                x = _pad_axis(x, 1, steps)
            parts.append(x)
        out[name] = np.stack(parts)
    out["day"] = np.stack([_pad_axis(window_days(d), 0, width) for d in days])
    return ReplayData(**out)


def as_device(data: ReplayData) -> ReplayData:
    """The same data as JAX arrays (int32)."""
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.int32), data)
