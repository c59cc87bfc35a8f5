"""Command line: evaluate an agent on an environment by Monte Carlo and print the statistics.

    python -m agents.evaluate --env cartea_jaimungal_mm --agent cartea_jaimungal_mm \\
        --episodes 10000 --seed 0 [--set field=value ...] [--agent-arg name=value ...] [--json]
    python -m agents.evaluate --policy runs/RUN_DIR --episodes 100000 --seed 0
    python -m agents.evaluate --env lobster_execution --agent fixed_action --episodes 13 \\
        --seed 0 --set data=DIR_OR_PAIR    # do nothing on your own LOBSTER days

`--set` overrides environment params (as `envs.make`; values read by `envs.overrides`),
`--agent-arg` passes an agent argument (numbers, true/false, or comma-separated lists). `--policy`
evaluates any run directory of `python -m purejaxrl_train` (feed-forward or recurrent, a market or
one of gymnax's environments) on the run's environment, greedy unless `--stochastic`. Unknown names
and malformed values end with a one-line error. The library function is
`agents.evaluate_policy`.
"""

from __future__ import annotations

import argparse
import json
import sys

import jax

from agents.evaluation import evaluate_policy
from agents.learned import load_trained
from agents.registry import make_agent
from envs.catalog import make_any
from envs.overrides import attach_negative_values, parse_assignments


def _pairs(parser: argparse.ArgumentParser, items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            parser.error(f"{flag} {item!r}: expected name=value")
        out[name.strip()] = value.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.evaluate",
        description="Monte Carlo evaluation of a baseline or optimal agent.",
    )
    parser.add_argument("--env", help="environment name (envs.registered())")
    parser.add_argument("--agent", help="agent name (agents.registered_agents())")
    parser.add_argument(
        "--policy",
        metavar="RUN_DIR",
        help="evaluate the policy trained in a purejaxrl_train run directory instead of --agent "
        "(its environment and overrides are the run's; --set adds to them)",
    )
    parser.add_argument("--episodes", type=int, required=True, help="number of episodes")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--agent-arg", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--batch-size", type=int, default=4096, help="episodes per compiled batch")
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="with --policy: sample actions from the trained distribution instead of acting greedily",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def format_table(result: dict) -> str:
    rows = [(k, v) for k, v in result.items() if isinstance(v, dict)]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'statistic':<{width}}  {'mean':>14}  {'std':>14}  {'stderr':>12}  {'count':>8}"]
    for name, s in rows:
        note = f"  ({s['nonfinite']} infinite)" if s.get("nonfinite") else ""
        lines.append(
            f"{name:<{width}}  {s['mean']:>14.6g}  {s['std']:>14.6g}  {s['stderr']:>12.4g}"
            f"  {s['count']:>8d}{note}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(attach_negative_values(argv, ("--seed", "--episodes", "--batch-size")))
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    try:
        overrides = parse_assignments(args.set, "--set")
    except ValueError as err:
        parser.error(str(err))
    agent_args = _pairs(parser, args.agent_arg, "--agent-arg")
    if args.policy is None and (args.env is None or args.agent is None):
        parser.error("give --env and --agent, or --policy RUN_DIR")
    if args.policy is not None and (args.agent is not None or agent_args):
        parser.error("--policy replaces --agent and --agent-arg")
    if args.stochastic and args.policy is None:
        parser.error("--stochastic applies to --policy only")

    if args.policy is not None:
        try:
            env_name, env, params, policy = load_trained(
                args.policy, overrides, greedy=not args.stochastic
            )
        except (OSError, ValueError) as err:
            parser.error(f"--policy: {err}")
        if args.env is not None and args.env != env_name:
            parser.error(f"--env {args.env} differs from the run's environment {env_name}")
        args.env, args.agent = env_name, f"policy {args.policy}"
    else:
        try:
            env, params = make_any(args.env, overrides)
        except (OSError, ValueError) as err:  # a data file that cannot be read, too
            parser.error(f"--env/--set: {err}")
        try:
            policy = make_agent(args.agent, env, params, **agent_args)
        except ValueError as err:
            parser.error(f"--agent/--agent-arg: {err}")
    result = evaluate_policy(
        env, params, policy, args.episodes, jax.random.key(args.seed), batch_size=args.batch_size
    )
    result.update({"env": args.env, "agent": args.agent, "seed": args.seed})
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(f"{args.agent} on {args.env}: {args.episodes} episodes, seed {args.seed}")
        print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
