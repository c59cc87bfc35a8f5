"""Replay training through the one trainer command: windows parsed with one-line errors, training
restricted to the training windows, and the held-out report beside TWAP in evaluation.json."""

import json

import pytest

from purejaxrl_train.cli import main
from purejaxrl_train.heldout import parse_windows, window_overrides
from purejaxrl_train.presets import default_config


def test_window_ranges_parse_or_name_the_flag():
    assert parse_windows("0:9", "--train-windows") == (0, 9)
    assert window_overrides((2, 5)) == {"window_lo": 2, "window_hi": 5}
    for text in ("9", "a:b", "5:5", "-1:3"):
        with pytest.raises(ValueError, match="--test-windows"):
            parse_windows(text, "--test-windows")


def test_lobster_execution_preset_holds_out_the_last_windows():
    config = default_config("lobster_execution", env_overrides=(("quantity", 100),))
    overrides = dict(config.env_overrides)
    assert overrides == {"quantity": 100, "window_lo": 0, "window_hi": 9}
    assert config.heldout_windows == (9, 10, 11, 12)


def test_a_tiny_recurrent_run_reports_held_out_windows_beside_twap(tmp_path, capsys):
    argv = ["--env", "lobster_execution", "--recurrent", "--total-timesteps", "64",
            "--num-envs", "4", "--num-steps", "16", "--num-minibatches", "2", "--hidden", "8",
            "--train-windows", "0:2", "--test-windows", "11:13", "--log-interval", "0",
            "--eval-episodes", "0", "--set", "quantity=100", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert "test windows [11, 12]" in capsys.readouterr().out
    report = json.loads((tmp_path / "evaluation.json").read_text())["heldout"]
    assert report["train"]["windows"] == [0, 1] and report["test"]["windows"] == [11, 12]
    for split in ("train", "test"):
        twap = report[split]["twap"]["rows"]
        assert [row["window"] for row in twap] == report[split]["windows"]
        assert all(row["executed"] == 100 for row in twap)  # TWAP finishes the task
        policy = report[split]["policy"]["rows"]
        assert all(0 <= row["executed"] <= 100 for row in policy)


def test_held_out_windows_need_a_replay_execution_market(capsys):
    with pytest.raises(SystemExit):
        main(["--env", "cartea_jaimungal_mm", "--train-windows", "0:2"])
    assert "cartea_jaimungal_mm is not a replay market" in capsys.readouterr().err
