"""Episode windows: a LOBSTER day cut into fixed time windows of fixed-size message steps, stacked
across days with identical shapes (vmappable), and loaded through the ``.npz`` cache."""

from __future__ import annotations

import numpy as np
from flax import struct

from jaxlob import cache
from jaxlob import messages as m
from jaxlob.lobster.day import LobsterDay, load_day
from jaxlob.lobster.names import day_label
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE

DEFAULT_WINDOW_SECONDS = 1800
DEFAULT_MESSAGES_PER_STEP = 100
CACHE_FORMAT = 1  # bump when the cached arrays change meaning


@struct.dataclass
class Windows:
    """Episode windows of one or more days, stacked so that every array has the same shape per window.

    ``messages[w, s]`` are the ``messages_per_step`` messages of step ``s`` of window ``w``; steps
    past the window's last message and the tail of its last step are NOOP padding (all zeros).
    ``initial_book[w]`` is the file's orderbook row just before the window's first message, the
    state the window starts from; ``final_book[w]`` the row after its last message. A day's first
    message is not replayed: orderbook row 0 (the book after it) is where the day starts.
    """

    messages: np.ndarray  # (W, max_steps, messages_per_step, NUM_FIELDS) int32
    initial_book: np.ndarray  # (W, 4 * num_levels) int32
    final_book: np.ndarray  # (W, 4 * num_levels) int32
    num_messages: np.ndarray  # (W,) int32, real messages in the window
    num_steps: np.ndarray  # (W,) int32, steps holding at least one real message
    start_s: np.ndarray  # (W,) int32, the window's nominal start (seconds after midnight)
    first_message: np.ndarray  # (W,) int32, index of the first message in its day's files
    day: np.ndarray  # (W,) int32, which day (position in the list given to stack_windows)
    window_seconds: int = struct.field(pytree_node=False, default=DEFAULT_WINDOW_SECONDS)
    messages_per_step: int = struct.field(pytree_node=False, default=DEFAULT_MESSAGES_PER_STEP)

    @property
    def num_windows(self) -> int:
        return self.messages.shape[0]

    @property
    def max_steps(self) -> int:
        return self.messages.shape[1]

    @property
    def num_levels(self) -> int:
        return self.initial_book.shape[-1] // 4

    def window_messages(self, w: int) -> np.ndarray:
        """The real (unpadded) messages of window ``w``, ``(num_messages[w], NUM_FIELDS)``."""
        flat = np.asarray(self.messages[w]).reshape(-1, m.NUM_FIELDS)
        return flat[: int(self.num_messages[w])]


def _window_bounds(day: LobsterDay, window_seconds: int, start_s: int | None):
    """Nominal window start times and, per window, the message index range [first, end)."""
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    msgs = day.messages
    time_ns = msgs[:, m.TIME_S].astype(np.int64) * m.NANOS_PER_SECOND + msgs[:, m.TIME_NS]
    first_s = int(msgs[0, m.TIME_S])
    if start_s is None:
        start_s = day.name.start_s if day.name is not None else first_s
        start_s = min(start_s, first_s)
    if first_s < start_s:
        raise ValueError(
            f"{day.message_path}: first message at {first_s} s is before the window start {start_s} s"
        )
    window_ns = window_seconds * m.NANOS_PER_SECOND
    index = (time_ns - start_s * m.NANOS_PER_SECOND) // window_ns
    index[0] = -1  # message 0 is the state of row 0, not replayed
    windows = np.unique(index[1:])
    firsts = np.searchsorted(index, windows, side="left")
    ends = np.searchsorted(index, windows, side="right")
    starts = start_s + windows * window_seconds
    return starts, firsts, ends


