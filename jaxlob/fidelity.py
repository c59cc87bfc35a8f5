"""How faithfully the engine replays a LOBSTER day: reconstruction and a three-mode check.

Row ``k`` of a LOBSTER orderbook file is the book after message ``k``. Three ways to compare:

- **one-step**: from row ``k-1`` (one aggregate order per visible level) apply message ``k`` and
  compare with row ``k``. Each message is judged on its own; all of them run as one vmapped batch.
- **continuous**: from row 0 apply messages ``1..n-1`` in one scan and compare after each. A level-L
  file shows only the best L levels, so the engine misses orders deeper than that and drifts.
- **re-synchronised**: the continuous replay, but whenever a side's visible levels differ from the
  file the engine replaces that side's visible price range with the file's levels (one aggregate
  order per level) and keeps the orders it knows beyond that range (``jaxlob.resync`` with
  ``keep_queues=False``: there is no agent whose queue position to keep).

A mismatch is *explained by unseen depth* when the engine and the file agree on every level inside
the price range the previous row showed, and the previous row showed all L levels of that side: the
difference then lies in depth the file never showed. In re-synchronised replay a mismatch is also
explained when the message names an order the file never showed entering (``unseen_orders``).
Anything else is *unexplained*. In continuous replay the engine's book has drifted and mismatches
are only counted.

What an unexplained row means (``python -m jaxlob check --strict`` fails on one): one-step, the
engine applied a message to the file's own visible levels and got another book, a fault of the
engine or of the data. Re-synchronised, it can also be an *order-level* divergence: resync is
level-only (one aggregate order per visible level), so when the engine's individual orders differ
from the real ones while every level total agrees (which order rests at which price, in what queue
order), nothing corrects them, and a later cancel or execution can leave a row that neither rule
explains. On the GOOG sample day (levels 1, 5, 10) no row is unexplained; LOBSTER's AAPL level-1
and AMZN level-5 samples (not shipped here) are reported to have one such re-synchronised row each.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlob import messages as m
from jaxlob.engine import apply_message
from jaxlob.lobster.day import LobsterDay
from jaxlob.resync import resync_side
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, BookState, Side, book_from_snapshot
from jaxlob.views import top_levels

DEFAULT_CAPACITY = 256  # orders per side for continuous and re-synchronised replay
CHUNK = 8192  # messages per jitted call: one compilation serves any day length
REPORTED_COUNTERS = (
    "unmatched_cancels",
    "unmatched_executions",
    "evicted_orders",
    "evicted_shares",
    "snapshot_fallbacks",
    "size_mismatches",
    "duplicate_ids",
    "invalid_messages",
    "unknown_types",
    "hidden_executions",
    "cross_trades",
)
MATCH, UNSEEN_DEPTH, UNEXPLAINED = 0, 1, 2
_I32 = jnp.int32


# --------------------------------------------------------------------------- classification


def _side_views(rows: np.ndarray, is_ask: bool) -> tuple[np.ndarray, np.ndarray]:
    offset = 0 if is_ask else 2
    return rows[:, offset::4].astype(np.int64), rows[:, offset + 1 :: 4].astype(np.int64)


def _side_explained(prev, engine, file, is_ask: bool) -> np.ndarray:
    """Per row: the engine's side agrees with the file's inside the previous row's visible range,
    and that range hid depth (the previous row showed every level of the side)."""
    prev_p, prev_q = _side_views(prev, is_ask)
    eng_p, eng_q = _side_views(engine, is_ask)
    file_p, file_q = _side_views(file, is_ask)
    dummy = DUMMY_ASK_PRICE if is_ask else DUMMY_BID_PRICE
    full = np.all((prev_q > 0) & (prev_p != dummy), axis=1)
    boundary = prev_p[:, -1:]
    inside_e = (eng_q > 0) & ((eng_p <= boundary) if is_ask else (eng_p >= boundary))
    inside_f = (file_q > 0) & ((file_p <= boundary) if is_ask else (file_p >= boundary))
    same = np.all(
        (np.where(inside_e, eng_p, 0) == np.where(inside_f, file_p, 0))
        & (np.where(inside_e, eng_q, 0) == np.where(inside_f, file_q, 0)),
        axis=1,
    )
    return full & same


def unseen_orders(msgs: np.ndarray) -> np.ndarray:
    """Per message: a cancel, deletion or execution of an order whose submission is not earlier in
    the file, so it entered the book where the file did not show it (or before the file starts)."""
    typ, oid = msgs[:, m.TYPE], msgs[:, m.ORDER_ID].astype(np.int64)
    submitted = np.flatnonzero(typ == m.SUBMIT)
    first = {}
    for index, order in zip(submitted[::-1].tolist(), oid[submitted][::-1].tolist()):
        first[order] = index
    reduces = np.isin(typ, (m.CANCEL, m.DELETE, m.EXECUTE))
    rows = np.flatnonzero(reduces)
    seen_at = np.array([first.get(o, -1) for o in oid[rows].tolist()], np.int64)
    out = np.zeros(len(msgs), bool)
    out[rows] = (seen_at < 0) | (seen_at > rows)
    return out


def classify(
    prev: np.ndarray, engine: np.ndarray, file: np.ndarray, unseen: np.ndarray | None = None
) -> np.ndarray:
    """Per row: MATCH, UNSEEN_DEPTH or UNEXPLAINED. Rows are int32 LOBSTER-layout books of one
    level count. A mismatch is explained by unseen depth when each side either matches or agrees
    with the file inside the previous row's visible price range (which showed every level), or,
    where ``unseen`` is given, when the message names an order the file never showed entering."""
    side_match = []
    for offset in (0, 2):
        side_match.append(
            np.all(engine[:, offset::4] == file[:, offset::4], axis=1)
            & np.all(engine[:, offset + 1 :: 4] == file[:, offset + 1 :: 4], axis=1)
        )
    ask_ok = side_match[0] | _side_explained(prev, engine, file, True)
    bid_ok = side_match[1] | _side_explained(prev, engine, file, False)
    exact = side_match[0] & side_match[1]
    explained = ask_ok & bid_ok
    if unseen is not None:
        explained = explained | unseen
    return np.where(exact, MATCH, np.where(explained, UNSEEN_DEPTH, UNEXPLAINED)).astype(np.int8)


# --------------------------------------------------------------------------- jitted replays


def _sum_counters(book: BookState) -> dict:
    return {name: getattr(book.counters, name) for name in REPORTED_COUNTERS}


@functools.cache
def _one_step_fn(num_levels: int):
    """Jitted batch: from each previous row apply one message; the books' top levels and counters."""
    capacity = num_levels + 1  # the snapshot's levels plus the one order a message can add

    def one(prev_row, msg):
        book = book_from_snapshot(prev_row, capacity, num_levels)
        book, _ = apply_message(book, msg)
        return top_levels(book, num_levels), _sum_counters(book)

    @jax.jit
    def run(prev_rows, msgs):
        tops, counters = jax.vmap(one)(prev_rows, msgs)
        return tops, jax.tree.map(lambda c: jnp.sum(c, dtype=_I32), counters)

    return run


