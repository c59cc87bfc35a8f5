"""Synthetic LOBSTER files from zero-intelligence order flow (Cont, Stoikov and Talreja 2010).

The model: on each side, limit orders arrive at distance ``i`` ticks from the opposite best quote
(``i = 1..D``) as Poisson processes of rate ``limit_rates[i-1]``; market orders arrive at rate
``market_rate`` per side; each resting order is cancelled at rate ``cancel_rates[i-1]`` where ``i``
is its distance from the opposite best quote (the last rate beyond ``D``). Defaults follow the shape
of Cont, Stoikov and Talreja's estimates: ``lambda(i) = k i^-alpha`` with ``k = 1.92``,
``alpha = 0.52``, ``mu = 0.94`` per second, and cancellation rates 0.71, 0.81, 0.68, 0.56, 0.47 for
distances 1-5 (0.47 beyond, our assumption). Sizes are whole lots, drawn uniformly; a cancellation
is partial (LOBSTER type 2) with probability ``partial_cancel_probability``, else a deletion (type 3).
Hidden executions (type 5) at the opposite best quote arrive at ``hidden_rate`` per side and leave
the book unchanged.

A market order becomes one LOBSTER execution (type 4) per resting order it trades with, all at the
same time stamp. A side never holds more than ``levels`` price levels: a limit order behind a full side
is not placed, and one inside it first pushes out the worst level (its orders deleted, type 3).
The orderbook file has ``levels`` levels, so it shows the whole book and a replay of the messages
from row 0 reproduces every row exactly.

Limits, so that a typo cannot run for hours or fill the disk: at most ``MAX_SECONDS`` (one LOBSTER
trading day, 09:30 to 16:00, about a million messages and a minute's work) and ``MAX_LEVELS``
levels; the ticker and date must make a file name that ``jaxlob.lobster`` recognises; existing
files are replaced only when asked (``overwrite``).

Many days (`synthesize_days`, a dataset for the replay markets' ``data=FOLDER``): at most
``MAX_DAYS`` (a year of trading days), on consecutive weekdays from the first date, day ``i`` drawn
with seed ``seed + i``, so that any one day is the single day ``synthesize`` writes with that seed
and date.
"""

from __future__ import annotations

import datetime
import math
import numbers
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxlob import messages as m
from jaxlob.lobster.write import write_messages, write_orderbook
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE

MAX_SECONDS = 23400  # one LOBSTER trading day, 09:30 to 16:00
MAX_LEVELS = 50
MAX_DAYS = 260  # a year of trading days
_TICKER = re.compile(r"^[A-Za-z0-9.-]+$")


def check_seconds(seconds: float) -> float:
    """``seconds`` if it is a finite number in (0, MAX_SECONDS], else ValueError saying so."""
    if not isinstance(seconds, numbers.Real) or not math.isfinite(seconds):
        raise ValueError(f"seconds must be a finite number, got {seconds!r}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(
            f"seconds must be in (0, {MAX_SECONDS}] (one trading day, 09:30 to 16:00), got {seconds}"
        )
    return float(seconds)


