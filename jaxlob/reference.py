"""A plain-Python limit order book with the engine's semantics, to test and time the JAX engine against.

Independent of the JAX code: a dict of orders by id and, per side, a dict of FIFO queues by price with
a sorted list of prices. The functions mirror the engine's API (``empty_book``, ``book_from_snapshot``,
``apply_message``, ``apply_messages``, ``best_bid_ask``, ``top_levels``, ``book_orders``), but the book
is a mutable object that ``apply_message`` updates in place (and returns). Notionals are exact Python
ints here; the engine's float32 sums agree to about 1e-7 relative. Counters are exact Python ints
(the engine's are exact too, two-word where a day can pass 2**31); batch totals saturate at
``INT32_MAX`` as documented in ``jaxlob.records``, and a side holds at most ``MAX_SIDE_SHARES``.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from jaxlob import messages as m
from jaxlob.state import (
    DEFAULT_MAX_FILLS,
    DEFAULT_NUM_TRADERS,
    DUMMY_ASK_PRICE,
    DUMMY_BID_PRICE,
    LOBSTER_DUMMY_ASK_PRICE,
    LOBSTER_DUMMY_BID_PRICE,
    MAX_SIDE_SHARES,
    SNAPSHOT_ID_BASE,
)

INT32_MAX = 2**31 - 1

COUNTER_NAMES = (
    "messages",
    "evicted_orders",
    "evicted_shares",
    "cancelled_shares",
    "dropped_shares",
    "unmatched_cancels",
    "unmatched_executions",
    "snapshot_fallbacks",
    "size_mismatches",
    "duplicate_ids",
    "invalid_messages",
    "unknown_types",
    "hidden_executions",
    "hidden_volume",
    "cross_trades",
    "cross_volume",
    "fill_overflow",
    "unattributed_volume",
    "over_limit_orders",
    "over_limit_shares",
)
ORDER_EVENTS = (m.SUBMIT, m.MARKET, m.CANCEL, m.DELETE, m.EXECUTE, m.HIDDEN, m.CROSS)


@dataclass
class Order:
    price: int
    quantity: int
    order_id: int
    trader_id: int
    arrival: int
    is_ask: bool


class BookSide:
    """Price levels of one side: FIFO queues by price, prices kept sorted best first."""

    def __init__(self, is_ask: bool):
        self.is_ask = is_ask
        self.levels: dict[int, deque[Order]] = {}
        self._keys: list[int] = []  # sort keys, ascending = best first
        self.count = 0
        self.shares = 0  # resting shares, at most MAX_SIDE_SHARES

    def _key(self, price: int) -> int:
        return price if self.is_ask else -price

    def prices(self) -> list[int]:
        """Level prices, best first."""
        return [k if self.is_ask else -k for k in self._keys]

    def orders(self):
        """Orders in priority order."""
        for price in self.prices():
            yield from self.levels[price]

    def add(self, order: Order) -> None:
        if order.price not in self.levels:
            self.levels[order.price] = deque()
            bisect.insort(self._keys, self._key(order.price))
        self.levels[order.price].append(order)
        self.count += 1
        self.shares += order.quantity

    def reduce(self, order: Order, shares: int) -> None:
        """Take ``shares`` from a resting order; the caller removes it when it reaches zero."""
        order.quantity -= shares
        self.shares -= shares

    def remove(self, order: Order) -> None:
        queue = self.levels[order.price]
        queue.remove(order)
        self.count -= 1
        self.shares -= order.quantity
        if not queue:
            del self.levels[order.price]
            self._keys.pop(bisect.bisect_left(self._keys, self._key(order.price)))

    def worst(self) -> Order:
        return self.levels[self.prices()[-1]][-1]

    def is_worse_or_equal(self, price: int, than: int) -> bool:
        """Whether a new order at ``price`` ranks behind a resting order at ``than``."""
        return price >= than if self.is_ask else price <= than


@dataclass
class Totals:
    num_traders: int
    volume: int = 0
    notional: int = 0
    num_fills: int = 0
    fill_overflow: int = 0
    bought_volume: list = field(default_factory=list)
    sold_volume: list = field(default_factory=list)
    bought_notional: list = field(default_factory=list)
    sold_notional: list = field(default_factory=list)
    unattributed_volume: int = 0
    off_book_volume: int = 0
    off_book_notional: int = 0
    rested: int = 0
    dropped: int = 0
    evicted: int = 0
    saturated: int = 0

    def __post_init__(self):
        for name in ("bought_volume", "sold_volume", "bought_notional", "sold_notional"):
            if not getattr(self, name):
                setattr(self, name, [0] * self.num_traders)

    def add(self, other: Totals) -> None:
        """Add ``other``: volumes and counts stop at INT32_MAX, each capped sum counted."""
        capped = 0

        def add_capped(a: int, b: int) -> int:
            nonlocal capped
            if a + b > INT32_MAX:
                capped += 1
                return INT32_MAX
            return a + b

        for name, value in vars(other).items():
            if name in ("num_traders", "saturated"):
                continue
            add = (lambda a, b: a + b) if "notional" in name else add_capped
            mine = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, [add(a, b) for a, b in zip(mine, value, strict=True)])
            else:
                setattr(self, name, add(mine, value))
        self.saturated = min(self.saturated + other.saturated + capped, INT32_MAX)


@dataclass
class Fills:
    max_fills: int
    totals: Totals
    price: list = field(default_factory=list)
    quantity: list = field(default_factory=list)
    order_id: list = field(default_factory=list)
    trader_id: list = field(default_factory=list)
    evicted_order_id: int = 0
    evicted_trader_id: int = 0
    evicted_quantity: int = 0

    def rows(self) -> dict[str, list[int]]:
        """The fill rows padded with zeros to ``max_fills``, as the engine reports them."""
        pad = self.max_fills - len(self.price)
        return {
            name: getattr(self, name) + [0] * pad
            for name in ("price", "quantity", "order_id", "trader_id")
        }


@dataclass
class BatchRecord:
    totals: Totals
    fills: list | None = None


class Book:
    """The reference book's state."""

    def __init__(self, capacity: int, max_fills: int, num_traders: int):
        if capacity < 1 or max_fills < 1 or num_traders < 1:
            raise ValueError("capacity, max_fills and num_traders must be positive")
        self.capacity = capacity
        self.max_fills = max_fills
        self.num_traders = num_traders
        self.bids = BookSide(is_ask=False)
        self.asks = BookSide(is_ask=True)
        self.by_id: dict[int, Order] = {}
        self.counters = dict.fromkeys(COUNTER_NAMES, 0)
        self.next_arrival = 0
        self.halt_state = m.TRADING
        self.time_s = 0
        self.time_ns = 0

    def side(self, is_ask: bool) -> BookSide:
        return self.asks if is_ask else self.bids


