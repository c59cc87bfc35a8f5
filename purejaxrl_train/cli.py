"""Command line: one training run, a vmapped sweep, or one member of a sweep re-run alone.

    python -m purejaxrl_train [--env NAME | --config FILE] [--FIELD VALUE ...] [--set field=value]
    python -m purejaxrl_train --resume RUN_DIR        (after a stop, or --max-updates N)
    python -m purejaxrl_train sweep --env NAME --lr 1e-4,3e-4 --set-grid sigma=1,2 --seeds 4
    python -m purejaxrl_train sweep ... --member K        (member K of that sweep, alone)

Every `TrainConfig` and `HyperParams` field is a flag, derived from the dataclass fields (a new
field gets its flag): `--num-envs 8`, `--hidden-sizes 64,64`, `--normalize-obs/--no-normalize-obs`,
`--lr` for the learning rate. Values resolve in order: the preset of `--env` (or the `--config`
file: a run's own `config.json` reproduces that run, its seed included), then the flags given.
`--help` shows the values the preset (or the file) gives. Bad values are one-line errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import typing
from pathlib import Path

from envs.overrides import (
    as_integer,
    as_number,
    attach_negative_values,
    parse_assignments,
    parse_value,
)
from purejaxrl_train.config import FIELD_HELP, HYPERPARAM_NAMES, TrainConfig
from purejaxrl_train.run import EVAL_SEED_OFFSET, run_training  # noqa: F401 (re-exported)

PROG = "python -m purejaxrl_train"
# Fields with their own flags (not derived): the environment and its parameters.
_SPECIAL_FIELDS = ("env_name", "env_overrides", "hparams")
# Extra (shorter) names of some fields' flags; the first name is the one errors use.
_ALIASES = {"learning_rate": ("--lr",), "hidden_sizes": ("--hidden",)}


@dataclasses.dataclass(frozen=True)
class FieldFlag:
    """One config field's flag: its names, how its text is read, and whether it is traced."""

    field: str
    names: tuple[str, ...]
    kind: type | str  # int, float, str, bool, "ints", "strs", or "hparam"

    @property
    def flag(self) -> str:
        return self.names[0]

    @property
    def dest(self) -> str:
        return f"cfg_{self.field}"


def _kind(hint) -> type | str:
    if hint in (int, float, str, bool):
        return hint
    if typing.get_origin(hint) is tuple:
        element = typing.get_args(hint)[0]
        return "ints" if element is int else "strs"
    raise TypeError(f"TrainConfig field of type {hint!r} has no command-line reading")


def config_flags() -> tuple[FieldFlag, ...]:
    """A flag for every TrainConfig field (but the environment's) and every HyperParams field."""
    hints = typing.get_type_hints(TrainConfig)
    flags = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in _SPECIAL_FIELDS:
            continue
        names = (f"--{f.name.replace('_', '-')}", *_ALIASES.get(f.name, ()))
        flags.append(FieldFlag(f.name, names, _kind(hints[f.name])))
    for name in HYPERPARAM_NAMES:
        names = (*_ALIASES.get(name, ()), f"--{name.replace('_', '-')}")
        flags.append(FieldFlag(name, names, "hparam"))
    return tuple(flags)


FLAGS = config_flags()
# Options whose value may be a negative number (`--lr -1e-3` must reach the validation).
NUMBER_FLAGS = (
    "--seed",
    "--seeds",
    "--member",
    "--max-updates",
    *(n for f in FLAGS if f.kind in (int, float, "hparam", "ints") for n in f.names),
)


def _reader(kind):
    """argparse `type` for a field kind: one-line messages for text that is not a value."""

    def read(text: str):
        try:
            if kind is int:
                return as_integer("value", text)
            if kind is float:
                return as_number("value", text)
            if kind == "ints":
                return tuple(as_integer("value", t) for t in text.split(",") if t.strip())
            if kind == "strs":
                return tuple(t.strip() for t in text.split(",") if t.strip())
        except ValueError:
            expected = {int: "an integer", float: "a finite number"}.get(
                kind, "integers like 64,64"
            )
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        return text

    return read


def _shown(value) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "(none)"
    return f"{float(value):g}" if isinstance(value, float) else str(value)


