"""Malformed input to the trainer's and the evaluator's commands: each case exits with status 2 and
one line naming the option or file (argparse's usage line may precede it), never a traceback; and
checkpoints are written atomically and refused with a message saying what is wrong with them."""

import json

import pytest

from agents.evaluate import main as evaluate_main
from purejaxrl_train.cli import main as train_main
from purejaxrl_train.run_dir import atomic_write

TRAIN_CASES = [
    (["--lr", "-1e-3"], "learning_rate"),
    (["--lr", "abc"], "--lr: expected a number"),
    (["--gamma", "1.5"], "gamma"),
    (["--gamma", "nan"], "gamma"),
    (["--num-envs", "0"], "num_envs"),
    (["--num-envs", "-4"], "num_envs"),
    (["--total-timesteps", "abc"], "--total-timesteps"),
    (["--hidden", "0,4"], "hidden_sizes"),
    (["--hidden", "a,b"], "--hidden"),
    (["--env", "no_such_market"], "unknown environment"),
    (["--set", "sigma"], "expected field=value"),
    (["--set", "nope=1"], "nope: unknown field"),
    (["--set", "max_steps_in_episode=abc"], "max_steps_in_episode: must be an integer"),
    (["--set", "max_steps_in_episode=1.5"], "max_steps_in_episode: must be an integer"),
    (["--set", "sigma=abc"], "sigma"),
    (["--env", "CartPole-v1", "--set", "max_steps_in_episode=abc"], "max_steps_in_episode"),
    (["--env", "CartPole-v1", "--set", "gravity=inf"], "gravity: must be finite"),
    (["--env", "CartPole-v1", "--set", "nope=1"], "nope"),
    (["--train-windows", "0:2"], "not a replay market"),
    (["--env", "lobster_execution", "--train-windows", "9"], "--train-windows"),
    (["--lr", "1e-3,1e-4"], "use `sweep`"),
    (["sweep", "--gamma", "0.9,1.5"], "--gamma 1.5"),
    (["sweep", "--lr", "3e-4,-1"], "--lr -1"),
    (["sweep", "--seeds", "0"], "--seeds"),
    (["--activation", "sigmoid"], "activation"),
    (["--gru-size", "0"], "gru_size"),
    (["--init-log-std", "nan"], "--init-log-std"),
    (["--ent-coef", "-0.1"], "ent_coef"),
    (["--obs-features", "nope"], "obs_features ['nope']"),
    (["--normalize-obs", "yes"], "unrecognized arguments"),
    (["--config", "/no/such/config.json"], "--config /no/such/config.json: no such file"),
    (["--resume", "/no/such/run", "--lr", "1e-3"], "--resume takes no option but"),
    (["--resume", "/no/such/run"], "--resume /no/such/run: no such run directory"),
    (["--max-updates", "0"], "--max-updates must be >= 1"),
    (["sweep", "--set-grid", "sigma"], "--set-grid 'sigma'"),
    (["sweep", "--set-grid", "sigma=1,x"], "values must be numbers"),
    (["sweep", "--set-grid", "sigma=1,-2"], "sigma: must be >= 0"),
    (["sweep", "--set-grid", "nope=1,2"], "nope: unknown field"),
    (["sweep", "--env", "CartPole-v1", "--set-grid", "gravity=1,inf"], "gravity: must be finite"),
    (["sweep", "--lr", "1e-3,2e-3", "--member", "2"], "--member 2: the sweep has members 0..1"),
]


