"""The synthetic order-flow generator: valid LOBSTER files, replay exact by construction (JAX engine
and Python reference), determinism, and event counts against the model's Poisson rates."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlob import fidelity, lobster, reference, synthetic
from jaxlob import messages as m
from jaxlob.__main__ import main

SECONDS = 300
CAPACITY = 64


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    code = main(["synthesize", "--out", str(folder), "--seconds", str(SECONDS), "--seed", "3"])
    assert code == 0
    msgs = sorted(folder.glob("*_message_*.csv.gz"))
    books = sorted(folder.glob("*_orderbook_*.csv.gz"))
    assert len(msgs) == len(books) == 1
    return msgs[0], books[0]


@pytest.fixture(scope="module")
def day(files):
    return lobster.load_day(*files)  # validates every row


def test_files_are_named_and_shaped_like_lobster(files, day):
    name = lobster.parse_name(files[0])
    params = synthetic.ZeroIntelligenceParams()
    assert (name.ticker, name.start_ms, name.end_ms) == ("SYNTH", 34200000, 34500000)
    assert name.level == params.levels == day.num_levels
    types = set(np.unique(day.messages[:, m.TYPE]).tolist())
    assert types == {m.SUBMIT, m.CANCEL, m.DELETE, m.EXECUTE, m.HIDDEN}


def test_replay_is_exact_by_construction(day):
    """Full depth: the engine rebuilds every orderbook row from row 0 and the messages."""
    out = fidelity.replay(day, CAPACITY)
    np.testing.assert_array_equal(out.rows, day.orderbook[1:])
    assert out.counters["unmatched_cancels"] == out.counters["unmatched_executions"] == 0
    assert out.counters["evicted_orders"] == 0 and out.counters["size_mismatches"] == 0
    one_step, counters = fidelity.one_step(day)
    np.testing.assert_array_equal(one_step, day.orderbook[1:])
    assert counters["unmatched_cancels"] == counters["unmatched_executions"] == 0


def test_reference_book_replays_the_files_exactly_too(day):
    book = reference.book_from_snapshot(day.orderbook[0], CAPACITY, day.num_levels)
    for k in range(1, min(day.num_rows, 3000)):
        book, _ = reference.apply_message(book, day.messages[k])
        np.testing.assert_array_equal(reference.top_levels(book, day.num_levels), day.orderbook[k])


def test_same_seed_same_bytes_other_seed_other_flow(tmp_path, files):
    again = synthetic.synthesize(tmp_path / "a", seconds=SECONDS, seed=3)
    assert again[0].read_bytes() == files[0].read_bytes()
    assert again[1].read_bytes() == files[1].read_bytes()
    other_msgs, _ = synthetic.simulate(30, seed=4)
    same_msgs, _ = synthetic.simulate(30, seed=3)
    assert other_msgs.shape != same_msgs.shape or (other_msgs != same_msgs).any()


def test_event_counts_follow_the_poisson_rates():
    """Market orders (one time stamp per sweep) arrive at 2 mu per second and limit orders at
    2 sum(lambda_i); both counts are Poisson, checked within 4 standard errors. (A limit order behind
    a full side is not placed, which the limit-order tolerance absorbs: it is rare.)"""
    params = synthetic.ZeroIntelligenceParams()
    seconds = 600
    msgs, _ = synthetic.simulate(seconds, seed=11, params=params)
    executions = msgs[msgs[:, m.TYPE] == m.EXECUTE]
    stamps = executions[:, m.TIME_S].astype(np.int64) * 10**9 + executions[:, m.TIME_NS]
    market_orders = len(np.unique(stamps))
    expected = 2 * params.market_rate * seconds
    assert abs(market_orders - expected) < 4 * np.sqrt(expected), (market_orders, expected)
    initial = 2 * len(params.limit_rates) * params.initial_orders_per_level
    limit_orders = int(np.sum(msgs[:, m.TYPE] == m.SUBMIT)) - initial
    expected = 2 * sum(params.limit_rates) * seconds
    assert abs(limit_orders - expected) < 4 * np.sqrt(expected), (limit_orders, expected)
    hidden = int(np.sum(msgs[:, m.TYPE] == m.HIDDEN))
    expected = 2 * params.hidden_rate * seconds
    assert abs(hidden - expected) < 4 * np.sqrt(expected), (hidden, expected)


def test_limit_orders_land_at_the_modelled_distances():
    """Each new bid is 1..D ticks below the best ask just before it (and asks above the best bid),
    and distance 1 is the most frequent, as lambda(i) decreases."""
    params = synthetic.ZeroIntelligenceParams()
    msgs, rows = synthetic.simulate(200, seed=5, params=params)
    initial = 2 * len(params.limit_rates) * params.initial_orders_per_level
    k = np.flatnonzero(msgs[:, m.TYPE] == m.SUBMIT)
    k = k[k >= initial]
    before = rows[k - 1]
    buy = msgs[k, m.DIRECTION] == m.BUY
    opposite = np.where(buy, before[:, 0], before[:, 2])
    distance = np.where(buy, opposite - msgs[k, m.PRICE], msgs[k, m.PRICE] - opposite)
    distance = distance // params.tick
    assert distance.min() >= 1 and distance.max() <= len(params.limit_rates)
    counts = np.bincount(distance, minlength=len(params.limit_rates) + 1)[1:]
    assert counts.argmax() == 0


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="levels"):
        synthetic.ZeroIntelligenceParams(levels=3)
    with pytest.raises(ValueError, match="levels must be in 10..50"):
        synthetic.ZeroIntelligenceParams(levels=51)
    for seconds in (0, -1.0, float("inf"), float("nan"), 1e9, synthetic.MAX_SECONDS + 1):
        with pytest.raises(ValueError, match="seconds must be"):
            synthetic.simulate(seconds, seed=0)
    with pytest.raises(ValueError, match="seed"):
        synthetic.simulate(1, seed=-1)


@pytest.mark.parametrize(
    "ticker, date", [("SYNTH", "notadate"), ("SYNTH", "2001-02-29"), ("A_B", "2001-02-28")]
)
def test_names_the_loader_would_not_recognise_are_refused(tmp_path, ticker, date):
    with pytest.raises(ValueError, match="ticker|date"):
        synthetic.synthesize(tmp_path, seconds=1, seed=0, ticker=ticker, date=date)
    assert not list(tmp_path.iterdir())


def test_existing_files_are_replaced_only_when_asked(tmp_path):
    first = synthetic.synthesize(tmp_path, seconds=1, seed=0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        synthetic.synthesize(tmp_path, seconds=1, seed=0)
    again = synthetic.synthesize(tmp_path, seconds=1, seed=0, overwrite=True)
    assert again == first and lobster.parse_name(first[0]).level == 15


def test_progress_is_reported_each_tenth_of_the_run():
    seen = []
    synthetic.simulate(20, seed=0, progress=seen.append)
    assert len(seen) == 10 and seen[-1] == 20
    assert all(k * 2 <= s < (k + 1) * 2 for k, s in enumerate(seen[:-1], start=1)), seen


def test_many_days_are_weekdays_each_the_single_day_of_its_seed(tmp_path, capsys):
    """``--days 3`` from a Friday: Friday, Monday, Tuesday; day i is the single day
    written with seed K+i and that date (so any day can be regenerated alone)."""
    argv = ["synthesize", "--out", str(tmp_path / "many"), "--seconds", "3", "--seed", "7"]
    assert main([*argv, "--days", "3", "--date", "2000-01-07"]) == 0
    assert "wrote 3 pairs" in capsys.readouterr().out
    days = lobster.find_days(tmp_path / "many")
    assert [lobster.parse_name(msg).date for msg, _ in days] == [
        "2000-01-07",
        "2000-01-10",
        "2000-01-11",
    ]
    for i, (msg, book) in enumerate(days):
        date = lobster.parse_name(msg).date
        one = synthetic.synthesize(tmp_path / f"one{i}", 3, 7 + i, date=date)
        assert (
            lobster.load_day(*one).messages.tolist()
            == lobster.load_day(msg, book).messages.tolist()
        )
        assert one[1].name == book.name
    assert synthetic.weekdays("2000-01-08", 2) == ["2000-01-08", "2000-01-10"]  # a Saturday kept
    for bad in (0, 261, 2.5, True):
        with pytest.raises(ValueError, match="days must be an integer in 1..260"):
            synthetic.check_days(bad)
    with pytest.raises(FileExistsError, match="exists"):  # checked before any day is written
        synthetic.synthesize_days(tmp_path / "many", 4, 3, seed=6, date="2000-01-06")
    assert not list((tmp_path / "many").glob("*2000-01-06*"))