def _add_field_flags(parser, sweep: bool, shown: TrainConfig | None) -> None:
    group = parser.add_argument_group("training configuration (TrainConfig, HyperParams)")
    for f in FLAGS:
        text = FIELD_HELP.get(f.field, f.field)
        if f.kind == "hparam" and sweep:
            text += "; comma-separated values to sweep"
        if shown is not None:
            source = shown.hparams if f.kind == "hparam" else shown
            text += f" (default: {_shown(getattr(source, f.field))})"
        if f.kind is bool:
            group.add_argument(
                *f.names, dest=f.dest, action=argparse.BooleanOptionalAction, help=text
            )
        elif f.kind == "hparam":
            group.add_argument(*f.names, dest=f.dest, metavar="X", help=text)
        else:
            metavar = {int: "N", float: "X", str: "NAME"}.get(f.kind, "A,B")
            group.add_argument(
                *f.names, dest=f.dest, type=_reader(f.kind), metavar=metavar, help=text
            )


def build_parser(sweep: bool, shown: TrainConfig | None = None) -> argparse.ArgumentParser:
    """The training (or sweep) parser; `shown`: the config whose values --help shows."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} sweep" if sweep else PROG,
        description=(
            "Vmapped sweep over hyperparameters, environment parameters and seeds, in one program."
            if sweep
            else "Train PPO (or recurrent PPO with --recurrent) on an environment; "
            f"`{PROG} sweep --help` for sweeps."
        ),
        argument_default=argparse.SUPPRESS,
    )
    env_default = f" (default: {shown.env_name})" if shown is not None else ""
    parser.add_argument("--env", dest="env_name", metavar="NAME", help="environment" + env_default)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="start from this config.json (a run's own reproduces it, seed included) "
        "instead of the environment's preset; flags override it",
    )
    parser.add_argument(
        "--seed",
        type=_reader(int),
        help="random seed (default 0"
        + ("; sweep: the first seed)" if sweep else ", or the --config run's)"),
    )
    parser.add_argument("--out", help="output directory (default runs/<env>-...)")
    parser.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help=FIELD_HELP["env_overrides"]
    )
    parser.add_argument(
        "--train-windows",
        metavar="START:STOP",
        help="replay markets: train on these windows of the data (default lobster_execution: 0:9)",
    )
    parser.add_argument(
        "--test-windows",
        metavar="START:STOP",
        help="replay markets: windows evaluated after training beside TWAP "
        "(default lobster_execution: 9:13)",
    )
    if sweep:
        parser.add_argument(
            "--set-grid",
            action="append",
            metavar="FIELD=V1,V2",
            help="environment parameter values to sweep (numbers), repeatable",
        )
        parser.add_argument("--seeds", type=_reader(int), help="seeds per configuration (1)")
        parser.add_argument(
            "--member", type=_reader(int), metavar="K", help="train member K of the sweep alone"
        )
    else:
        parser.add_argument(
            "--resume",
            metavar="RUN_DIR",
            help="continue the run in RUN_DIR from its newest training-state checkpoint",
        )
        parser.add_argument(
            "--max-updates",
            type=_reader(int),
            metavar="N",
            help="stop (at a checkpoint) after N updates; continue later with --resume",
        )
    _add_field_flags(parser, sweep, shown)
    return parser


def build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(training parser, sweep parser), with no defaults shown."""
    return build_parser(False), build_parser(True)


