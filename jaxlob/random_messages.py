"""Seeded random message streams for differential tests and benchmarks.

A stream is generated against a copy of a reference book (``jaxlob.reference``) so that cancels,
deletes and executions can name live orders. ``STRESS_MIX`` exercises every path of the engine
(sweeps of every size, unknown ids, snapshot fallbacks, size mismatches, duplicates, bad messages,
halts, overflow of small books, sizes at the share limit and off-book trades of 2**31 - 1 shares);
``REALISTIC_MIX`` follows the proportions of a LOBSTER day (mostly
submissions and deletions near the touch, a few executions and hidden trades) with some agent orders
that cross the spread.
"""

from __future__ import annotations

import copy

import numpy as np

from jaxlob import messages as m
from jaxlob import reference
from jaxlob.state import MAX_SIDE_SHARES, SNAPSHOT_ID_BASE
from jaxlob.wide import INT32_MAX

STRESS_MIX = {
    "passive": 0.26,
    "crossing": 0.10,
    "market": 0.05,
    "cancel": 0.09,
    "delete": 0.09,
    "execute": 0.09,
    "cancel_id": 0.05,
    "unknown_id": 0.07,
    "hidden": 0.03,
    "cross": 0.02,
    "halt": 0.03,
    "noop": 0.03,
    "unknown_type": 0.03,
    "invalid": 0.03,
    "duplicate": 0.03,
    "huge": 0.02,
}
REALISTIC_MIX = {
    "passive": 0.45,
    "crossing": 0.02,
    "market": 0.01,
    "cancel": 0.02,
    "delete": 0.42,
    "execute": 0.05,
    "hidden": 0.03,
}


