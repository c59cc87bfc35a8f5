"""The soak command (``python -m jaxlob.soak``) on a small run: random device-drawn streams through
vmapped books with the invariants checked after every message and a sample replayed through the
reference book. The long run (10 million messages) is outside the suite; its result is in the
README."""

from __future__ import annotations

import io

import pytest

from jaxlob import soak


def test_a_small_soak_passes_and_reports_one_summary_line():
    out = io.StringIO()
    cfg = soak.SoakConfig(messages=3000, books=6, capacity=8, levels=3, chunk=250, sample=3)
    assert soak.run(cfg, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("soak PASS: 3,000 messages through 6 books")
    assert (
        "invariant violations 0" in lines[-1]
        and "3 books, 1,500 messages, 0 differences" in lines[-1]
    )
    assert len(lines) == 1 + cfg.chunks + 1  # header, one line per chunk, summary


def test_bad_options_get_one_line_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        soak.main(["--messages", "10", "--books", "0"])
    assert exit_info.value.code == 2
    assert "--books must be a positive integer, got 0" in capsys.readouterr().err
