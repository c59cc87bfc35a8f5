"""``python -m jaxlob.soak --messages N --books B --seed S``: a long soak of the engine, outside the
test suite.

Random message streams (``jaxlob.soak_messages``, drawn on the device from each book's own state)
run through ``B`` vmapped books built from snapshots around a reference price (one book in eight
trades next to the top of the int32 price range), ``N`` messages in all. After every message
``jaxlob.invariants`` checks the engine's promises (never crossed, priority order, share limit,
unique ids, fills at resting prices, shares conserved, every unapplied message counted). A sample
of the books is replayed through the plain-Python reference book (``jaxlob.reference``): after each
chunk their orders, counters, halt state, clock and the chunk's trade totals must equal the
engine's. Prints one line per chunk and a summary line; exits with status 1 on any violation or
difference.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import jaxlob as jl
from jaxlob import reference as ref
from jaxlob.invariants import INVARIANTS, check_message, start_ledger
from jaxlob.records import add_totals, zero_totals
from jaxlob.soak_messages import draw_message

_I32 = jnp.int32
TOP = jl.DUMMY_ASK_PRICE - 1
REPORTED = (
    "evicted_orders",
    "unmatched_cancels",
    "unmatched_executions",
    "snapshot_fallbacks",
    "size_mismatches",
    "duplicate_ids",
    "invalid_messages",
    "unknown_types",
    "over_limit_orders",
    "fill_overflow",
)


@dataclass(frozen=True)
class SoakConfig:
    """What to run: ``messages`` in all over ``books`` books, in chunks of ``chunk`` per book."""

    messages: int
    books: int
    seed: int = 0
    capacity: int = 64
    levels: int = 5
    chunk: int = 1000
    sample: int = 16
    max_size: int = 100

    @property
    def chunks(self) -> int:
        per_book = -(-self.messages // self.books)
        return max(-(-per_book // self.chunk), 1)

    @property
    def total(self) -> int:
        """Messages actually run (whole chunks)."""
        return self.chunks * self.chunk * self.books

    @property
    def sampled(self) -> np.ndarray:
        """Books replayed through the reference: spread over the batch (high-price ones too)."""
        return np.unique(np.linspace(0, self.books - 1, min(self.sample, self.books)).astype(int))


def _parse(argv) -> SoakConfig:
    p = argparse.ArgumentParser(prog="python -m jaxlob.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, required=True, help="messages in all (over every book)")
    p.add_argument("--books", type=int, required=True, help="books run side by side (vmap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--capacity", type=int, default=64, help="orders per side (default 64)")
    p.add_argument("--levels", type=int, default=5, help="levels of the initial snapshots")
    p.add_argument("--chunk", type=int, default=1000, help="messages per book per device call")
    p.add_argument("--sample", type=int, default=16, help="books checked against the reference")
    args = p.parse_args(argv)
    for name in ("messages", "books", "capacity", "levels", "chunk"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.sample < 0:
        p.error(f"--sample must be >= 0, got {args.sample}")
    if args.capacity > jl.MAX_CAPACITY:
        p.error(f"--capacity must be at most {jl.MAX_CAPACITY}, got {args.capacity}")
    return SoakConfig(**vars(args))


def snapshot_rows(cfg: SoakConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each book's reference price and initial LOBSTER row (asks above, bids below it)."""
    rng = np.random.default_rng(cfg.seed)
    bases = rng.integers(10_000, 10_000_000, cfg.books)
    bases[::8] = TOP - 1_000  # next to the top of the int32 price range
    rows = np.zeros((cfg.books, 4 * cfg.levels), np.int64)
    gaps = rng.integers(1, 4, (cfg.books, cfg.levels, 2)).cumsum(axis=1)
    sizes = rng.integers(1, 500, (cfg.books, cfg.levels, 2))
    rows[:, 0::4] = bases[:, None] + gaps[:, :, 0]
    rows[:, 1::4] = sizes[:, :, 0]
    rows[:, 2::4] = bases[:, None] - gaps[:, :, 1]
    rows[:, 3::4] = sizes[:, :, 1]
    return bases.astype(np.int32), rows


