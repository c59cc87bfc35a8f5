"""The LOBSTER pipeline on the GOOG level-10 day: load-and-window time (cold, and from the .npz
cache), and replay throughput through one book (the whole day in one scan) and through many books at
once (different windows of the day, vmapped), against the plain-Python reference book."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.scale import scale
from benchmarks.timing import best_and_median
from jaxlob import lobster, reference
from jaxlob.engine import apply_message
from jaxlob.state import book_from_snapshot

DATA = Path(__file__).resolve().parents[1] / "data"
STEM = "GOOG_2012-06-21_34200000_57600000"
CAPACITY = 128  # orders per side


def _files() -> tuple[Path, Path]:
    msg = DATA / f"{STEM}_message_10.csv.gz"
    book = DATA / f"{STEM}_orderbook_10.csv.gz"
    if not msg.exists():
        raise FileNotFoundError(f"{msg} is missing: the GOOG level-10 sample ships in data/")
    return msg, book


def _replay_fn(num_levels: int):
    """From a LOBSTER row, apply a run of messages in one scan; return the final book's counters."""

    def one(row, msgs):
        book = book_from_snapshot(row, CAPACITY, num_levels)

        def step(book, msg):
            book, _ = apply_message(book, msg)
            return book, None

        book, _ = jax.lax.scan(step, book, msgs)
        return book.counters.messages, book.bids.count, book.asks.count

    return one


def _timed_compile(fn, *args) -> tuple[object, float]:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def _load_rows(msg: Path, book: Path, repeats: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        cold = []
        for i in range(repeats):  # a fresh cache folder each time: parse, validate, window, save
            folder = Path(cache) / f"cold{i}"
            start = time.perf_counter()
            windows = lobster.load_windows(msg, book, cache_dir=folder)
            cold.append(time.perf_counter() - start)
        warm_best, warm_median = best_and_median(
            lambda: lobster.load_windows(msg, book, cache_dir=Path(cache) / "cold0"), repeats
        )
    n = int(windows.num_messages.sum()) + 1
    for stage, best, median in (
        ("load+window, cold", min(cold), float(np.median(cold))),
        ("load+window, cached .npz", warm_best, warm_median),
    ):
        rows.append(
            {
                "stage": stage,
                "books": 1,
                "messages_per_book": n,
                "compile_s": "",
                "best_s": round(best, 4),
                "median_s": round(median, 4),
                "messages_per_s": round(n / best),
            }
        )
    return rows


def _replay_rows(day: lobster.LobsterDay, quick: bool, repeats: int) -> list[dict]:
    rows = []
    levels = day.num_levels
    one = _replay_fn(levels)
    msgs = jnp.asarray(day.messages[1:])
    row0 = jnp.asarray(day.orderbook[0])
    compiled, compile_s = _timed_compile(one, row0, msgs)
    best, median = best_and_median(lambda: jax.block_until_ready(compiled(row0, msgs)), repeats)
    n = msgs.shape[0]
    rows.append(
        {
            "stage": "replay, whole day, one book (scan)",
            "books": 1,
            "messages_per_book": n,
            "compile_s": round(compile_s, 2),
            "best_s": round(best, 4),
            "median_s": round(median, 4),
            "messages_per_s": round(n / best),
        }
    )

    # Many books, each replaying a different window of the day: window b starts at message
    # 1 + b * stride and runs for `length` messages from the orderbook row just before it.
    num_books, length = {"quick": (100, 500), "cpu": (1000, 1000), "gpu": (10000, 1000)}[
        scale(quick)
    ]
    stride = (day.num_rows - 1 - length) // (num_books - 1)
    starts = 1 + stride * np.arange(num_books)
    windows = jnp.asarray(day.messages[starts[:, None] + np.arange(length)[None, :]])
    initial = jnp.asarray(day.orderbook[starts - 1])
    batched = jax.vmap(one)
    compiled, compile_s = _timed_compile(batched, initial, windows)
    best, median = best_and_median(
        lambda: jax.block_until_ready(compiled(initial, windows)), repeats
    )
    rows.append(
        {
            "stage": f"replay, {num_books} windows, {num_books} books (vmap of scan)",
            "books": num_books,
            "messages_per_book": length,
            "compile_s": round(compile_s, 2),
            "best_s": round(best, 4),
            "median_s": round(median, 4),
            "messages_per_s": round(num_books * length / best),
        }
    )

    # CPU baseline: the plain-Python reference book, same capacity, in this process.
    baseline_n = 20_000 if quick else n

    def python_replay():
        book = reference.book_from_snapshot(day.orderbook[0], CAPACITY, levels)
        reference.apply_messages(book, day.messages[1 : baseline_n + 1])

    py_best, py_median = best_and_median(python_replay, 1 if not quick else 2)
    rows.append(
        {
            "stage": "baseline: Python reference book, one book",
            "books": 1,
            "messages_per_book": baseline_n,
            "compile_s": "",
            "best_s": round(py_best, 4),
            "median_s": round(py_median, 4),
            "messages_per_s": round(baseline_n / py_best),
        }
    )
    return rows


def run(quick: bool = False) -> dict:
    msg, book = _files()
    repeats = 3 if quick else 5
    rows = _load_rows(msg, book, repeats)
    day = lobster.load_day(msg, book)
    rows += _replay_rows(day, quick, repeats)
    device = jax.devices()[0]
    return {
        "name": "lobster_pipeline",
        "description": "GOOG 2012-06-21 level 10 (147,916 messages): load and window (30-minute "
        "windows, 100 messages per step), replay throughput through one book and many books "
        f"(capacity {CAPACITY} orders per side), Python reference book as CPU baseline",
        "rows": rows,
        "notes": f"device: {device.device_kind} ({device.platform}); best and median of {repeats} "
        "repeats (the Python baseline: 1 or 2); compile time measured separately by ahead-of-time "
        "lowering; the cold load parses, validates, windows and writes the cache; the cached load "
        "hashes both files and reads the .npz.",
    }
