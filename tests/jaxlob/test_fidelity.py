"""Replay fidelity on the GOOG samples (levels 1, 5, 10): every one-step and re-synchronised mismatch
is explained by depth the file does not show, re-synchronised replay of the level-10 day matches
about 96 % of rows (ORACLES.md), and the JAX replays equal the plain-Python reference book."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from jaxlob import fidelity, lobster, reference, views
from jaxlob import messages as m
from jaxlob.__main__ import main
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, book_from_snapshot

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "lobster"  # levels 1 and 5 (not shipped in data/)
STEM = "GOOG_2012-06-21_34200000_57600000"
CAPACITY = 64  # one capacity for every replay here, so each level compiles once
HEAD = 3001  # rows of the day used where a whole day is not needed


def sample(kind: str, level: int) -> Path:
    name = f"{STEM}_{kind}_{level}.csv.gz"
    for folder in (REPO / "data", SHARED):
        if (folder / name).exists():
            return folder / name
    pytest.skip(f"{name} not available")


_DAYS: dict[int, lobster.LobsterDay] = {}


def goog(level: int) -> lobster.LobsterDay:
    if level not in _DAYS:
        _DAYS[level] = lobster.load_day(sample("message", level), sample("orderbook", level))
    return _DAYS[level]


def raw_type_counts(level: int) -> dict[int, int]:
    """Event types of messages 1..n-1, read independently of jaxlob.lobster."""
    table = pd.read_csv(sample("message", level), header=None)
    return table[1].iloc[1:].value_counts().to_dict()


def reference_rows(day: lobster.LobsterDay, capacity: int | None) -> tuple[np.ndarray, dict]:
    """Continuous replay (capacity given) or one-step rows (capacity None) by the Python book."""
    levels, rows = day.num_levels, []
    book = reference.book_from_snapshot(day.orderbook[0], capacity or 1, levels)
    for k in range(1, day.num_rows):
        if capacity is None:
            book = reference.book_from_snapshot(day.orderbook[k - 1], levels + 1, levels)
        book, _ = reference.apply_message(book, day.messages[k])
        rows.append(reference.top_levels(book, levels))
    return np.asarray(rows), reference.counters(book)


# --------------------------------------------------------------------------- one-step


@pytest.mark.parametrize("level", [1, 5, 10])
def test_one_step_mismatches_are_all_unseen_depth(level):
    """Whole day: from row k-1, message k gives row k except where a level deeper than the file
    shows comes into view; never an unexplained mismatch, never an unmatched cancel."""
    day = goog(level)
    rows, counters = fidelity.one_step(day)
    prev, file = day.orderbook[:-1], day.orderbook[1:]
    classes = fidelity.classify(prev, rows, file)
    assert (classes != fidelity.UNEXPLAINED).all(), np.flatnonzero(classes)[:5] + 2
    revealed = classes == fidelity.UNSEEN_DEPTH
    assert revealed.sum() > 0  # the classification is exercised, not vacuous
    # Independent of the classifier: only a removal can bring hidden depth into view, and the file
    # then shows a price beyond the previous row's last level, on a side that was full.
    typ = day.messages[1:, m.TYPE]
    assert np.isin(typ[revealed], (m.CANCEL, m.DELETE, m.EXECUTE)).all()
    side = np.where(day.messages[1:, m.DIRECTION] == m.SELL, 0, 2)[revealed]
    idx = np.flatnonzero(revealed)
    last_prev = prev[idx, 4 * (level - 1) + side]
    last_file = file[idx, 4 * (level - 1) + side]
    beyond = np.where(side == 0, last_file > last_prev, last_file < last_prev)
    assert beyond.all()
    assert counters["unmatched_cancels"] == 0 and counters["unmatched_executions"] == 0
    assert counters["evicted_orders"] == 0
    assert counters["hidden_executions"] == raw_type_counts(level).get(5, 0)


def test_one_step_equals_the_reference_book():
    day = goog(5).head(HEAD)
    rows, _ = fidelity.one_step(day)
    expected, _ = reference_rows(day, capacity=None)
    np.testing.assert_array_equal(rows, expected)


def test_classifier_flags_what_depth_cannot_explain():
    # two levels; previous row full on both sides
    prev = np.array([[101, 5, 99, 5, 102, 7, 98, 7]], np.int32)
    revealed = np.array([[102, 7, 99, 5, 103, 4, 98, 7]], np.int32)  # ask 101 gone, 103 appears
    engine = np.array([[102, 7, 99, 5, DUMMY_ASK_PRICE, 0, 98, 7]], np.int32)
    assert fidelity.classify(prev, engine, revealed)[0] == fidelity.UNSEEN_DEPTH
    wrong_size = engine.copy()
    wrong_size[0, 1] = 6  # a visible level with the wrong size
    assert fidelity.classify(prev, wrong_size, revealed)[0] == fidelity.UNEXPLAINED
    wrong_bid = engine.copy()
    wrong_bid[0, 3] = 4
    assert fidelity.classify(prev, wrong_bid, revealed)[0] == fidelity.UNEXPLAINED
    # a side that was not full has no hidden depth: the same difference is unexplained
    not_full = prev.copy()
    not_full[0, 4:6] = [DUMMY_ASK_PRICE, 0]
    assert fidelity.classify(not_full, engine, revealed)[0] == fidelity.UNEXPLAINED
    assert fidelity.classify(prev, revealed, revealed)[0] == fidelity.MATCH
    # an unknown order's cancellation explains a mismatch only where that rule is asked for
    assert fidelity.classify(prev, wrong_size, revealed, np.array([True]))[0] == (
        fidelity.UNSEEN_DEPTH
    )


def test_unseen_orders_are_those_never_submitted_earlier():
    msgs = np.zeros((5, m.NUM_FIELDS), np.int32)
    msgs[:, m.TYPE] = [m.SUBMIT, m.DELETE, m.DELETE, m.EXECUTE, m.SUBMIT]
    msgs[:, m.ORDER_ID] = [7, 7, 8, 9, 9]
    np.testing.assert_array_equal(fidelity.unseen_orders(msgs), [False, False, True, True, False])


# --------------------------------------------------------------------------- replays


@pytest.mark.parametrize("level", [1, 5, 10])
def test_resynchronised_mismatches_are_all_unseen_depth(level):
    day = goog(level)
    out = fidelity.replay(day, CAPACITY, resync=True)
    classes = fidelity.classify(
        day.orderbook[:-1], out.rows, day.orderbook[1:], fidelity.unseen_orders(day.messages)[1:]
    )
    assert (classes != fidelity.UNEXPLAINED).all(), np.flatnonzero(classes == 2)[:5] + 2
    assert out.resyncs >= np.sum(classes != fidelity.MATCH)  # every mismatch was re-synchronised
    assert out.counters["hidden_executions"] == raw_type_counts(level).get(5, 0)
    if level == 10:
        # ORACLES.md: about 96 % exactly matching rows on the GOOG level-10 day
        rate = np.mean(classes == fidelity.MATCH)
        assert abs(rate - 0.96) <= 0.01, rate


def test_continuous_replay_equals_the_reference_book():
    """Drift from unseen depth is the data's, not the engine's: the Python book drifts identically."""
    day = goog(10).head(HEAD)
    out = fidelity.replay(day, CAPACITY)
    expected, counters = reference_rows(day, capacity=CAPACITY)
    np.testing.assert_array_equal(out.rows, expected)
    for name in (
        "unmatched_cancels",
        "unmatched_executions",
        "evicted_orders",
        "hidden_executions",
    ):
        assert out.counters[name] == counters[name], name
    assert np.mean(np.all(out.rows == day.orderbook[1:], axis=1)) < 0.5  # it does drift


def test_resync_side_puts_file_levels_first_and_keeps_deeper_orders():
    # engine bids: 99 x3 (two orders), 98 x4, 97 x5, 96 x6; the file shows two levels 99 x2, 98 x4
    snapshot = np.array(
        [DUMMY_ASK_PRICE, 0, 99, 3, DUMMY_ASK_PRICE, 0, 98, 4]
        + [DUMMY_ASK_PRICE, 0, 97, 5, DUMMY_ASK_PRICE, 0, 96, 6],
        np.int32,
    )
    book = book_from_snapshot(jnp.asarray(snapshot), 8, 4)
    row = np.array([DUMMY_ASK_PRICE, 0, 99, 2, DUMMY_ASK_PRICE, 0, 98, 4], np.int32)
    side, lost = fidelity._resync_side(
        book.bids, jnp.asarray(row[2::4]), jnp.asarray(row[3::4]), False, 50
    )
    orders = views.side_orders(side)
    np.testing.assert_array_equal(orders["price"], [99, 98, 97, 96])
    np.testing.assert_array_equal(orders["quantity"], [2, 4, 5, 6])
    assert int(lost) == 0
    # a file side with fewer levels than the file has room for shows all there is: nothing kept
    row[6:8] = [DUMMY_BID_PRICE, 0]
    side, _ = fidelity._resync_side(
        book.bids, jnp.asarray(row[2::4]), jnp.asarray(row[3::4]), False, 50
    )
    np.testing.assert_array_equal(views.side_orders(side)["price"], [99])


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def head_files(tmp_path_factory) -> tuple[Path, Path]:
    """The first HEAD rows of the level-10 day, copied as text."""
    folder = tmp_path_factory.mktemp("head")
    paths = []
    for kind in ("message", "orderbook"):
        with gzip.open(sample(kind, 10), "rt") as f:
            lines = [next(f) for _ in range(HEAD)]
        path = folder / f"{STEM}_{kind}_10.csv"
        path.write_text("".join(lines))
        paths.append(path)
    return paths[0], paths[1]


def test_reconstruct_command_writes_the_engine_book(head_files, tmp_path, capsys):
    msgs, book = head_files
    out = tmp_path / "rebuilt.csv"
    assert main(["reconstruct", str(msgs), str(book), "--out", str(out), "--capacity", "64"]) == 0
    written = out.read_text().splitlines()
    original = book.read_text().splitlines()
    assert len(written) == HEAD and written[0] == original[0]
    day = lobster.load_day(msgs, book)
    expected, _ = reference_rows(day, capacity=CAPACITY)
    rebuilt = np.array([[int(x) for x in line.split(",")] for line in written[1:]], np.int64)
    np.testing.assert_array_equal(rebuilt, lobster.to_lobster_orderbook(expected))
    assert "wrote 3001 rows" in capsys.readouterr().out


def test_check_command_reports_three_modes(head_files, capsys):
    msgs, book = head_files
    assert main(["check", str(msgs), str(book), "--capacity", "64", "--json", "--strict"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_messages"] == HEAD - 1
    for mode in ("one_step", "continuous", "resynchronised"):
        assert report[mode]["rows"] == HEAD - 1
        assert 0 <= report[mode]["match_rate"] <= 1
    assert report["one_step"]["unexplained"] == 0 and report["resynchronised"]["unexplained"] == 0
    assert report["continuous"]["unexplained"] is None
    types = pd.read_csv(msgs, header=None)[1].iloc[1:].value_counts().to_dict()
    assert report["event_types"] == {str(k): v for k, v in sorted(types.items())}
    for name in (
        "unmatched_cancels",
        "unmatched_executions",
        "evicted_orders",
        "hidden_executions",
    ):
        assert name in report["continuous"]["counters"]
    assert main(["check", str(msgs), str(book), "--capacity", "64"]) == 0
    text = capsys.readouterr().out
    assert "one-step" in text and "resynchronised" in text and "halts 0" in text


def test_check_command_reports_a_bad_file_in_one_line(tmp_path, capsys):
    corpus = Path(__file__).resolve().parent / "corpus" / "direction"
    stem = "TEST_2012-06-21_34200000_57600000"
    code = main(
        ["check", str(corpus / f"{stem}_message_2.csv"), str(corpus / f"{stem}_orderbook_2.csv")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "row 2" in err and "direction" in err