def _resync_side(side: Side, prices, sizes, is_ask: bool, arrival):
    """``side`` with the file's visible levels rebuilt as one aggregate order each and the engine's
    orders beyond the file's last level kept behind them (all of them if the file shows every level
    it has room for, none otherwise): ``jaxlob.resync`` keeping no trader's queues. Returns the side
    and the number of orders that did not fit."""
    nothing_to_cross = DUMMY_BID_PRICE if is_ask else DUMMY_ASK_PRICE  # no kept orders opposite
    side, stats = resync_side(
        side, prices, sizes, is_ask, arrival, nothing_to_cross, keep_trader=None, keep_queues=False
    )
    return side, stats.dropped_orders


@functools.cache
def _replay_fn(num_levels: int, resync: bool):
    """Jitted chunk of a continuous (or re-synchronised) replay; the book is carried across calls."""

    def step(carry, x):
        book, resyncs, dropped = carry
        msg, row = x
        book, _ = apply_message(book, msg)
        top = top_levels(book, num_levels)
        if resync:
            ask_ok = jnp.all(top[0::4] == row[0::4]) & jnp.all(top[1::4] == row[1::4])
            bid_ok = jnp.all(top[2::4] == row[2::4]) & jnp.all(top[3::4] == row[3::4])
            keep = lambda side: (side, jnp.zeros((), _I32))  # noqa: E731
            asks, lost_a = lax.cond(
                ask_ok,
                keep,
                lambda s: _resync_side(s, row[0::4], row[1::4], True, book.next_arrival),
                book.asks,
            )
            bids, lost_b = lax.cond(
                bid_ok,
                keep,
                lambda s: _resync_side(s, row[2::4], row[3::4], False, book.next_arrival),
                book.bids,
            )
            book = book.replace(asks=asks, bids=bids)
            resyncs = resyncs + (~ask_ok).astype(_I32) + (~bid_ok).astype(_I32)
            dropped = dropped + lost_a + lost_b
        return (book, resyncs, dropped), top

    @jax.jit
    def run(book, resyncs, dropped, msgs, rows):
        (book, resyncs, dropped), tops = lax.scan(step, (book, resyncs, dropped), (msgs, rows))
        return book, resyncs, dropped, tops

    return run