def check_date(date: str) -> str:
    """``date`` if it is a calendar date written YYYY-MM-DD (as LOBSTER file names hold it)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) is None:
            raise ValueError
        datetime.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise ValueError(f"date must be a calendar date YYYY-MM-DD, got {date!r}") from None
    return date


def check_ticker(ticker: str) -> str:
    """``ticker`` if it is letters, digits, dots and dashes (no '_': it separates name fields)."""
    if not isinstance(ticker, str) or _TICKER.fullmatch(ticker) is None:
        raise ValueError(f"ticker must be letters, digits, '.' or '-', got {ticker!r}")
    return ticker


def _power_law(k: float, alpha: float, n: int) -> tuple[float, ...]:
    return tuple(k * i**-alpha for i in range(1, n + 1))


@dataclass(frozen=True)
class ZeroIntelligenceParams:
    """Rates are per second and per side; prices in LOBSTER units (``PRICE_UNIT`` to the dollar)."""

    limit_rates: tuple[float, ...] = _power_law(1.92, 0.52, 10)  # by distance 1..D in ticks
    cancel_rates: tuple[float, ...] = (0.71, 0.81, 0.68, 0.56, 0.47)  # per order, by distance
    market_rate: float = 0.94
    hidden_rate: float = 0.05
    partial_cancel_probability: float = 0.1
    max_lots: int = 5  # sizes of limit and market orders: 1..max_lots lots
    lot: int = 100
    tick: int = m.PRICE_UNIT // 100  # one cent
    initial_bid: int = 100 * m.PRICE_UNIT  # $100.00
    initial_spread_ticks: int = 1
    initial_orders_per_level: int = 2  # orders placed at distances 1..D before the clock starts
    levels: int = 15  # price levels a side may hold (and the orderbook file shows)

    def __post_init__(self):
        rates = (*self.limit_rates, *self.cancel_rates, self.market_rate, self.hidden_rate)
        if not self.limit_rates or not self.cancel_rates or min(rates) < 0:
            raise ValueError("rates must be non-empty and non-negative")
        if not 0 <= self.partial_cancel_probability <= 1:
            raise ValueError(
                f"partial_cancel_probability must be in [0, 1], got {self.partial_cancel_probability}"
            )
        if not len(self.limit_rates) <= self.levels <= MAX_LEVELS:
            raise ValueError(
                f"levels must be in {len(self.limit_rates)}..{MAX_LEVELS} (at least the number of "
                f"limit-order distances), got {self.levels}"
            )
        for name in ("max_lots", "lot", "tick", "initial_bid", "initial_spread_ticks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class _Side:
    """Resting orders of one side: FIFO queues of [order id, size] by price."""

    is_ask: bool
    levels: dict[int, deque] = field(default_factory=dict)

    def prices(self) -> list[int]:
        return sorted(self.levels, reverse=not self.is_ask)

    def best(self) -> int | None:
        if not self.levels:
            return None
        return min(self.levels) if self.is_ask else max(self.levels)


class _Simulation:
    """The book, the clock and the message/orderbook rows being written."""

    def __init__(self, params: ZeroIntelligenceParams, rng: np.random.Generator, start_s: int):
        self.p = params
        self.rng = rng
        self.asks, self.bids = _Side(True), _Side(False)
        self.next_id = 1
        self.start_ns = start_s * m.NANOS_PER_SECOND
        self.now_ns = self.start_ns
        self.messages: list[tuple] = []
        self.rows: list[np.ndarray] = []
        self.last_bid = params.initial_bid
        self.last_ask = params.initial_bid + params.initial_spread_ticks * params.tick

    # --- bookkeeping
    def side(self, is_ask: bool) -> _Side:
        return self.asks if is_ask else self.bids

    def record(self, typ: int, oid: int, size: int, price: int, direction: int) -> None:
        s, ns = divmod(self.now_ns, m.NANOS_PER_SECOND)
        self.messages.append((typ, direction, size, price, oid, 0, s, ns))
        self.rows.append(np.array(self.top_row(), np.int32))  # compact: a day has ~1e6 rows

    def top_row(self) -> list[int]:
        row = []
        asks = [(p, sum(q for _, q in self.asks.levels[p])) for p in self.asks.prices()]
        bids = [(p, sum(q for _, q in self.bids.levels[p])) for p in self.bids.prices()]
        for level in range(self.p.levels):
            ask = asks[level] if level < len(asks) else (DUMMY_ASK_PRICE, 0)
            bid = bids[level] if level < len(bids) else (DUMMY_BID_PRICE, 0)
            row += [ask[0], ask[1], bid[0], bid[1]]
        return row

    def best_quotes(self) -> tuple[int, int]:
        bid, ask = self.bids.best(), self.asks.best()
        self.last_bid = bid if bid is not None else self.last_bid
        self.last_ask = ask if ask is not None else self.last_ask
        return self.last_bid, self.last_ask

    def distance(self, price: int, is_ask: bool) -> int:
        """Ticks from the opposite best quote (1 = at the touch when the spread is one tick)."""
        bid, ask = self.best_quotes()
        return (price - bid) // self.p.tick if is_ask else (ask - price) // self.p.tick

    def lots(self) -> int:
        return int(self.rng.integers(1, self.p.max_lots + 1)) * self.p.lot

    # --- events
    def submit(self, is_ask: bool, price: int, size: int) -> None:
        side = self.side(is_ask)
        if price not in side.levels and len(side.levels) >= self.p.levels:
            # Keep the book within the file's depth: an order behind a full side is not placed,
            # one inside it first pushes out the worst level (deleted order by order).
            worst = side.prices()[-1]
            if (price > worst) if is_ask else (price < worst):
                return
            while worst in side.levels:
                self.remove(is_ask, worst, 0, whole=True)
        oid = self.next_id
        self.next_id += 1
        side.levels.setdefault(price, deque()).append([oid, size])
        self.record(m.SUBMIT, oid, size, price, m.SELL if is_ask else m.BUY)

    def remove(self, is_ask: bool, price: int, index: int, whole: bool) -> None:
        side = self.side(is_ask)
        queue = side.levels[price]
        oid, size = queue[index]
        direction = m.SELL if is_ask else m.BUY
        if whole or size == self.p.lot:
            del queue[index]
            if not queue:
                del side.levels[price]
            self.record(m.DELETE, oid, size, price, direction)
        else:
            part = int(self.rng.integers(1, size // self.p.lot)) * self.p.lot
            queue[index][1] -= part
            self.record(m.CANCEL, oid, part, price, direction)

    def market(self, buy: bool) -> None:
        side = self.side(is_ask=buy)
        remaining = self.lots()
        direction = m.SELL if buy else m.BUY  # LOBSTER: the side of the resting order
        while remaining > 0 and side.levels:
            price = side.best()
            queue = side.levels[price]
            oid, size = queue[0]
            traded = min(size, remaining)
            remaining -= traded
            if traded == size:
                queue.popleft()
                if not queue:
                    del side.levels[price]
            else:
                queue[0][1] -= traded
            self.record(m.EXECUTE, oid, traded, price, direction)

    def hidden(self, buy: bool) -> None:
        bid, ask = self.best_quotes()
        # a hidden sell order executed by a buyer sits on the ask side, and vice versa
        self.record(m.HIDDEN, 0, self.lots(), ask if buy else bid, m.SELL if buy else m.BUY)

    def cancel_weights(self) -> tuple[list[tuple[bool, int, int]], np.ndarray]:
        rates = self.p.cancel_rates
        orders, weights = [], []
        for is_ask in (True, False):
            for price, queue in self.side(is_ask).levels.items():
                rate = rates[min(max(self.distance(price, is_ask), 1), len(rates)) - 1]
                for index in range(len(queue)):
                    orders.append((is_ask, price, index))
                    weights.append(rate)
        return orders, np.asarray(weights, float)

    def step(self) -> float:
        """Draw and apply the next event; return the waiting time before it (seconds)."""
        p = self.p
        orders, cancel = self.cancel_weights()
        limit = np.asarray(p.limit_rates, float)
        fixed = np.concatenate([limit, limit, [p.market_rate] * 2, [p.hidden_rate] * 2])
        total = fixed.sum() + cancel.sum()
        wait = self.rng.exponential(1.0 / total)
        self.now_ns += int(round(wait * m.NANOS_PER_SECOND))
        choice = self.rng.random() * total
        if choice < fixed.sum():
            event = int(np.searchsorted(np.cumsum(fixed), choice, side="right"))
            event = min(event, len(fixed) - 1)
            d = len(limit)
            bid, ask = self.best_quotes()
            if event < d:  # limit buy at distance event+1 below the best ask
                self.submit(False, ask - (event + 1) * p.tick, self.lots())
            elif event < 2 * d:  # limit sell above the best bid
                self.submit(True, bid + (event - d + 1) * p.tick, self.lots())
            elif event < 2 * d + 2:
                self.market(buy=event == 2 * d)
            else:
                self.hidden(buy=event == 2 * d + 2)
        else:
            pick = int(np.searchsorted(np.cumsum(cancel), choice - fixed.sum(), side="right"))
            is_ask, price, index = orders[min(pick, len(orders) - 1)]
            whole = self.rng.random() >= p.partial_cancel_probability
            self.remove(is_ask, price, index, whole)
        return wait

    def initial_book(self) -> None:
        """``initial_orders_per_level`` orders at each distance 1..D on both sides, at the start."""
        p = self.p
        bid0, ask0 = self.last_bid, self.last_ask
        for level in range(len(p.limit_rates)):
            for _ in range(p.initial_orders_per_level):
                self.submit(True, ask0 + level * p.tick, self.lots())
                self.submit(False, bid0 - level * p.tick, self.lots())


def simulate(
    seconds: float,
    seed: int,
    params: ZeroIntelligenceParams | None = None,
    start_s: int = 34200,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Messages (engine layout, int32) and full-depth orderbook rows (int32, engine dummies).

    The initial book is placed by submissions at ``start_s``; the flow then runs for ``seconds``
    (``check_seconds``). ``progress``, if given, is called with the simulated seconds so far each
    time another tenth of the run is done.
    """
    seconds = check_seconds(seconds)
    if not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    params = params or ZeroIntelligenceParams()
    sim = _Simulation(params, np.random.default_rng(seed), start_s)
    sim.initial_book()
    end_ns = sim.start_ns + int(round(seconds * m.NANOS_PER_SECOND))
    tenth_ns, next_report = max((end_ns - sim.start_ns) // 10, 1), 1
    while True:
        before = (sim.now_ns, len(sim.messages))
        sim.step()
        if progress is not None and sim.now_ns - sim.start_ns >= next_report * tenth_ns:
            next_report = (sim.now_ns - sim.start_ns) // tenth_ns + 1
            progress(min(sim.now_ns, end_ns) / m.NANOS_PER_SECOND - start_s)
        if sim.now_ns > end_ns:  # the event after the horizon is dropped
            del sim.messages[before[1] :], sim.rows[before[1] :]
            sim.now_ns = before[0]
            break
    return np.asarray(sim.messages, np.int32), np.asarray(sim.rows, np.int32)


def output_paths(
    out_dir,
    seconds: float,
    levels: int,
    ticker: str = "SYNTH",
    date: str = "2000-01-03",
    start_s: int = 34200,
    gzipped: bool = True,
) -> tuple[Path, Path]:
    """The message and orderbook files ``synthesize`` writes, named the LOBSTER way."""
    check_ticker(ticker)
    check_date(date)
    end_ms = int(round((start_s + check_seconds(seconds)) * 1000))
    suffix = ".csv.gz" if gzipped else ".csv"
    stem = Path(out_dir) / f"{ticker}_{date}_{start_s * 1000}_{end_ms}"
    return (
        stem.with_name(f"{stem.name}_message_{levels}{suffix}"),
        stem.with_name(f"{stem.name}_orderbook_{levels}{suffix}"),
    )


def synthesize(
    out_dir,
    seconds: float,
    seed: int,
    levels: int | None = None,
    ticker: str = "SYNTH",
    date: str = "2000-01-03",
    params: ZeroIntelligenceParams | None = None,
    start_s: int = 34200,
    gzipped: bool = True,
    overwrite: bool = False,
    progress: Callable[[float], None] | None = None,
) -> tuple[Path, Path]:
    """Write a LOBSTER message/orderbook pair named the LOBSTER way into ``out_dir`` (created if
    missing); return their paths. Existing files are replaced only with ``overwrite``."""
    params = params or ZeroIntelligenceParams()
    if levels is not None:
        params = ZeroIntelligenceParams(**{**params.__dict__, "levels": levels})
    paths = output_paths(out_dir, seconds, params.levels, ticker, date, start_s, gzipped)
    for path in paths:
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    msgs, rows = simulate(seconds, seed, params, start_s, progress)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_messages(paths[0], msgs)
    write_orderbook(paths[1], rows)
    return paths


def check_days(days: int) -> int:
    """``days`` if it is an integer in 1..MAX_DAYS, else ValueError saying so."""
    if (
        isinstance(days, bool)
        or not isinstance(days, numbers.Integral)
        or not 1 <= days <= MAX_DAYS
    ):
        raise ValueError(
            f"days must be an integer in 1..{MAX_DAYS} (a year of trading days), got {days!r}"
        )
    return int(days)


def weekdays(first: str, count: int) -> list[str]:
    """``count`` dates (YYYY-MM-DD) on consecutive weekdays, from ``first`` (kept even on a weekend)."""
    day = datetime.date.fromisoformat(check_date(first))
    out = [day]
    while len(out) < count:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return [d.isoformat() for d in out]


def synthesize_days(
    out_dir,
    days: int,
    seconds: float,
    seed: int,
    levels: int | None = None,
    ticker: str = "SYNTH",
    date: str = "2000-01-03",
    params: ZeroIntelligenceParams | None = None,
    gzipped: bool = True,
    overwrite: bool = False,
    progress: Callable[[int, str], None] | None = None,
) -> list[tuple[Path, Path]]:
    """Write ``days`` pairs (module docstring: weekdays from ``date``, seeds ``seed + i``) into
    ``out_dir``; return their paths. Every file is checked for existence before any is written.
    ``progress``, if given, is called with the day's index and date after each day."""
    dates = weekdays(date, check_days(days))
    params = params or ZeroIntelligenceParams()
    depth = params.levels if levels is None else levels
    if not overwrite:
        for day in dates:
            for path in output_paths(out_dir, seconds, depth, ticker, day, gzipped=gzipped):
                if path.exists():
                    raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    out = []
    for i, day in enumerate(dates):
        out.append(
            synthesize(
                out_dir,
                seconds,
                seed + i,
                levels,
                ticker,
                day,
                params,
                gzipped=gzipped,
                overwrite=True,
            )
        )
        if progress is not None:
            progress(i, day)
    return out
