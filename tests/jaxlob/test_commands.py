"""Every ``python -m jaxlob`` command over a corpus of malformed input (files and options): a valid
case works, a bad one exits non-zero with one line on stderr naming the file and row, or the
option, and never a traceback. Mostly in-process through ``main``; twice as a real subprocess."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxlob import lobster
from jaxlob.__main__ import main

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = json.loads((CORPUS / "cases.json").read_text())
REPO = Path(__file__).resolve().parents[2]


def run(argv, capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``python -m jaxlob ARGV`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def pair(case: str) -> tuple[Path, Path]:
    folder = CORPUS / case
    return next(folder.glob("*_message_*")), next(folder.glob("*_orderbook_*"))


def valid_pair() -> tuple[Path, Path]:
    return pair("valid")


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("command", ["check", "reconstruct"])
@pytest.mark.parametrize("case", sorted(CASES["broken"]))
def test_a_broken_file_is_one_line_naming_file_and_row(case, command, capsys, tmp_path):
    expected = CASES["broken"][case]
    msgs, book = pair(case)
    extra = ["--out", tmp_path / "out.csv"] if command == "reconstruct" else []
    code, out, err = run([command, msgs, book, *extra], capsys)
    line = one_line(err)
    assert code == 2 and out == ""
    named = msgs if expected["file"] == "message" else book
    assert line.startswith(f"error: {named}"), line
    if expected["row"] is not None:
        assert f": row {expected['row']}" in line, line
    assert expected["words"] in line, line
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("case", sorted(CASES["valid"]))
def test_valid_files_work_in_every_command(case, capsys, tmp_path):
    msgs, book = pair(case)
    rounded = CASES["valid"][case]["rounded_rows"]
    code, out, err = run(["check", msgs, book, "--capacity", 16, "--strict"], capsys)
    assert (code, err) == (0, ""), err
    assert f"times rounded to the nanosecond (more than 9 decimals): {len(rounded)}" in out
    if rounded:
        assert f"(first at row {rounded[0]} of {msgs})" in out
    code, out, _ = run(["check", msgs, book, "--capacity", 16, "--json"], capsys)
    report = json.loads(out)
    assert report["rounded_times"] == len(rounded)
    assert report["first_rounded_row"] == (rounded[0] if rounded else None)
    target = tmp_path / "rebuilt.csv.gz"
    code, out, err = run(["reconstruct", msgs, book, "--out", target, "--capacity", 16], capsys)
    assert (code, err) == (0, "") and "wrote 8 rows" in out
    assert lobster.read_orderbook(target, 2).shape == (8, 8)


def test_missing_and_folder_inputs_are_named(capsys, tmp_path):
    msgs, book = valid_pair()
    for bad in (tmp_path / "absent.csv", tmp_path):
        code, _, err = run(["check", bad, book], capsys)
        assert code == 2 and one_line(err).startswith(f"error: {bad}: cannot read"), err
        code, _, err = run(["reconstruct", msgs, bad, "--out", tmp_path / "x.csv"], capsys)
        assert code == 2 and one_line(err).startswith(f"error: {bad}: cannot read"), err


# --------------------------------------------------------------------------- options


def reconstruct_cases(tmp: Path):
    msgs, book = valid_pair()
    (tmp / "folder").mkdir()
    (tmp / "afile").write_text("x")
    base = ["reconstruct", msgs, book]
    return [
        (base + ["--out", tmp / "missing" / "x.csv"], "--out", "does not exist"),
        (base + ["--out", tmp / "folder"], "--out", "is a folder"),
        (base + ["--out", book], "--out", "is an input file"),
        (base + ["--out", tmp / "afile" / "x.csv"], "--out", "is not a folder"),
        (base + ["--out", tmp / "x.csv", "--capacity", "0"], "--capacity", "1..65536"),
        (base + ["--out", tmp / "x.csv", "--capacity", "1e9"], "--capacity", "1..65536"),
        (base + ["--out", tmp / "x.csv", "--capacity", "100000"], "--capacity", "1..65536"),
        (base, "--out", "required"),
        (["reconstruct", msgs, "--out", tmp / "x.csv"], "orderbook", "required"),
    ]


def check_cases(tmp: Path):
    msgs, book = valid_pair()
    return [
        (["check", msgs, book, "--capacity", "-3"], "--capacity", "1..65536"),
        (["check", msgs, book, "--capacity", "abc"], "--capacity", "1..65536"),
        (["check", msgs, book, "--frobnicate"], "--frobnicate", "unrecognized"),
        (["check"], "messages", "required"),
        (["nosuchcommand"], "command", "invalid choice"),
        ([], "command", "required"),
    ]


def synthesize_cases(tmp: Path):
    (tmp / "afile").write_text("x")
    base = ["synthesize", "--out", tmp / "syn", "--seed", "0"]
    return [
        (base + ["--seconds", "inf"], "--seconds", "finite"),
        (base + ["--seconds", "nan"], "--seconds", "finite"),
        (base + ["--seconds", "-5"], "--seconds", "(0, 23400]"),
        (base + ["--seconds", "0"], "--seconds", "(0, 23400]"),
        (base + ["--seconds", "1e9"], "--seconds", "(0, 23400]"),
        (base + ["--seconds", "ten"], "--seconds", "must be a number"),
        (base + ["--seconds", "1", "--date", "notadate"], "--date", "YYYY-MM-DD"),
        (base + ["--seconds", "1", "--date", "2012-02-30"], "--date", "YYYY-MM-DD"),
        (base + ["--seconds", "1", "--date", "20120621"], "--date", "YYYY-MM-DD"),
        (base + ["--seconds", "1", "--ticker", "A_B"], "--ticker", "letters, digits"),
        (base + ["--seconds", "1", "--ticker", "../x"], "--ticker", "letters, digits"),
        (base + ["--seconds", "1", "--ticker", ""], "--ticker", "letters, digits"),
        (base + ["--seconds", "1", "--levels", "3"], "--levels", "10..50"),
        (base + ["--seconds", "1", "--levels", "1000"], "--levels", "10..50"),
        (base + ["--seconds", "1", "--levels", "many"], "--levels", "integer"),
        (base + ["--seconds", "1", "--days", "0"], "--days", "1..260"),
        (base + ["--seconds", "1", "--days", "261"], "--days", "1..260"),
        (base + ["--seconds", "1", "--days", "two"], "--days", "integer"),
        (["synthesize", "--out", tmp, "--seconds", "1", "--seed", "-1"], "--seed", "non-negative"),
        (["synthesize", "--out", tmp, "--seconds", "1", "--seed", "x"], "--seed", "non-negative"),
        (
            ["synthesize", "--out", tmp / "afile", "--seconds", "1", "--seed", "0"],
            "--out",
            "a file",
        ),
        (
            ["synthesize", "--out", tmp / "afile" / "sub", "--seconds", "1", "--seed", "0"],
            "--out",
            "a file",
        ),
        (["synthesize", "--seconds", "1", "--seed", "0"], "--out", "required"),
    ]


@pytest.mark.parametrize("cases", [reconstruct_cases, check_cases, synthesize_cases])
def test_a_bad_option_is_one_line_naming_it(cases, capsys, tmp_path):
    for argv, option, words in cases(tmp_path):
        code, out, err = run(argv, capsys)
        line = one_line(err)
        assert code == 2, (argv, code, line)
        assert option in line and words in line, (argv, line)
    assert not (tmp_path / "syn").exists() and not (tmp_path / "x.csv").exists()


def test_synthesize_refuses_to_replace_files_unless_forced(capsys, tmp_path):
    argv = ["synthesize", "--out", tmp_path, "--seconds", "2", "--seed", "1", "--no-gzip"]
    argv += ["--ticker", "BRK.A", "--date", "2012-06-21"]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "")
    [(msgs, book)] = lobster.find_days(tmp_path)  # a name the loader recognises
    assert lobster.parse_name(msgs) == lobster.LobsterName(
        "BRK.A", "2012-06-21", 34200000, 34202000, "message", 15
    )
    assert lobster.load_day(msgs, book).num_rows > 0
    before = msgs.read_bytes()
    msgs.write_text("mine")
    code, _, err = run(argv, capsys)
    assert code == 2 and "--force" in one_line(err) and str(msgs) in err
    assert msgs.read_text() == "mine"
    code, _, err = run([*argv, "--force"], capsys)
    assert (code, err) == (0, "") and msgs.read_bytes() == before


def test_reconstruct_replaces_an_existing_output_file(capsys, tmp_path):
    msgs, book = valid_pair()
    target = tmp_path / "rebuilt.csv"
    target.write_text("old")
    code, _, err = run(["reconstruct", msgs, book, "--out", target, "--capacity", 16], capsys)
    assert (code, err) == (0, "") and target.read_text() != "old"


def test_long_synthesis_reports_progress(monkeypatch, capsys, tmp_path):
    """Runs over 600 simulated seconds print a progress line per tenth on stderr."""
    from jaxlob import synthetic

    def fake_synthesize(out_dir, seconds, progress, **kwargs):
        for k in range(1, 11):
            progress(seconds * k / 10)
        return Path(out_dir) / "m", Path(out_dir) / "b"

    monkeypatch.setattr(synthetic, "synthesize", fake_synthesize)
    code, _, err = run(["synthesize", "--out", tmp_path, "--seconds", 7200, "--seed", 0], capsys)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 10 and lines[-1] == "synthesize: 7200 of 7200 s simulated"


def test_check_help_says_what_strict_claims(capsys):
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    for words in ("level-only", "order-level", "continuous replay is not judged", "GOOG"):
        assert words in text, words


# --------------------------------------------------------------------------- real processes


@pytest.mark.parametrize(
    "argv, words",
    [
        (["synthesize", "--out", "{tmp}", "--seconds", "nan", "--seed", "0"], "--seconds"),
        (["check", *map(str, pair("non_utf8"))], "row 3, column time: byte 0xff"),
    ],
)
def test_the_real_command_prints_one_line_and_no_traceback(argv, words, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-m", "jaxlob", *argv], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert words in one_line(done.stderr), done.stderr


def test_gzipped_inputs_work_and_broken_gzip_is_named(capsys, tmp_path):
    msgs, book = valid_pair()
    gz = tmp_path / msgs.name.replace(".csv", ".csv.gz")
    gz.write_bytes(gzip.compress(msgs.read_bytes()))
    code, _, err = run(["check", gz, book, "--capacity", 16], capsys)
    assert (code, err) == (0, "")
    gz.write_bytes(gzip.compress(msgs.read_bytes())[:-9])
    code, _, err = run(["check", gz, book], capsys)
    assert code == 2 and one_line(err).startswith(f"error: {gz}: broken gzip data")
