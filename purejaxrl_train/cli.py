"""Command line: one training run, or a vmapped hyperparameter sweep.

    python -m purejaxrl_train [--env NAME] [--total-timesteps N] [--num-envs N] [--seed S]
                              [--recurrent] [--out DIR] [--set field=value ...] [--lr X] ...
    python -m purejaxrl_train sweep --env NAME --lr 1e-4,3e-4,1e-3 --ent-coef 0,0.01 --seeds 4

A run compiles once (compile time reported apart), prints progress lines from inside the program,
then writes the run directory (config, metrics, checkpoint, evaluation, learning curve).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from envs.overrides import attach_negative_values, parse_assignments
from purejaxrl_train.run import EVAL_SEED_OFFSET, run_training  # noqa: F401 (re-exported)

# Hyperparameter flags: command-line name -> HyperParams field.
HP_FLAGS = {
    "lr": "learning_rate",
    "gamma": "gamma",
    "gae-lambda": "gae_lambda",
    "clip-eps": "clip_eps",
    "ent-coef": "ent_coef",
    "vf-coef": "vf_coef",
    "max-grad-norm": "max_grad_norm",
}
# Static flags: command-line name -> (TrainConfig field, type).
STATIC_FLAGS = {
    "total-timesteps": ("total_timesteps", int),
    "num-envs": ("num_envs", int),
    "num-steps": ("num_steps", int),
    "update-epochs": ("update_epochs", int),
    "num-minibatches": ("num_minibatches", int),
    "log-interval": ("log_interval", int),
    "eval-episodes": ("eval_episodes", int),
}

# Options whose value may be a negative number (`--lr -1e-3` must reach the validation).
NUMBER_FLAGS = ("--seed", "--seeds", *(f"--{f}" for f in (*HP_FLAGS, *STATIC_FLAGS)))


def _common_arguments(parser: argparse.ArgumentParser, sweep: bool) -> None:
    parser.add_argument(
        "--env", default=None, help="environment name (default cartea_jaimungal_mm)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (sweep: of the first seed)"
    )
    parser.add_argument("--recurrent", action="store_true", help="GRU policy (recurrent PPO)")
    parser.add_argument("--out", default=None, help="output directory (default runs/<env>-...)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="environment parameter"
    )
    parser.add_argument(
        "--hidden", default=None, metavar="W1,W2", help="hidden layer widths, e.g. 64,64"
    )
    parser.add_argument(
        "--train-windows",
        default=None,
        metavar="START:STOP",
        help="replay markets: train on these windows of the data (default lobster_execution: 0:9)",
    )
    parser.add_argument(
        "--test-windows",
        default=None,
        metavar="START:STOP",
        help="replay markets: windows evaluated after training beside TWAP "
        "(default lobster_execution: 9:13)",
    )
    for flag in STATIC_FLAGS:
        parser.add_argument(f"--{flag}", type=int, default=None)
    for flag, field in HP_FLAGS.items():
        help_text = f"{field}" + (" (comma-separated values to sweep)" if sweep else "")
        parser.add_argument(f"--{flag}", default=None, help=help_text)


def build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    train = argparse.ArgumentParser(
        prog="python -m purejaxrl_train",
        description="Train PPO (or recurrent PPO with --recurrent) on an environment; "
        "`python -m purejaxrl_train sweep --help` for sweeps.",
    )
    _common_arguments(train, sweep=False)
    sweep = argparse.ArgumentParser(
        prog="python -m purejaxrl_train sweep",
        description="Vmapped sweep over traced hyperparameters times seeds, in one program.",
    )
    _common_arguments(sweep, sweep=True)
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per configuration")
    return train, sweep


def _float(parser, flag: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        parser.error(f"--{flag}: expected a number, got {text!r}")


def _env_overrides(parser, items: list[str]) -> tuple:
    try:
        overrides = parse_assignments(items, "--set")
    except ValueError as err:
        parser.error(str(err))
    return tuple(sorted(overrides.items()))


def resolve_config(parser, args, sweep: bool):
    """The preset's config with the command line's changes (hparams: single values only)."""
    from envs.replay import registered as replay_markets
    from purejaxrl_train.heldout import parse_windows, window_overrides
    from purejaxrl_train.presets import DEFAULT_ENV, default_config

    changes: dict = {"recurrent": args.recurrent}
    overrides = dict(_env_overrides(parser, args.set))
    windowed = args.train_windows is not None or args.test_windows is not None
    if windowed and (args.env or DEFAULT_ENV) not in replay_markets():
        parser.error(
            f"--train-windows/--test-windows: {args.env or DEFAULT_ENV} is not a replay market "
            f"({', '.join(replay_markets())})"
        )
    try:
        if args.train_windows is not None:
            overrides.update(window_overrides(parse_windows(args.train_windows, "--train-windows")))
        if args.test_windows is not None:
            lo, hi = parse_windows(args.test_windows, "--test-windows")
            changes["heldout_windows"] = tuple(range(lo, hi))
    except ValueError as err:
        parser.error(str(err))
    if overrides:
        changes["env_overrides"] = tuple(sorted(overrides.items()))
    for flag, (field, _) in STATIC_FLAGS.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            changes[field] = value
    if args.hidden:
        try:
            changes["hidden_sizes"] = tuple(int(w) for w in args.hidden.split(","))
        except ValueError:
            parser.error(f"--hidden: expected widths like 64,64, got {args.hidden!r}")
    hp = {}
    grid = []
    for flag, field in HP_FLAGS.items():
        text = getattr(args, flag.replace("-", "_"))
        if text is None:
            continue
        values = tuple(_float(parser, flag, v) for v in text.split(",") if v.strip())
        if not values:
            parser.error(f"--{flag}: no value given")
        if len(values) > 1 and not sweep:
            parser.error(f"--{flag}: one value per run (use `sweep` for several)")
        if sweep:
            grid.append((field, values))
        else:
            hp[field] = values[0]
    if hp:
        changes["hparams"] = hp
    try:
        config = default_config(args.env or DEFAULT_ENV, **changes)
    except ValueError as err:
        parser.error(str(err))
    for field, values in grid:  # every swept value must be one a single run accepts
        flag = next(f for f, name in HP_FLAGS.items() if name == field)
        for value in values:
            try:
                config.replace(hparams=config.hparams.replace(**{field: value}))
            except ValueError as err:
                parser.error(f"--{flag} {value:g}: {err}")
    return config, tuple(grid)


def run_sweep(config, grid, num_seeds: int, seed: int, out: Path, stream=None):
    """Vmapped sweep; prints and saves (sweep.csv, sweep.json) the table of final returns.

    Returns (rows, metrics): the table, and every member's per-update metrics (leading axis:
    member = configuration * num_seeds + seed index)."""
    import jax

    from purejaxrl_train import run_dir, sweep
    from purejaxrl_train.config import config_to_dict
    from purejaxrl_train.progress import ProgressPrinter
    from purejaxrl_train.trainer import build, make_train

    stream = stream or sys.stdout
    plan = sweep.SweepPlan(grid=grid, num_seeds=num_seeds, seed=seed)
    env, env_params, _ = build(config)
    keys, hparams, members = sweep.sweep_inputs(config, plan)
    printer = ProgressPrinter(
        config.num_updates, config.batch_size, plan.num_members, stream=stream
    )
    train = make_train(config, env, env_params, progress=printer)
    batched = jax.jit(jax.vmap(train))
    started = time.perf_counter()
    compiled = batched.lower(keys, hparams, members).compile()
    compile_s = time.perf_counter() - started
    print(
        f"sweep: {len(plan.configurations)} configurations x {num_seeds} seeds = "
        f"{plan.num_members} runs in one program; compiled in {compile_s:.1f} s",
        file=stream,
        flush=True,
    )
    printer.start()
    started = time.perf_counter()
    _, metrics = compiled(keys, hparams, members)
    jax.block_until_ready(metrics)
    run_s = time.perf_counter() - started
    total = plan.num_members * config.num_updates * config.batch_size
    print(f"trained {total:,} steps in {run_s:.1f} s ({total / run_s:,.0f} steps/s)", file=stream)
    rows = sweep.summarize(plan, sweep.final_returns(jax.device_get(metrics)))
    table = sweep.format_table(rows)
    print("final return (training episodes, last tenth of updates), mean over seeds:", file=stream)
    print(table, file=stream)
    run_dir.write_csv(out / "sweep.csv", rows)
    run_dir.write_json(
        out / "sweep.json",
        {
            "config": config_to_dict(config),
            "grid": {name: list(values) for name, values in grid},
            "seeds": num_seeds,
            "seed": seed,
            "compile_seconds": compile_s,
            "train_seconds": run_s,
            "rows": rows,
        },
    )
    print(f"sweep table: {out / 'sweep.csv'}", file=stream)
    return rows, metrics


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_parser, sweep_parser = build_parsers()
    is_sweep = bool(argv) and argv[0] == "sweep"
    parser = sweep_parser if is_sweep else train_parser
    argv = attach_negative_values(argv[1:] if is_sweep else argv, NUMBER_FLAGS)
    args = parser.parse_args(argv)

    from purejaxrl_train.run_dir import default_run_dir

    config, grid = resolve_config(parser, args, sweep=is_sweep)
    if is_sweep:
        if args.seeds < 1:
            parser.error(f"--seeds must be >= 1, got {args.seeds}")
        out = (
            Path(args.out)
            if args.out
            else default_run_dir(config).with_name(default_run_dir(config).name + "-sweep")
        )
        run_sweep(config, grid, args.seeds, args.seed, out)
    else:
        out = Path(args.out) if args.out else default_run_dir(config)
        run_training(config, args.seed, out)
    return 0