def _read_config_file(parser, path: str) -> tuple[TrainConfig, int | None]:
    from purejaxrl_train.config import config_from_dict

    try:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        config = config_from_dict(data, where=path)
    except FileNotFoundError:
        parser.error(f"--config {path}: no such file")
    except (OSError, ValueError, TypeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        parser.error(message if message.startswith(path) else f"--config {path}: {message}")
    seed = data.get("run", {}).get("seed") if isinstance(data.get("run"), dict) else None
    return config, seed


def _number(parser, flag: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        parser.error(f"{flag}: expected a number, got {text!r}")


def _changes(parser, given: dict, sweep: bool) -> tuple[dict, dict, tuple]:
    """(TrainConfig changes, env overrides, hyperparameter grid) the given flags ask for."""
    from purejaxrl_train.heldout import parse_windows, window_overrides

    changes: dict = {}
    for f in FLAGS:
        if f.dest in given and f.kind != "hparam":
            changes[f.field] = given[f.dest]
    try:
        overrides = parse_assignments(given.get("set", []), "--set")
        if "train_windows" in given:
            overrides.update(
                window_overrides(parse_windows(given["train_windows"], "--train-windows"))
            )
        if "test_windows" in given:
            lo, hi = parse_windows(given["test_windows"], "--test-windows")
            changes["heldout_windows"] = tuple(range(lo, hi))
    except ValueError as err:
        parser.error(str(err))
    hp, grid = {}, []
    for f in FLAGS:
        if f.kind != "hparam" or f.dest not in given:
            continue
        text = given[f.dest]
        values = tuple(_number(parser, f.flag, v) for v in text.split(",") if v.strip())
        if not values:
            parser.error(f"{f.flag}: no value given")
        if len(values) > 1 and not sweep:
            parser.error(f"{f.flag}: one value per run (use `sweep` for several)")
        if sweep:
            grid.append((f.field, values))
        else:
            hp[f.field] = values[0]
    if hp:
        changes["hparams"] = hp
    return changes, overrides, tuple(grid)


def resolve(parser, args, sweep: bool):
    """(config, hyperparameter grid, seed or None) from the preset or --config plus the flags."""
    from envs.catalog import make_any
    from envs.replay import registered as replay_markets
    from purejaxrl_train.presets import DEFAULT_ENV, default_config

    given = vars(args)
    changes, overrides, grid = _changes(parser, given, sweep)
    seed, file_config = None, None
    if "config" in given:
        file_config, seed = _read_config_file(parser, given["config"])
    default_env = file_config.env_name if file_config else DEFAULT_ENV
    env_name = given.get("env_name", default_env)
    windowed = "train_windows" in given or "test_windows" in given
    if windowed and env_name not in replay_markets():
        parser.error(
            f"--train-windows/--test-windows: {env_name} is not a replay market "
            f"({', '.join(replay_markets())})"
        )
    try:
        if file_config is not None:
            hp = changes.pop("hparams", None)
            if hp:
                changes["hparams"] = file_config.hparams.replace(**hp)
            merged = {**dict(file_config.env_overrides), **overrides}
            changes["env_overrides"] = tuple(sorted(merged.items()))
            config = file_config.replace(env_name=env_name, **changes)
        else:
            if overrides:
                changes["env_overrides"] = tuple(sorted(overrides.items()))
            config = default_config(env_name, **changes)
        _check_buildable(config, make_any)
    except ValueError as err:
        parser.error(str(err).splitlines()[0])
    for field, values in grid:  # every swept value must be one a single run accepts
        flag = next(f.flag for f in FLAGS if f.field == field)
        for value in values:
            try:
                config.replace(hparams=config.hparams.replace(**{field: value}))
            except ValueError as err:
                parser.error(f"{flag} {value:g}: {err}")
    if "seed" in given:
        seed = given["seed"]
    return config, grid, seed


def _check_buildable(config: TrainConfig, make_any) -> None:
    """The environment's overrides and the agent's observation features are valid."""
    from agents.learned.features import feature_indices

    env, _ = make_any(config.env_name, config.env_overrides)
    feature_indices(env, config.obs_features)


def _env_grid(parser, items: list[str]) -> tuple:
    """`--set-grid sigma=1,2,3` items as ((field, (values...)), ...)."""
    grid = []
    for item in items:
        name, sep, text = item.partition("=")
        values = tuple(parse_value(t) for t in text.split(",") if t.strip())
        if not sep or not name.strip() or not values:
            parser.error(f"--set-grid {item!r}: expected field=value1,value2,...")
        if any(isinstance(v, str | bool) for v in values):
            parser.error(f"--set-grid {item!r}: values must be numbers")
        grid.append((name.strip(), values))
    return tuple(grid)


def _shown_config(argv: list[str], sweep: bool) -> TrainConfig | None:
    """The config --help describes: the preset of the --env (or --config) in argv, if valid."""
    pre = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    pre.add_argument("--env", dest="env_name")
    pre.add_argument("--config")
    pre.add_argument("--recurrent", action=argparse.BooleanOptionalAction)
    known, _ = pre.parse_known_args(argv)
    if "recurrent" in vars(known):
        known.cfg_recurrent = vars(known).pop("recurrent")
    try:
        return resolve(_Quiet(), known, sweep)[0]
    except ValueError:
        return None


class _Quiet(argparse.ArgumentParser):
    """A parser whose errors are exceptions (the --help pre-pass shows no error of its own)."""

    def error(self, message):
        raise ValueError(message)


def _member_line(plan, index: int) -> str:
    hp, env, seed = plan.member(index)
    values = ", ".join(f"{k}={v:g}" for k, v in {**hp, **env}.items())
    return f"member {index}: {values + ', ' if values else ''}seed {seed}"


def run_sweep(config, grid, num_seeds: int, seed: int, out: Path, stream=None, env_grid=()):
    """Vmapped sweep; prints and saves the table of final returns and every member's outputs.

    Writes sweep.csv (one row per configuration), members.csv (one row per member: values, seed,
    final training return, greedy evaluation, the command that re-runs it), metrics.csv (every
    member's per-update metrics, column `member`), members/K/config.json and sweep.json.
    Returns (rows, metrics): the table, and every member's per-update metrics (leading axis:
    member = configuration * num_seeds + seed index)."""
    import jax

    from purejaxrl_train import run_dir, sweep
    from purejaxrl_train.config import config_to_dict
    from purejaxrl_train.parallel import shard_members
    from purejaxrl_train.progress import ProgressPrinter
    from purejaxrl_train.trainer import build, make_train

    stream = stream or sys.stdout
    plan = sweep.SweepPlan(grid=grid, num_seeds=num_seeds, seed=seed, env_grid=tuple(env_grid))
    env, env_params, actor = build(config)
    keys, hparams, members = sweep.sweep_inputs(config, plan)
    member_params = sweep.sweep_env_params(config, plan)
    printer = ProgressPrinter(
        config.num_updates, config.batch_size, plan.num_members, stream=stream
    )
    train = make_train(config, env, env_params, progress=printer)
    batched = jax.jit(shard_members(train))  # members spread over the visible devices
    inputs = (
        (keys, hparams, members)
        if member_params is None
        else (keys, hparams, members, member_params)
    )
    started = time.perf_counter()
    compiled = batched.lower(*inputs).compile()
    compile_s = time.perf_counter() - started
    print(
        f"sweep: {len(plan.configurations)} configurations x {num_seeds} seeds = "
        f"{plan.num_members} runs in one program; compiled in {compile_s:.1f} s",
        file=stream,
        flush=True,
    )
    printer.start()
    started = time.perf_counter()
    state, metrics = compiled(*inputs)
    jax.block_until_ready(metrics)
    run_s = time.perf_counter() - started
    total = plan.num_members * config.num_updates * config.batch_size
    print(f"trained {total:,} steps in {run_s:.1f} s ({total / run_s:,.0f} steps/s)", file=stream)
    metrics = jax.device_get(metrics)
    finals = sweep.final_returns(metrics)
    greedy = _evaluate_members(config, plan, actor, env, state, member_params, env_params)
    rows = sweep.summarize(plan, finals, None if greedy is None else [g["mean"] for g in greedy])
    print("final return (training episodes, last tenth of updates), mean over seeds:", file=stream)
    print(sweep.format_table(rows), file=stream)
    member_rows, curves = [], []
    for m in range(plan.num_members):
        member_cfg, member_seed = sweep.member_config(config, plan, m)
        folder = out / "members" / str(m)
        run_dir.write_config(folder, member_cfg, {"run": {"seed": member_seed, "member": m}})
        hp, env_values, _ = plan.member(m)
        row = {"member": m, **hp, **env_values, "seed": member_seed, "final_return": finals[m]}
        if greedy is not None:
            row["greedy_return"] = greedy[m]["mean"]
            row["greedy_stderr"] = greedy[m]["stderr"]
        row["command"] = f"{PROG} --config {folder / run_dir.CONFIG_FILE}"
        member_rows.append(row)
        one = jax.tree.map(lambda x, m=m: x[m], metrics)
        curves += [{"member": m, **r} for r in run_dir.metrics_table(one, config.batch_size)]
    run_dir.write_csv(out / "sweep.csv", rows)
    run_dir.write_csv(out / "members.csv", member_rows)
    run_dir.write_csv(out / run_dir.METRICS_FILE, curves)
    run_dir.write_json(
        out / "sweep.json",
        {
            "config": config_to_dict(config),
            "grid": {name: list(values) for name, values in grid},
            "env_grid": {name: list(values) for name, values in env_grid},
            "seeds": num_seeds,
            "seed": seed,
            "compile_seconds": compile_s,
            "train_seconds": run_s,
            "rows": rows,
            "members": member_rows,
        },
    )
    print(f"sweep table: {out / 'sweep.csv'}; per member: {out / 'members.csv'}", file=stream)
    print(
        f"re-run one member alone: {PROG} --config {out / 'members' / 'K' / run_dir.CONFIG_FILE}"
        " (or this sweep command with --member K)",
        file=stream,
    )
    return rows, metrics


def _evaluate_members(config, plan, actor, env, state, member_params, env_params):
    """Greedy evaluation of every member on its own environment params and the key its single
    run uses (seed + EVAL_SEED_OFFSET); None when config.eval_episodes is 0."""
    import jax

    from purejaxrl_train.evaluation import evaluate_trained

    if not config.eval_episodes:
        return None
    results = []
    for m in range(plan.num_members):
        _, _, seed = plan.member(m)
        pick = lambda tree, m=m: jax.tree.map(lambda x: x[m], tree)  # noqa: E731
        params = env_params if member_params is None else pick(member_params)
        evaluation = evaluate_trained(
            actor,
            pick(state.learner.params),
            pick(state.env.obs_rms),
            env,
            params,
            config.eval_episodes,
            jax.random.key(seed + EVAL_SEED_OFFSET),
        )
        results.append(evaluation["return"])
    return results


def _resume(parser, run_dir: str, max_updates: int | None) -> int:
    from purejaxrl_train import run

    if not Path(run_dir).is_dir():
        parser.error(f"--resume {run_dir}: no such run directory")
    try:
        run.resume_training(Path(run_dir), max_updates=max_updates)
    except (ValueError, FileNotFoundError) as err:
        message = str(err).splitlines()[0]
        parser.error(
            f"--resume: {message}" if run_dir in message else f"--resume {run_dir}: {message}"
        )
    return 0


@dataclasses.dataclass(frozen=True)
class Command:
    """A parsed command line: what to run, fully resolved (nothing trained yet)."""

    parser: argparse.ArgumentParser
    args: argparse.Namespace
    sweep: bool
    config: TrainConfig | None = None  # None: --resume
    seed: int = 0
    plan: object = None  # sweeps: the purejaxrl_train.sweep.SweepPlan
    member: tuple[TrainConfig, int] | None = None  # --member K: (config, seed) of that member


def parse_command(argv: list[str]) -> Command:
    """Parse and validate a command line (one-line `parser.error` exits on bad input)."""
    from purejaxrl_train.sweep import SweepPlan, member_config, sweep_env_params

    argv = list(argv)
    is_sweep = bool(argv) and argv[0] == "sweep"
    argv = attach_negative_values(argv[1:] if is_sweep else argv, NUMBER_FLAGS)
    wants_help = any(a in ("-h", "--help") for a in argv)
    parser = build_parser(is_sweep, _shown_config(argv, is_sweep) if wants_help else None)
    args = parser.parse_args(argv)
    given = vars(args)
    if not is_sweep and "resume" in given:
        if set(given) - {"resume", "max_updates"}:
            parser.error(
                "--resume takes no option but --max-updates (the run directory holds its config)"
            )
        return Command(parser, args, False)
    config, grid, seed = resolve(parser, args, sweep=is_sweep)
    seed = 0 if seed is None else seed
    if not is_sweep:
        return Command(parser, args, False, config, seed)
    env_grid = _env_grid(parser, given.get("set_grid", []))
    try:
        plan = SweepPlan(grid=grid, num_seeds=given.get("seeds", 1), seed=seed, env_grid=env_grid)
        sweep_env_params(config, plan)  # every environment value is valid and shares one program
        member = member_config(config, plan, args.member) if "member" in given else None
    except ValueError as err:
        parser.error(str(err).splitlines()[0])
    return Command(parser, args, True, config, seed, plan, member)


def main(argv: list[str] | None = None) -> int:
    from purejaxrl_train.run_dir import default_run_dir

    command = parse_command(sys.argv[1:] if argv is None else argv)
    args = command.args
    max_updates = vars(args).get("max_updates")
    if max_updates is not None and max_updates < 1:
        command.parser.error(f"--max-updates must be >= 1, got {max_updates}")
    if command.config is None:
        return _resume(command.parser, args.resume, max_updates)
    out = Path(args.out) if "out" in vars(args) else None
    if not command.sweep:
        out = out or default_run_dir(command.config)
        run_training(command.config, command.seed, out, max_updates=max_updates)
        return 0
    plan = command.plan
    if command.member is not None:
        member, member_seed = command.member
        print(f"sweep {_member_line(plan, args.member)}, trained alone", flush=True)
        folder = default_run_dir(member)
        run_training(member, member_seed, out or folder.with_name(f"{folder.name}-{args.member}"))
        return 0
    folder = default_run_dir(command.config)
    run_sweep(
        command.config,
        plan.grid,
        plan.num_seeds,
        plan.seed,
        out or folder.with_name(folder.name + "-sweep"),
        env_grid=plan.env_grid,
    )
    return 0