class _Generator:
    def __init__(self, rng, book, mid, max_size, trader_ids, first_id, sweep_scales):
        self.rng = rng
        self.sweep_scales = sweep_scales
        self.book = book
        self.mid = mid
        self.max_size = max_size
        self.trader_ids = trader_ids
        self.next_id = first_id
        self.time_ns = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def trader(self) -> int:
        return int(self.rng.choice(self.trader_ids))

    def direction(self) -> int:
        return int(self.rng.choice((m.BUY, m.SELL)))

    def size(self) -> int:
        return int(self.rng.integers(1, self.max_size + 1))

    def touch(self) -> tuple[int, int]:
        """Best bid and ask, or prices around ``mid`` for an empty side."""
        bids, asks = self.book.bids.prices(), self.book.asks.prices()
        bid = bids[0] if bids else (asks[0] - 1 if asks else self.mid - 1)
        ask = asks[0] if asks else bid + 1
        return bid, ask

    def live_order(self):
        if not self.book.by_id:
            return None
        ids = list(self.book.by_id)
        return self.book.by_id[ids[int(self.rng.integers(len(ids)))]]

    def message_id(self, order) -> int:
        """The id a data message uses for ``order``: a snapshot order's real id is unknown."""
        return self.new_id() if order.order_id <= SNAPSHOT_ID_BASE else order.order_id

    def sweep_size(self) -> int:
        scale = self.rng.choice(self.sweep_scales)
        return int(self.rng.integers(1, scale * self.max_size + 1))

    def make(self, kind: str):
        r = self.rng
        d = self.direction()
        bid, ask = self.touch()
        if kind == "passive":
            depth = int(r.integers(0, 6))
            price = bid - depth if d == m.BUY else ask + depth
            if r.random() < 0.3 and ask - bid > 1:  # inside the spread
                price = int(r.integers(bid + 1, ask))
            return (m.SUBMIT, d, self.size(), max(price, 1), self.new_id(), self.trader())
        if kind == "crossing":
            extra = int(r.integers(0, 4))
            price = ask + extra if d == m.BUY else max(bid - extra, 1)
            return (m.SUBMIT, d, self.sweep_size(), price, self.new_id(), self.trader())
        if kind == "market":
            limit = 0 if r.random() < 0.5 else (ask + 1 if d == m.BUY else max(bid - 1, 1))
            return (m.MARKET, d, self.sweep_size(), limit, self.new_id(), self.trader())
        if kind in ("cancel", "delete", "execute"):
            order = self.live_order()
            if order is None:
                return self.make("passive")
            side = m.SELL if order.is_ask else m.BUY
            q = order.quantity
            if kind == "cancel":
                size = int(r.choice((r.integers(1, q + 1), q, q + r.integers(1, 5), 1)))
            elif kind == "delete":
                size = q if r.random() < 0.85 else int(r.integers(1, q + 5))
            else:
                size = int(r.integers(1, q + 1)) if r.random() < 0.9 else q + int(r.integers(1, 5))
            typ = {"cancel": m.CANCEL, "delete": m.DELETE, "execute": m.EXECUTE}[kind]
            trader = 0 if kind != "execute" else self.trader()
            return (typ, side, size, order.price, self.message_id(order), trader)
        if kind == "cancel_id":
            order = self.live_order()
            oid = order.order_id if order is not None and r.random() < 0.8 else self.new_id()
            return (m.CANCEL_ID, 0, 0, 0, oid, 0)
        if kind == "unknown_id":
            typ = int(r.choice((m.CANCEL, m.DELETE, m.EXECUTE)))
            order = self.live_order()
            if order is not None and r.random() < 0.6:  # at a live level, maybe a snapshot one
                side = m.SELL if order.is_ask else m.BUY
                return (
                    typ,
                    side,
                    int(r.integers(1, 2 * order.quantity + 2)),
                    order.price,
                    self.new_id(),
                    0,
                )
            if order is not None and r.random() < 0.5:  # a known id at the wrong price
                side = m.SELL if order.is_ask else m.BUY
                return (typ, side, 1, order.price + 1, order.order_id, 0)
            return (typ, d, self.size(), int(r.integers(bid - 5, ask + 6)), self.new_id(), 0)
        if kind in ("hidden", "cross"):
            typ = m.HIDDEN if kind == "hidden" else m.CROSS
            return (typ, d, self.size(), int(r.integers(bid, ask + 1)), 0, 0)
        if kind == "halt":
            code = int(r.choice((-1, 0, 1, 1, 5)))
            return (m.HALT, 0, 0, code, 0, 0)
        if kind == "noop":
            return (m.NOOP, 0, 0, 0, 0, 0)
        if kind == "unknown_type":
            return (int(r.choice((10, 11, -1, 99))), d, self.size(), bid, self.new_id(), 0)
        if kind == "invalid":
            choice = int(r.integers(5))
            if choice == 0:
                return (m.SUBMIT, int(r.choice((0, 2))), self.size(), bid, self.new_id(), 0)
            if choice == 1:
                return (m.SUBMIT, d, int(r.choice((0, -3))), bid, self.new_id(), 0)
            if choice == 2:
                return (m.SUBMIT, d, self.size(), int(r.choice((0, -5))), self.new_id(), 0)
            if choice == 3:
                return (m.SUBMIT, d, self.size(), bid, SNAPSHOT_ID_BASE - 7, 0)
            return (m.EXECUTE, 0, 5, bid, self.new_id(), 0)
        if kind == "huge":  # at the side's share limit, or an off-book trade of INT32_MAX shares
            if r.random() < 0.3:
                return (int(r.choice((m.HIDDEN, m.CROSS))), d, INT32_MAX, bid, 0, 0)
            size = MAX_SIDE_SHARES - int(r.integers(0, 3))
            price = bid - int(r.integers(0, 3)) if d == m.BUY else ask + int(r.integers(0, 3))
            return (m.SUBMIT, d, size, max(price, 1), self.new_id(), self.trader())
        if kind == "duplicate":
            order = self.live_order()
            if order is None:
                return self.make("passive")
            return (m.SUBMIT, d, self.size(), bid if d == m.BUY else ask, order.order_id, 0)
        raise ValueError(f"unknown message kind {kind!r}")

    def message(self, kind: str) -> np.ndarray:
        fields = self.make(kind)
        self.time_ns += int(self.rng.integers(0, 3_000_000))
        time = (34_200 + self.time_ns // 1_000_000_000, self.time_ns % 1_000_000_000)
        msg = np.asarray((*fields, *time), dtype=np.int64)
        reference.apply_message(self.book, msg)
        return msg


def random_stream(
    rng: np.random.Generator,
    num_messages: int,
    book: reference.Book | None = None,
    mix: dict[str, float] = STRESS_MIX,
    mid: int = 10_000,
    max_size: int = 100,
    trader_ids: tuple[int, ...] = (0, 0, 0, 1, 2),
    first_id: int = 1,
    sweep_scales: tuple[int, ...] = (1, 5, 40),
) -> np.ndarray:
    """``num_messages`` messages (int32, shape ``(num_messages, NUM_FIELDS)``) for ``book``.

    ``book`` (a reference book, default empty with capacity 1000) is not modified. Prices are in
    ticks of 1 around ``mid``; trader ids are drawn from ``trader_ids``. Crossing and market orders
    take up to ``scale * max_size`` shares, ``scale`` drawn from ``sweep_scales``.
    """
    book = copy.deepcopy(book) if book is not None else reference.empty_book(1000)
    kinds = list(mix)
    weights = np.asarray([mix[k] for k in kinds], dtype=float)
    gen = _Generator(rng, book, mid, max_size, trader_ids, first_id, sweep_scales)
    draws = rng.choice(len(kinds), size=num_messages, p=weights / weights.sum())
    out = np.stack([gen.message(kinds[i]) for i in draws]) if num_messages else np.zeros((0, 8))
    return out.astype(np.int32)