def empty_book(
    capacity: int, max_fills: int = DEFAULT_MAX_FILLS, num_traders: int = DEFAULT_NUM_TRADERS
) -> Book:
    return Book(capacity, max_fills, num_traders)


def _lobster_price(value: int, is_ask: bool) -> int | None:
    """A snapshot price, or None for an empty level."""
    if value >= min(LOBSTER_DUMMY_ASK_PRICE, DUMMY_ASK_PRICE) or value <= max(
        LOBSTER_DUMMY_BID_PRICE, DUMMY_BID_PRICE
    ):
        return None
    return value if value > 0 else None


def book_from_snapshot(
    row,
    capacity: int,
    num_levels: int,
    max_fills: int = DEFAULT_MAX_FILLS,
    num_traders: int = DEFAULT_NUM_TRADERS,
) -> Book:
    """One aggregate order per non-empty level of a LOBSTER orderbook row (see the engine's doc)."""
    values = [int(v) for v in np.asarray(row).tolist()]
    if len(values) != 4 * num_levels:
        raise ValueError(f"snapshot row: expected {4 * num_levels} values, got {len(values)}")
    book = Book(capacity, max_fills, num_traders)
    for is_ask, offset in ((True, 0), (False, 2)):
        by_price: dict[int, int] = {}  # levels at one price are one level (size capped)
        for level in range(num_levels):
            price = _lobster_price(values[4 * level + offset], is_ask)
            size = values[4 * level + offset + 1]
            if price is not None and size > 0:
                by_price[price] = min(by_price.get(price, 0) + size, INT32_MAX)
        levels = sorted(by_price.items(), key=lambda ps: ps[0] if is_ask else -ps[0])
        tag = 0 if is_ask else 1
        depth = 0  # shares of this level and the better ones
        for rank, (price, size) in enumerate(levels):
            depth += size
            if depth > MAX_SIDE_SHARES:  # this level and every worse one are refused
                book.counters["over_limit_orders"] += 1
                book.counters["over_limit_shares"] += size
                continue
            if rank >= capacity:
                book.counters["evicted_orders"] += 1
                book.counters["evicted_shares"] += size
                continue
            order = Order(price, size, SNAPSHOT_ID_BASE - 2 * rank - tag, 0, 2 * rank + tag, is_ask)
            book.side(is_ask).add(order)
            book.by_id[order.order_id] = order
    book.next_arrival = 2 * num_levels
    return book


