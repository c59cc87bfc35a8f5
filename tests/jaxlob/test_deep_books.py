"""The engine's windowed matching and deep books against the plain-Python reference.

Matching reads the trading side ``engine.MATCH_WINDOW`` ranks at a time and reads the next window
only while a sweep goes on; books of the other tests are smaller than one window. Here the window is
set (at trace time) to 3 ranks on 8-slot books, so that every sweep of the stress streams
crosses windows, and a 64-slot book gets sweeps of dozens of orders through the default window.
The plain forms of the XLA:CPU-specific code (``JAXLOB_CPU_TRICKS=off``) are checked the same way.
The oracle is the reference book, compared after every message (orders, fills, counters, levels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jaxlob as jl
from jaxlob import backend, engine
from jaxlob import random_messages as rm
from jaxlob import reference as ref

LEVELS = 4
MIX = {**rm.STRESS_MIX, "passive": 0.5}


def _replay_fn():
    """A fresh jitted replay, so that it traces with the current window and switch."""

    @jax.jit
    def replay(book, msgs):
        def step(book, msg):
            book, fills = jl.apply_message(book, msg)
            return book, (book, fills, jl.top_levels(book, LEVELS))

        return lax.scan(step, book, msgs)[1]

    return replay


def _check(compare, book, ref_book, msgs) -> None:
    books, fills, tops = jax.device_get(_replay_fn()(book, jnp.asarray(msgs)))
    for i, msg in enumerate(msgs):
        ref_book, ref_fills = ref.apply_message(ref_book, msg)
        step = compare["at"]((books, fills, tops), i)
        problems = compare["step"](*step, ref_book, ref_fills, LEVELS)
        assert not problems, f"message {i} {msg.tolist()}: {problems[:4]}"


@pytest.mark.parametrize("window", [3])
def test_sweeps_across_windows_match_reference(compare, monkeypatch, window):
    monkeypatch.setattr(engine, "MATCH_WINDOW", window)
    ref_book = ref.empty_book(8, 3, 2)
    msgs = rm.random_stream(np.random.default_rng(0), 200, ref_book, mix=MIX, max_size=30)
    _check(compare, jl.empty_book(8, 3, 2), ref_book, msgs)


@pytest.mark.parametrize("tricks", ["on", "off"])
def test_deep_book_sweeps_match_reference(compare, streams, monkeypatch, tricks):
    """64 slots, sweeps beyond the default window; both forms of the CPU-specific code."""
    monkeypatch.setenv(backend.ENV_VAR, tricks)
    stream = streams["deep_sweep_stream"](7)
    _check(compare, jl.empty_book(64, 8, 2), ref.empty_book(64, 8, 2), stream)
    # The stream must sweep past one window somewhere.
    _, record = ref.apply_messages(ref.empty_book(64, 8, 2), stream, keep_fills=True)
    most = max(f.totals.num_fills for f in record.fills)
    assert most > engine.MATCH_WINDOW