@dataclass(frozen=True)
class _Carry:
    """Per book, between chunks (a pytree of arrays with a leading book axis)."""

    book: jl.BookState
    ledger: object
    key: jax.Array
    next_id: jax.Array
    step: jax.Array
    violations: jax.Array  # (len(INVARIANTS),) int32
    first_bad: jax.Array  # () int32, index of the first message with a violation (-1: none)


jax.tree_util.register_dataclass(
    _Carry,
    data_fields=["book", "ledger", "key", "next_id", "step", "violations", "first_bad"],
    meta_fields=[],
)


@functools.partial(jax.jit, static_argnames=("steps", "max_size"))
def _run_chunk(carry: _Carry, bases, sampled, steps: int, max_size: int):
    """``steps`` messages per book; the sampled books' messages and chunk totals."""

    def one_book(c: _Carry, base):
        def step(state, _):
            c, totals = state
            key, sub = jax.random.split(c.key)
            msg, next_id = draw_message(sub, c.book, base, c.next_id, c.step, max_size)
            book, fills = jl.apply_message(c.book, msg)
            flags, ledger = check_message(c.book, book, msg, fills, c.ledger)
            bad = jnp.any(flags)
            c = _Carry(
                book=book,
                ledger=ledger,
                key=key,
                next_id=next_id,
                step=c.step + 1,
                violations=c.violations + flags.astype(_I32),
                first_bad=jnp.where(bad & (c.first_bad < 0), c.step, c.first_bad),
            )
            return (c, add_totals(totals, fills.totals)), msg

        start = (c, zero_totals(c.book.num_traders))
        (c, totals), msgs = jax.lax.scan(step, start, None, length=steps)
        return c, totals, msgs

    carry, totals, msgs = jax.vmap(one_book)(carry, bases)
    return carry, jax.tree.map(lambda x: x[sampled], totals), msgs[sampled]


def _start(cfg: SoakConfig, bases, rows) -> _Carry:
    build = jax.vmap(lambda r: jl.book_from_snapshot(r, cfg.capacity, cfg.levels))
    books = build(jnp.asarray(rows, _I32))
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.books)
    zeros = jnp.zeros((cfg.books,), _I32)
    return _Carry(
        book=books,
        ledger=jax.vmap(start_ledger)(books),
        key=keys,
        next_id=zeros + 1,
        step=zeros,
        violations=jnp.zeros((cfg.books, len(INVARIANTS)), _I32),
        first_bad=zeros - 1,
    )


def _differences(engine_book, ref_book, engine_totals, ref_totals) -> list[str]:
    """How one sampled book differs from the reference (empty when identical)."""
    problems = []
    mine, theirs = jl.book_orders(engine_book), ref.book_orders(ref_book)
    for side in ("bids", "asks"):
        for name, values in theirs[side].items():
            if not np.array_equal(mine[side][name], values):
                problems.append(f"{side}.{name}")
    for name, value in ref_book.counters.items():
        if int(getattr(engine_book.counters, name)) != value:
            problems.append(
                f"counter {name}: {int(getattr(engine_book.counters, name))} != {value}"
            )
    if int(engine_book.halt_state) != ref_book.halt_state:
        problems.append("halt state")
    if (int(engine_book.time_s), int(engine_book.time_ns)) != (ref_book.time_s, ref_book.time_ns):
        problems.append("clock")
    for name, value in vars(ref_totals).items():
        if name == "num_traders":
            continue
        got, want = np.asarray(getattr(engine_totals, name)), np.asarray(value, np.float64)
        same = (
            np.array_equal(got, want)
            if np.issubdtype(got.dtype, np.integer)
            else np.allclose(got, want, rtol=1e-4, atol=0)
        )
        if not same:
            problems.append(f"totals {name}: {got} != {want}")
    return problems


