"""LOBSTER loading: file names, exact parsing against the raw text, validation errors from a corpus
of broken files (``corpus/cases.json``), times rounded to the nanosecond, windows (coverage, initial
books, shapes), stacking across days, the .npz cache."""

from __future__ import annotations

import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxlob import lobster
from jaxlob import messages as m
from jaxlob.cache import default_cache_dir
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
SAMPLES = REPO / "data"
SHARED = REPO.parent / "shared" / "data" / "lobster"  # levels 1 and 5 (not shipped in data/)
STEM = "GOOG_2012-06-21_34200000_57600000"
CORPUS_STEM = "TEST_2012-06-21_34200000_57600000"
CASES = json.loads((CORPUS / "cases.json").read_text())


def sample(kind: str, level: int) -> Path:
    """A GOOG sample file: level 10 ships in data/, levels 1 and 5 in the shared sample folder."""
    name = f"{STEM}_{kind}_{level}.csv.gz"
    for folder in (SAMPLES, SHARED):
        if (folder / name).exists():
            return folder / name
    pytest.skip(f"{name} not available")


def raw_rows(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt") as f:
        return [line.rstrip("\n").split(",") for line in f]


@pytest.fixture(scope="module")
def day10() -> lobster.LobsterDay:
    return lobster.load_day(sample("message", 10), sample("orderbook", 10))


@pytest.fixture(scope="module")
def day5() -> lobster.LobsterDay:
    return lobster.load_day(sample("message", 5), sample("orderbook", 5))


# --------------------------------------------------------------------------- names


def test_file_name_is_parsed():
    name = lobster.parse_name(f"/x/{STEM}_orderbook_10.csv.gz")
    assert name == lobster.LobsterName("GOOG", "2012-06-21", 34200000, 57600000, "orderbook", 10)
    assert (name.start_s, name.end_s) == (34200, 57600)
    assert lobster.parse_name("BRK.A_2020-01-02_0_1_message_1.csv").ticker == "BRK.A"


@pytest.mark.parametrize(
    "bad",
    ["GOOG_2012-06-21_message_10.csv", "GOOG_2012-06-21_1_2_trades_10.csv", "notes.txt"],
)
def test_bad_file_name_is_a_one_line_error(bad):
    with pytest.raises(lobster.LobsterFormatError, match="file name") as info:
        lobster.parse_name(bad)
    assert bad in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- parsing


def test_messages_match_the_raw_text_exactly(day10):
    """Every field of every row against an independent parse of the text (Decimal for times)."""
    rows = raw_rows(sample("message", 10))
    assert day10.messages.shape == (len(rows), m.NUM_FIELDS)
    assert day10.messages.dtype == np.int32
    times = [Decimal(r[0]) for r in rows]
    expected_s = np.array([int(t) for t in times])
    expected_ns = np.array([int((t - int(t)) * 10**9) for t in times])
    assert all((t * 10**9) == int(t * 10**9) for t in times[:1000])  # at most 9 decimals
    np.testing.assert_array_equal(day10.messages[:, m.TIME_S], expected_s)
    np.testing.assert_array_equal(day10.messages[:, m.TIME_NS], expected_ns)
    table = np.array([[int(x) for x in r[1:]] for r in rows], np.int64)
    np.testing.assert_array_equal(day10.messages[:, m.TYPE], table[:, 0])
    np.testing.assert_array_equal(day10.messages[:, m.ORDER_ID], table[:, 1])
    np.testing.assert_array_equal(day10.messages[:, m.SIZE], table[:, 2])
    np.testing.assert_array_equal(day10.messages[:, m.PRICE], table[:, 3])
    np.testing.assert_array_equal(day10.messages[:, m.DIRECTION], table[:, 4])
    assert not day10.messages[:, m.TRADER_ID].any()
    # The second row's time has 8 decimals in the file: 34200.05990197 s = 34200 s + 59901970 ns.
    assert rows[1][0] == "34200.05990197"
    assert tuple(day10.messages[1, [m.TIME_S, m.TIME_NS]]) == (34200, 59901970)
    assert day10.rounded_times == 0


def test_orderbook_matches_the_raw_text(day10):
    rows = raw_rows(sample("orderbook", 10))
    table = np.array([[int(x) for x in r] for r in rows[:5000]], np.int64)
    np.testing.assert_array_equal(day10.orderbook[:5000].astype(np.int64), table)
    assert day10.orderbook.shape == (len(rows), 40) and day10.num_levels == 10


def test_dummy_prices_map_to_int32_sentinels_and_back(tmp_path):
    """The corpus's valid day has empty levels (+-9999999999): read them as int32 sentinels and
    write them back byte for byte."""
    source = CORPUS / "valid" / f"{CORPUS_STEM}_orderbook_2.csv"
    rows = lobster.read_orderbook(source)
    assert rows.dtype == np.int32
    text = [line.split(",") for line in source.read_text().splitlines()]
    for r, line in enumerate(text):
        for c, value in enumerate(line):
            expected = int(value)
            if expected == 9999999999:
                expected = DUMMY_ASK_PRICE
            elif expected == -9999999999:
                expected = DUMMY_BID_PRICE
            assert rows[r, c] == expected
    assert (rows == DUMMY_ASK_PRICE).any() and (rows == DUMMY_BID_PRICE).any()
    out = tmp_path / "back.csv"
    lobster.write_orderbook(out, rows)
    assert out.read_text() == source.read_text()
    gz = tmp_path / "back.csv.gz"
    lobster.write_orderbook(gz, rows)
    np.testing.assert_array_equal(lobster.read_orderbook(gz, 2), rows)


def test_messages_round_trip_through_write_messages(tmp_path):
    source = CORPUS / "valid" / f"{CORPUS_STEM}_message_2.csv"
    msgs = lobster.read_messages(source)
    out = tmp_path / "again.csv"
    lobster.write_messages(out, msgs)
    np.testing.assert_array_equal(lobster.read_messages(out), msgs)


def test_plain_and_gzipped_files_read_the_same(tmp_path):
    source = CORPUS / "valid" / f"{CORPUS_STEM}_message_2.csv"
    gz = tmp_path / "renamed_without_suffix"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    np.testing.assert_array_equal(lobster.read_messages(gz), lobster.read_messages(source))


def test_valid_corpus_day_loads():
    folder = CORPUS / "valid"
    day = lobster.load_day(
        folder / f"{CORPUS_STEM}_message_2.csv", folder / f"{CORPUS_STEM}_orderbook_2.csv"
    )
    assert day.num_rows == 8 and day.num_levels == 2 and day.name.ticker == "TEST"
    assert day.rounded_times == 0


# --------------------------------------------------------------------------- validation corpus


def corpus_pair(case: str) -> tuple[Path, Path]:
    folder = CORPUS / case
    return next(folder.glob("*_message_*")), next(folder.glob("*_orderbook_*"))


def test_every_corpus_case_is_listed():
    cases = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert cases == set(CASES["broken"]) | set(CASES["valid"])
    assert all(len(list((CORPUS / case).iterdir())) == 2 for case in cases)


@pytest.mark.parametrize("case", sorted(CASES["broken"]))
def test_broken_file_gives_one_line_error_naming_file_and_row(case):
    expected = CASES["broken"][case]
    message_path, orderbook_path = corpus_pair(case)
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.load_day(message_path, orderbook_path)
    error = info.value
    text = str(error)
    assert "\n" not in text
    named = message_path if expected["file"] == "message" else orderbook_path
    assert text.startswith(str(named)), text
    assert error.row == expected["row"], text
    if expected["row"] is not None:
        assert f"row {expected['row']}" in text
    assert error.column == expected["column"], text
    if expected["column"] is not None:
        assert f"column {expected['column']}" in text
    assert expected["words"] in text, text


@pytest.mark.parametrize("case", sorted(CASES["valid"]))
def test_valid_corpus_cases_load_like_the_plain_day(case):
    """CR LF line ends, trailing blank lines and 12-decimal times load; only the rounded times
    differ from the plain day, and they are counted."""
    expected = CASES["valid"][case]
    day = lobster.load_day(*corpus_pair(case))
    plain = lobster.load_day(*corpus_pair("valid"))
    assert day.num_rows == expected["rows"]
    np.testing.assert_array_equal(day.rounded_rows + 1, expected["rounded_rows"])
    assert day.rounded_times == len(expected["rounded_rows"])
    np.testing.assert_array_equal(day.orderbook, plain.orderbook)
    np.testing.assert_array_equal(day.messages, plain.messages)


def test_times_with_more_than_9_decimals_round_to_the_nanosecond(tmp_path):
    """LOBSTER's AMZN level-5 sample holds 43002.632812672004: round half up, carry into seconds."""
    times = [
        "43002.632812672004",
        "43002.6328126725",
        "43002.9999999995",
        "43003.5",
        "43003.5000000004",
    ]
    path = tmp_path / "msgs.csv"
    path.write_text("".join(f"{t},1,{i + 1},100,5794000,1\n" for i, t in enumerate(times)))
    parsed = lobster.parse_messages(path)
    got = parsed.rows[:, [m.TIME_S, m.TIME_NS]].tolist()
    assert got == [
        [43002, 632812672],
        [43002, 632812673],
        [43003, 0],
        [43003, 500000000],
        [43003, 500000000],
    ]
    np.testing.assert_array_equal(parsed.rounded_rows, [0, 1, 2, 4])
    np.testing.assert_array_equal(lobster.read_messages(path), parsed.rows)


def test_rounded_times_follow_head():
    day = lobster.load_day(*corpus_pair("valid_time_12_decimals"))
    assert day.rounded_times == 2
    assert day.head(2).rounded_times == 1 and day.head(1).rounded_times == 0


@pytest.mark.parametrize(
    "field, column",
    [("1e3", "size"), ("5.794e6", "price"), ("1E3", "order_id"), ("5794000.0", "price")],
)
def test_non_integer_literals_are_refused_in_integer_fields(tmp_path, field, column):
    fields = {"order_id": "7", "size": "100", "price": "5794000"}
    fields[column] = field
    path = tmp_path / "msgs.csv"
    path.write_text(f"34200.1,1,{fields['order_id']},{fields['size']},{fields['price']},1\n")
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.read_messages(path)
    assert (info.value.row, info.value.column) == (1, column)
    assert str(info.value) == f"{path}: row 1, column {column}: '{field}' is not an integer"


@pytest.mark.parametrize(
    "edit, row, words",
    [
        (lambda t: b"\xef\xbb\xbf" + t, 1, "byte-order mark"),
        (lambda t: t.replace(b",", b";"), 1, "separated by semicolons"),
        (lambda t: t.replace(b",", b" "), 1, "separated by spaces"),
        (
            lambda t: t.replace(b"\n", b"\r\n").replace(b",40,", b",4x,"),
            4,
            "'4x' is not an integer",
        ),
        (lambda t: t.replace(b"\n", b"\r", 2).replace(b"\r", b"\n", 1), 2, "carriage return"),
    ],
)
def test_text_defects_name_their_row(tmp_path, edit, row, words):
    text = (CORPUS / "valid" / f"{CORPUS_STEM}_message_2.csv").read_bytes()
    path = tmp_path / "msgs.csv"
    path.write_bytes(edit(text))
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.read_messages(path)
    assert info.value.row == row and words in str(info.value), str(info.value)


def test_mismatched_file_names_are_rejected(tmp_path):
    folder = CORPUS / "valid"
    msg = tmp_path / f"{CORPUS_STEM}_message_2.csv"
    book = tmp_path / "TEST_2012-06-22_34200000_57600000_orderbook_2.csv"
    shutil.copy(folder / msg.name, msg)
    shutil.copy(folder / f"{CORPUS_STEM}_orderbook_2.csv", book)
    with pytest.raises(lobster.LobsterFormatError, match="date"):
        lobster.load_day(msg, book)
    with pytest.raises(lobster.LobsterFormatError, match="expected a message file"):
        lobster.load_day(book, book)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(lobster.LobsterFormatError, match="cannot read"):
        lobster.read_messages(tmp_path / "absent.csv")


# --------------------------------------------------------------------------- windows


def test_windows_cover_every_message_once_in_order(day10):
    windows = lobster.make_windows(day10)
    real = np.concatenate([windows.window_messages(w) for w in range(windows.num_windows)])
    np.testing.assert_array_equal(real, day10.messages[1:])
    # 09:30 to 16:00 is 13 windows of 30 minutes, all non-empty on this day
    assert windows.num_windows == 13
    np.testing.assert_array_equal(windows.start_s, 34200 + 1800 * np.arange(13))


def test_each_message_lies_in_its_window_and_padding_is_noop(day10):
    windows = lobster.make_windows(day10, window_seconds=1800, messages_per_step=64)
    for w in range(windows.num_windows):
        msgs = windows.window_messages(w)
        t = msgs[:, m.TIME_S].astype(np.int64) * 10**9 + msgs[:, m.TIME_NS]
        start = int(windows.start_s[w]) * 10**9
        assert t.min() >= start and t.max() < start + 1800 * 10**9
        flat = np.asarray(windows.messages[w]).reshape(-1, m.NUM_FIELDS)
        assert not flat[len(msgs) :].any()
        assert windows.num_steps[w] == -(-len(msgs) // 64)
        assert (flat[: len(msgs), m.TYPE] != m.NOOP).all()


def test_initial_book_is_the_row_just_before_the_first_message(day10):
    windows = lobster.make_windows(day10)
    first = windows.first_message
    np.testing.assert_array_equal(windows.initial_book, day10.orderbook[first - 1])
    np.testing.assert_array_equal(
        windows.final_book, day10.orderbook[first + windows.num_messages - 1]
    )
    assert first[0] == 1  # row 0 is the book after message 0: the day starts there
    # the row before each later window's first message is the last one before the window opens
    before = first[1:] - 1
    t_before = (
        day10.messages[before, m.TIME_S].astype(np.int64) * 10**9
        + day10.messages[before, m.TIME_NS]
    )
    assert (t_before < windows.start_s[1:].astype(np.int64) * 10**9).all()


def test_last_partial_window_is_kept(day10):
    windows = lobster.make_windows(day10, window_seconds=2700)  # 6.5 h / 45 min = 8.67
    assert windows.num_windows == 9
    assert windows.start_s[-1] == 34200 + 8 * 2700
    assert int(windows.num_messages.sum()) == day10.num_rows - 1


def test_windows_have_identical_shapes_and_vmap(day10):
    windows = lobster.make_windows(day10, messages_per_step=100)
    assert windows.messages.shape == (13, int(windows.num_steps.max()), 100, m.NUM_FIELDS)
    assert windows.initial_book.shape == (13, 40)
    device = jax.device_put(windows)
    sizes = jax.vmap(lambda w: w.messages[..., m.SIZE].sum())(device)
    expected = [windows.window_messages(w)[:, m.SIZE].sum() for w in range(13)]
    np.testing.assert_array_equal(np.asarray(sizes), expected)


def test_too_few_steps_is_an_error_not_a_cut(day10):
    with pytest.raises(ValueError, match="max_steps=10"):
        lobster.make_windows(day10, max_steps=10)


def test_days_of_different_depth_stack_with_identical_shapes(day10, day5):
    ten = lobster.make_windows(day10, messages_per_step=50)
    five = lobster.make_windows(day5, messages_per_step=50)
    stacked = lobster.stack_windows([five, ten])
    assert stacked.num_windows == five.num_windows + ten.num_windows
    assert stacked.max_steps == max(five.max_steps, ten.max_steps)
    assert stacked.initial_book.shape == (stacked.num_windows, 40)
    np.testing.assert_array_equal(stacked.day[: five.num_windows], 0)
    np.testing.assert_array_equal(stacked.day[five.num_windows :], 1)
    # the level-5 books are padded with empty levels, the messages with NOOPs
    padded = stacked.initial_book[: five.num_windows]
    np.testing.assert_array_equal(padded[:, :20], five.initial_book)
    assert (padded[:, 20::4] == DUMMY_ASK_PRICE).all() and (
        padded[:, 22::4] == DUMMY_BID_PRICE
    ).all()
    assert not padded[:, 21::2].any()
    for w in range(five.num_windows):
        np.testing.assert_array_equal(stacked.window_messages(w), five.window_messages(w))
    with pytest.raises(ValueError, match="messages_per_step"):
        lobster.stack_windows([five, lobster.make_windows(day10, messages_per_step=20)])


# --------------------------------------------------------------------------- cache


def test_cache_is_keyed_by_content_and_parameters(tmp_path, monkeypatch):
    msg, book = sample("message", 10), sample("orderbook", 10)
    cache = tmp_path / "cache"
    first = lobster.load_windows(msg, book, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("GOOG_2012-06-21_L10_")

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(lobster.windows, "load_day", no_parsing)
    again = lobster.load_windows(msg, book, cache_dir=cache)
    for name in ("messages", "initial_book", "final_book", "num_messages", "start_s", "day"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    monkeypatch.undo()

    lobster.load_windows(msg, book, window_seconds=900, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2
    # the same name with different content is a different key
    folder = tmp_path / "edited"
    folder.mkdir()
    src = CORPUS / "valid"
    for kind in ("message", "orderbook"):
        shutil.copy(src / f"{CORPUS_STEM}_{kind}_2.csv", folder)
    edited_msg = folder / f"{CORPUS_STEM}_message_2.csv"
    edited_book = folder / f"{CORPUS_STEM}_orderbook_2.csv"
    before = lobster.windows_cache_path(edited_msg, edited_book, 1800, 100, None, None, cache)
    edited_msg.write_text(edited_msg.read_text().replace("34200.5,5,0,10", "34200.5,5,0,11"))
    after = lobster.windows_cache_path(edited_msg, edited_book, 1800, 100, None, None, cache)
    assert before != after
    lobster.load_windows(edited_msg, edited_book, cache_dir=False)
    assert not list(folder.glob("*.npz"))


def test_default_cache_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("JAXLOB_CACHE_DIR", raising=False)
    default = default_cache_dir().resolve()
    assert REPO not in default.parents and default != REPO
    monkeypatch.setenv("JAXLOB_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
