"""The ``.npz`` cache of arrays built from data files: keys, atomic writes, loads that never crash.

An entry is one ``.npz`` file named ``LABEL_KEY.npz`` in the cache folder, where ``KEY`` hashes the
bytes of the source files and every build parameter, so an edited file or a changed parameter is a
different entry and never served stale. Writes go to a temporary file in the same folder and are
renamed into place, so a reader never sees half a file and concurrent writers do not collide. A
file that cannot be read back (empty, truncated, not an ``.npz``, an array missing) is a miss: the
caller rebuilds it and the rebuilt entry replaces it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

# What a damaged or foreign .npz raises on reading.
_UNREADABLE = (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile)


def default_cache_dir() -> Path:
    """``$JAXLOB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxlob``, else ``~/.cache/jaxlob``."""
    if os.environ.get("JAXLOB_CACHE_DIR"):
        return Path(os.environ["JAXLOB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxlob"


def cache_folder(cache_dir) -> Path | None:
    """The folder a loader caches in: ``default_cache_dir()`` for None, no cache for False."""
    if cache_dir is False:
        return None
    return default_cache_dir() if cache_dir is None else Path(cache_dir)


def content_hash(*paths) -> str:
    """SHA-256 over the bytes of the files, in order (the data part of a key)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def entry_path(folder, label: str, files: Iterable, params: Mapping[str, object]) -> Path:
    """``folder/LABEL_KEY.npz``; ``KEY`` hashes the files' bytes and ``params`` (name -> value, in
    the given order; include a format version that changes when the arrays change meaning)."""
    described = "_".join(f"{name}{value}" for name, value in params.items())
    key = hashlib.sha256(f"{content_hash(*files)}|{described}".encode()).hexdigest()[:24]
    return Path(folder) / f"{label}_{key}.npz"


def load(path: Path, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of an entry, or None when it is absent or cannot be read back."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in names}
    except _UNREADABLE:
        return None


def save(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an entry atomically (a temporary file in the same folder, renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{name: np.asarray(value) for name, value in arrays.items()})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