def make_windows(
    day: LobsterDay,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    start_s: int | None = None,
) -> Windows:
    """Split a day into fixed time windows of ``window_seconds`` (from the file name's start time,
    or ``start_s``), each cut into steps of ``messages_per_step`` messages.

    Every message but the day's first belongs to exactly one window; the last, partial window is
    kept and windows with no message are left out (``start_s`` says which ones remain).
    ``max_steps`` pads every window to that many steps (default: the longest window's); a window
    that needs more raises ValueError rather than being cut.
    """
    if messages_per_step <= 0:
        raise ValueError(f"messages_per_step must be positive, got {messages_per_step}")
    if day.num_rows < 2:
        raise ValueError(f"{day.message_path}: a day needs at least 2 rows to make a window")
    starts, firsts, ends = _window_bounds(day, window_seconds, start_s)
    counts = ends - firsts
    steps = -(-counts // messages_per_step)
    needed = int(steps.max())
    if max_steps is None:
        max_steps = needed
    elif needed > max_steps:
        w = int(np.argmax(steps))
        raise ValueError(
            f"{day.message_path}: window starting at {starts[w]} s needs {needed} steps of "
            f"{messages_per_step} messages, more than max_steps={max_steps}"
        )
    num_windows = len(starts)
    out = np.zeros((num_windows, max_steps * messages_per_step, m.NUM_FIELDS), np.int32)
    for w in range(num_windows):
        out[w, : counts[w]] = day.messages[firsts[w] : ends[w]]
    return Windows(
        messages=out.reshape(num_windows, max_steps, messages_per_step, m.NUM_FIELDS),
        initial_book=day.orderbook[firsts - 1].copy(),
        final_book=day.orderbook[ends - 1].copy(),
        num_messages=counts.astype(np.int32),
        num_steps=steps.astype(np.int32),
        start_s=starts.astype(np.int32),
        first_message=firsts.astype(np.int32),
        day=np.zeros(num_windows, np.int32),
        window_seconds=window_seconds,
        messages_per_step=messages_per_step,
    )


def _pad_levels(rows: np.ndarray, num_levels: int) -> np.ndarray:
    have = rows.shape[-1] // 4
    if have == num_levels:
        return rows
    if have > num_levels:
        raise ValueError(f"cannot shrink {have} levels to {num_levels}")
    empty = np.tile(
        np.array([DUMMY_ASK_PRICE, 0, DUMMY_BID_PRICE, 0], np.int32),
        (rows.shape[0], num_levels - have),
    )
    return np.concatenate([rows, empty], axis=-1)


def stack_windows(
    windows: list[Windows], max_steps: int | None = None, num_levels: int | None = None
) -> Windows:
    """Concatenate windows of several days into one ``Windows`` with identical shapes (vmappable).

    Steps are padded with NOOP messages to ``max_steps`` (default: the most any day needs) and book
    rows with empty levels to ``num_levels`` (default: the most any day has). ``day`` numbers the
    inputs in order. All inputs must share ``window_seconds`` and ``messages_per_step``.
    """
    if not windows:
        raise ValueError("stack_windows needs at least one Windows")
    first = windows[0]
    for w in windows[1:]:
        if (w.window_seconds, w.messages_per_step) != (
            first.window_seconds,
            first.messages_per_step,
        ):
            raise ValueError(
                "cannot stack windows of different window_seconds/messages_per_step: "
                f"{(first.window_seconds, first.messages_per_step)} vs "
                f"{(w.window_seconds, w.messages_per_step)}"
            )
    need_steps = max(w.max_steps for w in windows)
    max_steps = need_steps if max_steps is None else max_steps
    if need_steps > max_steps:
        raise ValueError(f"a day needs {need_steps} steps, more than max_steps={max_steps}")
    num_levels = max(w.num_levels for w in windows) if num_levels is None else num_levels

    def pad_steps(x: np.ndarray) -> np.ndarray:
        pad = max_steps - x.shape[1]
        return np.pad(x, ((0, 0), (0, pad), (0, 0), (0, 0))) if pad else x

    return Windows(
        messages=np.concatenate([pad_steps(np.asarray(w.messages)) for w in windows]),
        initial_book=np.concatenate(
            [_pad_levels(np.asarray(w.initial_book), num_levels) for w in windows]
        ),
        final_book=np.concatenate(
            [_pad_levels(np.asarray(w.final_book), num_levels) for w in windows]
        ),
        num_messages=np.concatenate([w.num_messages for w in windows]),
        num_steps=np.concatenate([w.num_steps for w in windows]),
        start_s=np.concatenate([w.start_s for w in windows]),
        first_message=np.concatenate([w.first_message for w in windows]),
        day=np.concatenate([np.full(w.num_windows, i, np.int32) for i, w in enumerate(windows)]),
        window_seconds=first.window_seconds,
        messages_per_step=first.messages_per_step,
    )


# --------------------------------------------------------------------------- cached loading


_WINDOW_ARRAYS = (
    "messages",
    "initial_book",
    "final_book",
    "num_messages",
    "num_steps",
    "start_s",
    "first_message",
    "day",
)


def windows_cache_path(
    message_path, orderbook_path, window_seconds, messages_per_step, max_steps, start_s, cache_dir
):
    """Where ``load_windows`` keeps these windows: the files' content hash plus the parameters."""
    params = {
        "v": CACHE_FORMAT,
        "w": window_seconds,
        "p": messages_per_step,
        "s": max_steps,
        "t": start_s,
    }
    label = day_label(message_path)
    return cache.entry_path(cache_dir, label, (message_path, orderbook_path), params)


def load_windows(
    message_path,
    orderbook_path,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    start_s: int | None = None,
    cache_dir=None,
) -> Windows:
    """Windows of one day, from the ``.npz`` cache when the same files and parameters were seen.

    ``cache_dir`` defaults to ``jaxlob.cache.default_cache_dir()`` (outside the repository);
    ``False`` turns the cache off. The key is the SHA-256 of both files' bytes plus every
    parameter, so an edited file is never served stale; a damaged entry is rebuilt.
    """
    folder = cache.cache_folder(cache_dir)
    path = None
    if folder is not None:
        path = windows_cache_path(
            message_path,
            orderbook_path,
            window_seconds,
            messages_per_step,
            max_steps,
            start_s,
            folder,
        )
        stored = cache.load(path, _WINDOW_ARRAYS)
        if stored is not None:
            return Windows(
                **stored, window_seconds=window_seconds, messages_per_step=messages_per_step
            )
    day = load_day(message_path, orderbook_path)
    windows = make_windows(day, window_seconds, messages_per_step, max_steps, start_s)
    if path is not None:
        cache.save(path, {name: getattr(windows, name) for name in _WINDOW_ARRAYS})
    return windows


def load_days(
    pairs,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    messages_per_step: int = DEFAULT_MESSAGES_PER_STEP,
    max_steps: int | None = None,
    num_levels: int | None = None,
    cache_dir=None,
) -> Windows:
    """Windows of several (message, orderbook) pairs, stacked with identical shapes."""
    per_day = [
        load_windows(msg, book, window_seconds, messages_per_step, cache_dir=cache_dir)
        for msg, book in pairs
    ]
    return stack_windows(per_day, max_steps=max_steps, num_levels=num_levels)