def _record_trade(book: Book, fills: Fills, resting: Order, shares: int, aggressor: int) -> None:
    """A trade of ``shares`` against ``resting`` at its price, with trader ``aggressor`` opposite."""
    totals = fills.totals
    if len(fills.price) < book.max_fills:
        fills.price.append(resting.price)
        fills.quantity.append(shares)
        fills.order_id.append(resting.order_id)
        fills.trader_id.append(resting.trader_id)
    else:
        totals.fill_overflow += 1
    totals.num_fills += 1
    totals.volume += shares
    notional = shares * resting.price
    totals.notional += notional
    # The resting ask sells to the aggressor; a resting bid buys from it.
    seller, buyer = (
        (resting.trader_id, aggressor) if resting.is_ask else (aggressor, resting.trader_id)
    )
    for trader, volumes, notionals in (
        (seller, totals.sold_volume, totals.sold_notional),
        (buyer, totals.bought_volume, totals.bought_notional),
    ):
        if 0 <= trader < book.num_traders:
            volumes[trader] += shares
            notionals[trader] += notional
        else:
            totals.unattributed_volume += shares


def _reduce(book: Book, order: Order, shares: int) -> None:
    book.side(order.is_ask).reduce(order, shares)
    if order.quantity == 0:
        book.side(order.is_ask).remove(order)
        del book.by_id[order.order_id]


def _rest(book: Book, fills: Fills, order: Order) -> None:
    """Put ``order`` in the book unless its side would then hold more than MAX_SIDE_SHARES (refused,
    counted); a full side evicts its worst order (possibly the new one)."""
    side = book.side(order.is_ask)
    if side.shares + order.quantity > MAX_SIDE_SHARES:
        book.counters["over_limit_orders"] += 1
        book.counters["over_limit_shares"] += order.quantity
        return
    if side.count == book.capacity:
        worst = side.worst()
        evicted = order if side.is_worse_or_equal(order.price, worst.price) else worst
        book.counters["evicted_orders"] += 1
        book.counters["evicted_shares"] += evicted.quantity
        fills.totals.evicted += evicted.quantity
        fills.evicted_order_id = evicted.order_id
        fills.evicted_trader_id = evicted.trader_id
        fills.evicted_quantity = evicted.quantity
        if evicted is order:
            return
        _reduce(book, worst, worst.quantity)
    side.add(order)
    book.by_id[order.order_id] = order
    fills.totals.rested += order.quantity


def _match(
    book: Book, fills: Fills, is_buy: bool, size: int, limit: int | None, trader: int
) -> int:
    """Trade ``size`` against the opposite side in priority order; return the unfilled shares."""
    opposite = book.side(is_ask=is_buy)
    remaining = size
    for price in opposite.prices():
        if remaining == 0:
            break
        if limit is not None and (price > limit if is_buy else price < limit):
            break
        for order in list(opposite.levels[price]):
            if remaining == 0:
                break
            shares = min(remaining, order.quantity)
            _record_trade(book, fills, order, shares, trader)
            _reduce(book, order, shares)
            remaining -= shares
    return remaining


def _is_invalid(typ: int, direction: int, size: int, price: int, oid: int) -> bool:
    if typ in ORDER_EVENTS and (direction not in (m.BUY, m.SELL) or size <= 0):
        return True
    if typ == m.SUBMIT and not (0 < price < DUMMY_ASK_PRICE and oid > SNAPSHOT_ID_BASE):
        return True
    return typ == m.HALT and price not in (-1, 0, 1)


def _find_at_price(book: Book, is_ask: bool, oid: int, price: int) -> tuple[Order | None, bool]:
    """The order a CANCEL/DELETE/EXECUTE means, and whether it was found by its id. An id that
    rests at another side or price means the message contradicts the book: no order."""
    order = book.by_id.get(oid)
    if order is not None:
        return (order, True) if order.is_ask == is_ask and order.price == price else (None, False)
    for order in book.side(is_ask).levels.get(price, ()):
        if order.order_id <= SNAPSHOT_ID_BASE:
            return order, False
    return None, False


