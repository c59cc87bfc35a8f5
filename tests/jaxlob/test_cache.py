"""The `.npz` cache (`jaxlob.cache`): keys follow file contents and parameters, writes are atomic,
and a damaged entry (empty, truncated, not an archive, an array missing) is a miss that the loaders
rebuild instead of crashing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxlob import cache, lobster

CORPUS = Path(__file__).resolve().parent / "corpus" / "valid"
STEM = "TEST_2012-06-21_34200000_57600000"
ARRAYS = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.asarray([1.5, 2.5])}


@pytest.fixture
def day_files(tmp_path) -> tuple[Path, Path]:
    """A copy of the small valid corpus day (so a test may edit it)."""
    paths = []
    for kind in ("message", "orderbook"):
        paths.append(Path(shutil.copy(CORPUS / f"{STEM}_{kind}_2.csv", tmp_path)))
    return paths[0], paths[1]


def _damage(path: Path, how: str) -> None:
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "not_an_archive":
        path.write_bytes(b"this is not a zip file")
    elif how == "missing_array":
        np.savez(path, a=ARRAYS["a"])


def test_save_then_load_gives_the_arrays_back_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "entry.npz"
    assert cache.load(path, ARRAYS) is None  # absent: a miss
    cache.save(path, ARRAYS)
    stored = cache.load(path, ARRAYS)
    for name, value in ARRAYS.items():
        np.testing.assert_array_equal(stored[name], value)
    assert [p.name for p in path.parent.iterdir()] == ["entry.npz"]


@pytest.mark.parametrize("how", ["empty", "truncated", "not_an_archive", "missing_array"])
def test_a_damaged_entry_is_a_miss(tmp_path, how):
    path = tmp_path / "entry.npz"
    cache.save(path, ARRAYS)
    _damage(path, how)
    assert cache.load(path, ARRAYS) is None


def test_keys_follow_file_contents_and_parameters(day_files, tmp_path):
    msg, book = day_files
    key = cache.entry_path(tmp_path, "day", (msg, book), {"v": 1, "w": 1800})
    assert key.parent == tmp_path and key.name.startswith("day_") and key.suffix == ".npz"
    assert cache.entry_path(tmp_path, "day", (msg, book), {"v": 1, "w": 1800}) == key
    assert cache.entry_path(tmp_path, "day", (msg, book), {"v": 1, "w": 900}) != key
    assert cache.entry_path(tmp_path, "day", (msg, book), {"v": 2, "w": 1800}) != key
    msg.write_text(msg.read_text() + msg.read_text().splitlines()[-1] + "\n")
    assert cache.entry_path(tmp_path, "day", (msg, book), {"v": 1, "w": 1800}) != key


def test_cache_folder_is_the_default_none_or_the_given_one(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXLOB_CACHE_DIR", str(tmp_path / "default"))
    assert cache.cache_folder(None) == tmp_path / "default"
    assert cache.cache_folder(False) is None
    assert cache.cache_folder(str(tmp_path)) == tmp_path


@pytest.mark.parametrize("how", ["empty", "truncated"])
def test_load_windows_rebuilds_a_damaged_cache_file(day_files, tmp_path, how):
    msg, book = day_files
    folder = tmp_path / "cache"
    first = lobster.load_windows(msg, book, cache_dir=folder)
    (entry,) = folder.glob("*.npz")
    _damage(entry, how)
    again = lobster.load_windows(msg, book, cache_dir=folder)
    for name in ("messages", "initial_book", "final_book", "num_messages", "start_s", "day"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert list(folder.glob("*.npz")) == [entry]
    assert cache.load(entry, ["messages"]) is not None  # the rebuilt entry replaced the damaged one