def run(cfg: SoakConfig, out=sys.stdout) -> int:
    """Run the soak, printing progress and the summary line; return the exit status."""
    bases, rows = snapshot_rows(cfg)
    sampled = cfg.sampled
    refs = [ref.book_from_snapshot(rows[b], cfg.capacity, cfg.levels) for b in sampled]
    carry = _start(cfg, bases, rows)
    bases_d, sampled_d = jnp.asarray(bases), jnp.asarray(sampled, _I32)
    print(
        f"soak: {cfg.total:,} messages, {cfg.books} books x {cfg.chunks} chunks of {cfg.chunk}, "
        f"capacity {cfg.capacity}, seed {cfg.seed}, device {jax.devices()[0].platform}",
        file=out,
        flush=True,
    )
    start = time.perf_counter()
    mismatches, ref_messages = [], 0
    for i in range(cfg.chunks):
        carry, totals, msgs = _run_chunk(carry, bases_d, sampled_d, cfg.chunk, cfg.max_size)
        totals, msgs = jax.device_get((totals, msgs))
        books = jax.device_get(jax.tree.map(lambda x: x[sampled_d], carry.book))
        for j, b in enumerate(sampled):
            refs[j], record = ref.apply_messages(refs[j], msgs[j])
            ref_messages += len(msgs[j])
            at = lambda tree, j=j: jax.tree.map(lambda x: x[j], tree)  # noqa: E731
            problems = _differences(at(books), refs[j], at(totals), record.totals)
            if problems:
                mismatches.append(f"book {b}, chunk {i}: {problems[:3]}")
        violations = int(np.asarray(carry.violations).sum())
        done = (i + 1) * cfg.chunk * cfg.books
        elapsed = time.perf_counter() - start
        print(
            f"  {done:>13,} messages  {elapsed:7.1f} s  {done / elapsed:11,.0f} messages/s  "
            f"violations {violations}  reference differences {len(mismatches)}",
            file=out,
            flush=True,
        )
    return _summary(cfg, carry, ref_messages, mismatches, time.perf_counter() - start, out)


def _summary(cfg, carry, ref_messages, mismatches, elapsed, out) -> int:
    carry = jax.device_get(carry)
    by_kind = dict(zip(INVARIANTS, np.asarray(carry.violations).sum(axis=0).tolist()))
    c = carry.book.counters
    counts = {
        name: int(np.asarray(getattr(c, name)).sum())
        for name in REPORTED
        if name != "fill_overflow"
    }
    counts["fill_overflow"] = int(c.fill_overflow.to_int().sum())
    traded = int(carry.ledger.resting.to_int().sum())
    violations = sum(by_kind.values())
    first = np.asarray(carry.first_bad)
    for b in np.flatnonzero(first >= 0)[:5]:
        print(f"  book {b}: first violation at message {int(first[b])}", file=out)
    for line in mismatches[:5]:
        print(f"  reference difference: {line}", file=out)
    verdict = "PASS" if violations == 0 and not mismatches else "FAIL"
    print(
        f"soak {verdict}: {cfg.total:,} messages through {cfg.books} books (capacity "
        f"{cfg.capacity}, seed {cfg.seed}) in {elapsed:.0f} s ({cfg.total / elapsed:,.0f} "
        f"messages/s, {jax.devices()[0].platform}); invariant violations {violations} "
        f"({', '.join(f'{k} {v}' for k, v in by_kind.items())}); reference: {len(cfg.sampled)} "
        f"books, {ref_messages:,} messages, {len(mismatches)} differences; traded {traded:,} "
        f"shares; {', '.join(f'{k.replace(chr(95), chr(32))} {v:,}' for k, v in counts.items())}",
        file=out,
        flush=True,
    )
    return 0 if verdict == "PASS" else 1


def main(argv=None) -> int:
    return run(_parse(argv))


if __name__ == "__main__":
    sys.exit(main())
