"""``python -m jaxlob reconstruct|check|synthesize``: LOBSTER replay fidelity and synthetic data.

- ``reconstruct MESSAGES ORDERBOOK --out FILE [--capacity N]``: the book the engine rebuilds from
  orderbook row 0 plus messages 1..n, one LOBSTER-layout row per message (row 0 copied), to diff
  against LOBSTER's own orderbook file.
- ``check MESSAGES ORDERBOOK [--capacity N] [--json] [--strict]``: exact-row match rates of the
  one-step, continuous and re-synchronised replays, mismatch classification and counters.
- ``synthesize --out DIR --seconds S --seed K [--levels L] [--ticker T] [--date D]``: a LOBSTER
  message/orderbook pair from zero-intelligence order flow (``jaxlob.synthetic``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    from jaxlob.fidelity import DEFAULT_CAPACITY

    parser = argparse.ArgumentParser(prog="python -m jaxlob", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    rec = commands.add_parser("reconstruct", help="rebuild the orderbook file from the messages")
    rec.add_argument("messages", type=Path)
    rec.add_argument("orderbook", type=Path)
    rec.add_argument("--out", type=Path, required=True, help="output file (.csv or .csv.gz)")
    rec.add_argument(
        "--capacity",
        type=_positive,
        default=DEFAULT_CAPACITY,
        help=f"orders per side (default {DEFAULT_CAPACITY})",
    )

    chk = commands.add_parser("check", help="replay fidelity in three modes")
    chk.add_argument("messages", type=Path)
    chk.add_argument("orderbook", type=Path)
    chk.add_argument(
        "--capacity",
        type=_positive,
        default=DEFAULT_CAPACITY,
        help=f"orders per side (default {DEFAULT_CAPACITY})",
    )
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 if a one-step or re-synchronised mismatch is unexplained",
    )

    syn = commands.add_parser("synthesize", help="write synthetic LOBSTER files")
    syn.add_argument("--out", type=Path, required=True, help="output folder")
    syn.add_argument("--seconds", type=float, required=True, help="simulated seconds")
    syn.add_argument("--seed", type=int, required=True)
    syn.add_argument(
        "--levels",
        type=_positive,
        default=None,
        help="levels in the orderbook file (default: the model's full depth)",
    )
    syn.add_argument("--ticker", default="SYNTH")
    syn.add_argument("--date", default="2000-01-03")
    syn.add_argument("--no-gzip", action="store_true", help="write plain .csv files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from jaxlob.lobster import LobsterFormatError

    try:
        if args.command == "synthesize":
            from jaxlob import synthetic

            msg_path, book_path = synthetic.synthesize(
                args.out,
                seconds=args.seconds,
                seed=args.seed,
                levels=args.levels,
                ticker=args.ticker,
                date=args.date,
                gzipped=not args.no_gzip,
            )
            print(f"wrote {msg_path}\nwrote {book_path}")
            return 0

        from jaxlob import fidelity
        from jaxlob.lobster import load_day, write_orderbook

        day = load_day(args.messages, args.orderbook)
        if args.command == "reconstruct":
            rows = fidelity.reconstruct(day, capacity=args.capacity)
            write_orderbook(args.out, rows)
            print(f"wrote {len(rows)} rows to {args.out}")
            return 0
        report = fidelity.check(day, capacity=args.capacity)
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
        unexplained = report.one_step.unexplained + report.resynchronised.unexplained
        return 1 if args.strict and unexplained else 0
    except (LobsterFormatError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
