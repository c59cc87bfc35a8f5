"""The whole config on the command line: a flag per dataclass field, --config round trip, --help.

Oracle: the dataclasses themselves (every field of TrainConfig and HyperParams must be reachable
from the command line and land unchanged in the resolved config) and the run directory's own
config.json (reading it back with --config gives the same config and seed)."""

import dataclasses
import json

import pytest

from purejaxrl_train.cli import FLAGS, main, parse_command
from purejaxrl_train.config import HYPERPARAM_NAMES, TrainConfig, config_to_dict
from purejaxrl_train.presets import default_config
from purejaxrl_train.run_dir import write_config

# A value different from every preset's for each field kind, as (command-line text, value).
_NEW_VALUES = {
    "total_timesteps": ("12800", 12800),
    "num_envs": ("8", 8),
    "num_steps": ("16", 16),
    "update_epochs": ("3", 3),
    "num_minibatches": ("2", 2),
    "hidden_sizes": ("16,8", (16, 8)),
    "activation": ("gelu", "gelu"),
    "gru_size": ("24", 24),
    "init_log_std": ("-0.25", -0.25),
    "obs_features": ("inventory,time", ("inventory", "time")),
    "log_interval": ("3", 3),
    "eval_episodes": ("7", 7),
    "heldout_windows": ("", ()),
    "eval_every": ("5", 5),
    "live_eval_episodes": ("9", 9),
    "checkpoint_every": ("4", 4),
    "num_devices": ("1", 1),
    "learning_rate": ("1.5e-3", 1.5e-3),
    "gamma": ("0.97", 0.97),
    "gae_lambda": ("0.9", 0.9),
    "clip_eps": ("0.1", 0.1),
    "ent_coef": ("0.02", 0.02),
    "vf_coef": ("0.7", 0.7),
    "max_grad_norm": ("1.5", 1.5),
}


def test_every_field_has_a_flag_and_the_flag_sets_it():
    base = default_config("cartea_jaimungal_mm")
    argv, expected = [], {}
    for flag in FLAGS:
        if flag.kind is bool:  # flip the preset's switch
            value = not getattr(base, flag.field)
            argv.append(flag.flag if value else "--no-" + flag.flag[2:])
        else:
            text, value = _NEW_VALUES[flag.field]
            argv += [flag.flag, text] if text else [f"{flag.flag}="]
        expected[flag.field] = value
    covered = {f.field for f in FLAGS}
    every = {f.name for f in dataclasses.fields(TrainConfig)} - {"env_name", "env_overrides"}
    assert covered == (every - {"hparams"}) | set(HYPERPARAM_NAMES)
    config = parse_command(argv).config
    for field, value in expected.items():
        source = config.hparams if field in HYPERPARAM_NAMES else config
        got = getattr(source, field)
        assert got == pytest.approx(value) if isinstance(value, float) else got == value, field


def test_a_runs_own_config_reproduces_it_and_later_flags_override(tmp_path):
    config = default_config(
        "cartea_jaimungal_mm",
        env_overrides=(("max_steps_in_episode", 10), ("terminal_time", 0.1)),
        recurrent=True,
        num_envs=8,
        hparams={"learning_rate": 7e-4},
    )
    write_config(tmp_path, config, {"run": {"seed": 11}})
    path = str(tmp_path / "config.json")
    again = parse_command(["--config", path])
    assert again.config == config and again.seed == 11
    written = json.loads((tmp_path / "config.json").read_text())
    assert written.pop("run") == {"seed": 11}
    assert config_to_dict(again.config) == written
    changed = parse_command(
        ["--config", path, "--num-envs", "4", "--set", "sigma=3", "--seed", "2"]
    )
    assert changed.config == config.replace(
        num_envs=4,
        env_overrides=(("max_steps_in_episode", 10), ("sigma", 3), ("terminal_time", 0.1)),
    )
    assert changed.seed == 2


def test_recurrent_default_network_and_explicit_choices_win():
    assert (parse_command(["--env", "CartPole-v1", "--recurrent"]).config.gru_size) == 128
    config = parse_command(
        ["--env", "CartPole-v1", "--recurrent", "--gru-size", "32", "--activation", "tanh"]
    ).config
    assert (config.gru_size, config.activation) == (32, "tanh")


def test_help_shows_the_presets_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--env", "CartPole-v1", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--num-envs N parallel environments (default: 4)" in text
    assert "(default: CartPole-v1)" in text and "--no-normalize-obs" in text