def _one_line_error(capsys, prog: str, message: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: error:") and message in last, last
    return last


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1", "Expecting"),
        ('{"num_env": 3}', "unknown TrainConfig field 'num_env'"),
        ('{"num_envs": 0}', "num_envs must be a positive integer"),
        ('{"hparams": {"gamma": 2.0}}', "gamma"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--config", str(path)])
    assert exit_info.value.code == 2
    assert str(path) in _one_line_error(capsys, "python -m purejaxrl_train", message)


def test_resume_of_a_folder_without_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--resume", str(tmp_path)])
    assert exit_info.value.code == 2
    _one_line_error(capsys, "python -m purejaxrl_train", "--resume: ")


@pytest.mark.parametrize("argv, message", TRAIN_CASES)
def test_trainer_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(argv)
    assert exit_info.value.code == 2
    prog = "python -m purejaxrl_train" + (" sweep" if argv[0] == "sweep" else "")
    _one_line_error(capsys, prog, message)


EVALUATE_CASES = [
    (["--env", "cartea_jaimungal_mm", "--agent", "random", "--episodes", "-3"], "--episodes"),
    (["--env", "cartea_jaimungal_mm", "--agent", "random", "--batch-size", "0"], "--batch-size"),
    (["--env", "cartea_jaimungal_mm", "--agent", "random", "--seed", "x"], "--seed"),
    (["--env", "cartea_jaimungal_mm", "--agent", "random", "--set", "rate=a,b"], "rate"),
    (["--env", "CartPole-v1", "--agent", "random", "--set", "gravity=abc"], "gravity"),
    (["--env", "cartea_jaimungal_mm", "--agent", "random", "--stochastic"], "--stochastic"),
    (["--policy", "/no/such/run"], "no checkpoint here"),
]


@pytest.mark.parametrize("argv, message", EVALUATE_CASES)
def test_evaluate_errors_are_one_line(argv, message, capsys):
    argv = list(argv)
    for flag, value in (("--episodes", "4"), ("--seed", "0")):
        if flag not in argv:
            argv += [flag, value]
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main(argv)
    assert exit_info.value.code == 2
    _one_line_error(capsys, "python -m agents.evaluate", message)


def _fake_run(tmp_path, payload: bytes):
    from agents.learned.checkpoint import FORMAT

    config = {"env_name": "cartea_jaimungal_mm", "hidden_sizes": [8], "obs_features": []}
    (tmp_path / "checkpoint.json").write_text(json.dumps({"format": FORMAT, "config": config}))
    (tmp_path / "checkpoint.msgpack").write_bytes(payload)
    return tmp_path


@pytest.mark.parametrize(
    "payload, message",
    [(b"", "corrupt or truncated"), (b"\xc1\xc1\xc1", "corrupt or truncated")],
)
def test_a_damaged_checkpoint_is_named_as_damaged(tmp_path, capsys, payload, message):
    run = _fake_run(tmp_path, payload)
    with pytest.raises(SystemExit):
        evaluate_main(["--policy", str(run), "--episodes", "4", "--seed", "0"])
    _one_line_error(capsys, "python -m agents.evaluate", message)


def test_a_checkpoint_of_another_network_is_named_so(tmp_path, capsys):
    import flax.serialization

    run = _fake_run(tmp_path, flax.serialization.to_bytes({"params": {"x": 1}, "obs_rms": {}}))
    with pytest.raises(SystemExit):
        evaluate_main(["--policy", str(run), "--episodes", "4", "--seed", "0"])
    _one_line_error(capsys, "python -m agents.evaluate", "does not match the network")


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "file.json"
    atomic_write(target, "old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "nope=1"], "nope: unknown field"),
        (["--set", "quantity=1.5"], "quantity: must be an integer"),
        (["--set", "quantity"], "expected field=value"),
        (["--env", "cartea_jaimungal_mm"], "unknown replay environment"),
    ],
)
def test_window_report_errors_are_one_line(argv, message, capsys):
    from agents.replay.windows import main as windows_main

    with pytest.raises(SystemExit) as exit_info:
        windows_main(argv)
    assert exit_info.value.code == 2
    _one_line_error(capsys, "python -m agents.replay.windows", message)


def test_benchmarks_unknown_name_is_one_line(capsys, tmp_path, monkeypatch):
    import os

    # The command sets XLA_FLAGS when imported; keep that from leaking into later tests.
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    from benchmarks.__main__ import main as benchmarks_main

    with pytest.raises(SystemExit) as exit_info:
        benchmarks_main(["--only", "nope", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    _one_line_error(capsys, "python -m benchmarks", "unknown benchmark")