def _chunks(num: int, chunk: int):
    for start in range(0, num, chunk):
        yield start, min(start + chunk, num)


def _pad(x: np.ndarray, length: int, fill_row: np.ndarray | None = None) -> np.ndarray:
    missing = length - x.shape[0]
    if missing == 0:
        return x
    pad = (
        np.zeros((missing, *x.shape[1:]), x.dtype)
        if fill_row is None
        else np.repeat(fill_row[None], missing, axis=0)
    )
    return np.concatenate([x, pad])


def one_step(day: LobsterDay, chunk: int = CHUNK) -> tuple[np.ndarray, dict[str, int]]:
    """Engine rows for messages ``1..n-1``, each applied to the previous file row, and the summed
    counters. Row ``i`` of the result goes with file row ``i + 1``."""
    run = _one_step_fn(day.num_levels)
    prev, msgs = day.orderbook[:-1], day.messages[1:]
    tops, totals = [], dict.fromkeys(REPORTED_COUNTERS, 0)
    for start, end in _chunks(len(msgs), chunk):
        out, counters = run(_pad(prev[start:end], chunk), _pad(msgs[start:end], chunk))
        tops.append(np.asarray(out)[: end - start])
        for name, value in counters.items():
            totals[name] += int(value)
    return np.concatenate(tops), totals


@dataclass(frozen=True)
class ReplayOutcome:
    """What a replay from row 0 produced: the engine's rows and its final counters."""

    rows: np.ndarray  # (n - 1, 4 L) int32, after messages 1..n-1 (before any re-synchronisation)
    counters: dict[str, int]
    resyncs: int  # sides replaced from the file
    resync_dropped: int  # deep orders that no longer fit after a re-synchronisation


def replay(
    day: LobsterDay, capacity: int = DEFAULT_CAPACITY, resync: bool = False, chunk: int = CHUNK
) -> ReplayOutcome:
    """Replay messages ``1..n-1`` from orderbook row 0 through one book of ``capacity`` orders per
    side, in chunks of ``chunk`` messages (one compilation for any length)."""
    num_levels = day.num_levels
    run = _replay_fn(num_levels, resync)
    book = book_from_snapshot(jnp.asarray(day.orderbook[0]), capacity, num_levels)
    resyncs = dropped = jnp.zeros((), _I32)
    msgs, rows = day.messages[1:], day.orderbook[1:]
    tops = []
    for start, end in _chunks(len(msgs), chunk):
        chunk_rows = _pad(rows[start:end], chunk, fill_row=rows[end - 1])
        book, resyncs, dropped, out = run(
            book, resyncs, dropped, _pad(msgs[start:end], chunk), chunk_rows
        )
        tops.append(np.asarray(out)[: end - start])
    counters = {name: int(getattr(book.counters, name)) for name in REPORTED_COUNTERS}
    return ReplayOutcome(
        rows=np.concatenate(tops) if tops else np.zeros((0, 4 * num_levels), np.int32),
        counters=counters,
        resyncs=int(resyncs),
        resync_dropped=int(dropped),
    )