def apply_message(book: Book, msg) -> tuple[Book, Fills]:
    """Apply one message in place; return the book and what the message did."""
    typ, direction, size, price, oid, trader, time_s, time_ns = (int(v) for v in msg)
    counters = book.counters
    fills = Fills(book.max_fills, Totals(book.num_traders))
    arrival = book.next_arrival
    book.next_arrival += 1
    counters["messages"] += 1
    if typ != m.NOOP:
        book.time_s, book.time_ns = time_s, time_ns
    if not 0 <= typ < m.NUM_TYPES:
        counters["unknown_types"] += 1
        return book, fills
    if _is_invalid(typ, direction, size, price, oid):
        counters["invalid_messages"] += 1
        return book, fills
    is_buy = direction == m.BUY

    if typ in (m.SUBMIT, m.MARKET):
        if typ == m.SUBMIT and oid in book.by_id:
            counters["duplicate_ids"] += 1
            return book, fills
        limit = None if typ == m.MARKET and price <= 0 else price
        remaining = _match(book, fills, is_buy, size, limit, trader)
        if typ == m.SUBMIT and remaining > 0:
            _rest(book, fills, Order(price, remaining, oid, trader, arrival, not is_buy))
        elif typ == m.MARKET:
            counters["dropped_shares"] += remaining
            fills.totals.dropped += remaining
    elif typ in (m.CANCEL, m.DELETE, m.EXECUTE):
        order, by_id = _find_at_price(book, not is_buy, oid, price)
        if order is None:
            counters["unmatched_executions" if typ == m.EXECUTE else "unmatched_cancels"] += 1
            return book, fills
        if not by_id:
            counters["snapshot_fallbacks"] += 1
        if typ == m.DELETE and by_id:
            shares = order.quantity
            counters["size_mismatches"] += int(size != order.quantity)
        else:
            shares = min(size, order.quantity)
            counters["size_mismatches"] += int(size > order.quantity)
        if typ == m.EXECUTE:
            _record_trade(book, fills, order, shares, trader)
        else:
            counters["cancelled_shares"] += shares
        _reduce(book, order, shares)
    elif typ == m.CANCEL_ID:
        order = book.by_id.get(oid)
        if order is None:
            counters["unmatched_cancels"] += 1
        else:
            counters["cancelled_shares"] += order.quantity
            _reduce(book, order, order.quantity)
    elif typ in (m.HIDDEN, m.CROSS):
        kind = "hidden" if typ == m.HIDDEN else "cross"
        counters["hidden_executions" if typ == m.HIDDEN else "cross_trades"] += 1
        counters[f"{kind}_volume"] += size
        fills.totals.off_book_volume += size
        fills.totals.off_book_notional += size * price
    elif typ == m.HALT:
        book.halt_state = {-1: m.HALTED, 0: m.QUOTING, 1: m.TRADING}[price]
    counters["fill_overflow"] += fills.totals.fill_overflow
    counters["unattributed_volume"] += fills.totals.unattributed_volume
    return book, fills


def apply_messages(book: Book, msgs, keep_fills: bool = False) -> tuple[Book, BatchRecord]:
    """Apply messages in order; return the book and the batch totals (and fills if kept)."""
    totals = Totals(book.num_traders)
    kept = [] if keep_fills else None
    for msg in np.asarray(msgs).tolist():
        book, fills = apply_message(book, msg)
        totals.add(fills.totals)
        if keep_fills:
            kept.append(fills)
    return book, BatchRecord(totals, kept)


def best_bid_ask(book: Book) -> tuple[int, int]:
    bids, asks = book.bids.prices(), book.asks.prices()
    return (bids[0] if bids else DUMMY_BID_PRICE), (asks[0] if asks else DUMMY_ASK_PRICE)


def top_levels(book: Book, k: int) -> np.ndarray:
    """The best ``k`` levels in LOBSTER orderbook layout, empty levels as the int32 dummies."""
    row = []
    sides = []
    for side, dummy in ((book.asks, DUMMY_ASK_PRICE), (book.bids, DUMMY_BID_PRICE)):
        prices = side.prices()[:k]
        levels = [(p, sum(o.quantity for o in side.levels[p])) for p in prices]
        sides.append(levels + [(dummy, 0)] * (k - len(levels)))
    for (ask_price, ask_size), (bid_price, bid_size) in zip(*sides, strict=True):
        row += [ask_price, ask_size, bid_price, bid_size]
    return np.asarray(row, dtype=np.int64)


def book_orders(book: Book) -> dict[str, dict[str, np.ndarray]]:
    """Orders in priority order per side, one array per field (as ``jaxlob.views.book_orders``)."""
    out = {}
    for name, side in (("bids", book.bids), ("asks", book.asks)):
        orders = list(side.orders())
        out[name] = {
            f: np.asarray([getattr(o, f) for o in orders], dtype=np.int64)
            for f in ("price", "quantity", "order_id", "trader_id", "arrival")
        }
    return out


def counters(book: Book) -> dict[str, int]:
    """The book's counters by name (as ``BookState.counters``' fields)."""
    return dict(book.counters)