def reconstruct(day: LobsterDay, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """The book the engine rebuilds from orderbook row 0 plus the messages, one row per message in
    LOBSTER layout (int32 dummies); row 0 is the file's, copied."""
    outcome = replay(day, capacity)
    return np.concatenate([day.orderbook[:1], outcome.rows])


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class ModeResult:
    """One mode's agreement with the file over rows ``1..n-1``."""

    mode: str
    rows: int
    exact_rows: int
    unseen_depth: (
        int | None
    )  # mismatches explained by depth the file never showed (None: not judged)
    unexplained: int | None
    counters: dict[str, int]
    resyncs: int = 0
    first_unexplained: tuple[int, ...] = ()  # file line numbers (1-based) of the first few
    first_mismatch: int | None = None  # file line number of the first mismatch

    @property
    def match_rate(self) -> float:
        return self.exact_rows / self.rows if self.rows else 1.0


@dataclass(frozen=True)
class FidelityReport:
    """The three modes' results for one message/orderbook pair."""

    message_path: str
    orderbook_path: str
    num_levels: int
    capacity: int
    num_messages: int
    event_types: dict[int, int]  # LOBSTER event type -> number of messages
    one_step: ModeResult
    continuous: ModeResult
    resynchronised: ModeResult

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for name in ("one_step", "continuous", "resynchronised"):
            out[name]["match_rate"] = getattr(self, name).match_rate
        out["event_types"] = {str(k): v for k, v in self.event_types.items()}
        return out

    def format(self) -> str:
        lines = [
            f"messages:  {self.message_path}",
            f"orderbook: {self.orderbook_path}",
            f"{self.num_messages} messages, {self.num_levels} levels, capacity {self.capacity}; "
            "event types "
            + ", ".join(f"{t}: {n}" for t, n in self.event_types.items())
            + f" (hidden executions {self.event_types.get(5, 0)}, cross trades "
            f"{self.event_types.get(6, 0)}, halts {self.event_types.get(7, 0)})",
        ]
        for result in (self.one_step, self.continuous, self.resynchronised):
            line = (
                f"{result.mode:>15}: {result.exact_rows}/{result.rows} rows exact "
                f"({100 * result.match_rate:.2f} %)"
            )
            if result.unexplained is not None:
                line += (
                    f"; mismatches explained by unseen depth {result.unseen_depth}, "
                    f"unexplained {result.unexplained}"
                )
                if result.first_unexplained:
                    line += " (rows " + ", ".join(map(str, result.first_unexplained)) + ")"
            elif result.first_mismatch is not None:
                line += f"; first mismatch at row {result.first_mismatch}"
            if result.mode == "resynchronised":
                line += f"; {result.resyncs} side re-synchronisations"
            lines.append(line)
            lines.append(
                " " * 17
                + ", ".join(
                    f"{k} {v}"
                    for k, v in result.counters.items()
                    if v or k in ("unmatched_cancels", "unmatched_executions", "evicted_orders")
                )
            )
        return "\n".join(lines)


def _mode_result(
    mode, day, engine_rows, counters, judge, resyncs=0, unseen=None, keep=5
) -> ModeResult:
    prev, file = day.orderbook[:-1], day.orderbook[1:]
    classes = classify(prev, engine_rows, file, unseen)
    mismatched = np.flatnonzero(classes != MATCH)
    unexplained = np.flatnonzero(classes == UNEXPLAINED)
    return ModeResult(
        mode=mode,
        rows=len(classes),
        exact_rows=int(np.sum(classes == MATCH)),
        unseen_depth=int(np.sum(classes == UNSEEN_DEPTH)) if judge else None,
        unexplained=len(unexplained) if judge else None,
        counters=counters,
        resyncs=resyncs,
        first_unexplained=tuple(int(i) + 2 for i in unexplained[:keep]) if judge else (),
        first_mismatch=int(mismatched[0]) + 2 if mismatched.size else None,
    )


def check(day: LobsterDay, capacity: int = DEFAULT_CAPACITY) -> FidelityReport:
    """Run the three modes on a day and classify their mismatches."""
    if day.num_rows < 2:
        raise ValueError(f"{day.message_path}: need at least 2 rows to check")
    one_rows, one_counters = one_step(day)
    continuous = replay(day, capacity, resync=False)
    resynced = replay(day, capacity, resync=True)
    types, counts = np.unique(day.messages[1:, m.TYPE], return_counts=True)
    resync_counters = dict(resynced.counters, resync_dropped=resynced.resync_dropped)
    return FidelityReport(
        message_path=day.message_path,
        orderbook_path=day.orderbook_path,
        num_levels=day.num_levels,
        capacity=capacity,
        num_messages=day.num_rows - 1,
        event_types={int(t): int(c) for t, c in zip(types, counts)},
        one_step=_mode_result("one-step", day, one_rows, one_counters, judge=True),
        continuous=_mode_result(
            "continuous", day, continuous.rows, continuous.counters, judge=False
        ),
        resynchronised=_mode_result(
            "resynchronised",
            day,
            resynced.rows,
            resync_counters,
            judge=True,
            resyncs=resynced.resyncs,
            unseen=unseen_orders(day.messages)[1:],
        ),
    )
