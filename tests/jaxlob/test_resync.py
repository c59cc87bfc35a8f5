"""Re-synchronisation keeping the agent's orders in place (`jaxlob.resync`), on hand-built books:
every expected book below is worked out by hand from the module's rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxlob as jl
from jaxlob import messages as m
from jaxlob import reference as ref
from jaxlob.resync import RESYNC_ID_PLAIN, resync_book
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE, SNAPSHOT_ID_BASE

LEVELS, CAPACITY = 3, 8
AGENT = 1


def _row(asks, bids):
    """A 3-level LOBSTER row from [(price, size), ...] per side (missing levels empty)."""
    out = []
    for i in range(LEVELS):
        ask = asks[i] if i < len(asks) else (DUMMY_ASK_PRICE, 0)
        bid = bids[i] if i < len(bids) else (DUMMY_BID_PRICE, 0)
        out += [ask[0], ask[1], bid[0], bid[1]]
    return np.asarray(out, np.int32)


_resync = jax.jit(resync_book)


def _book(asks, bids, msgs=()):
    """The book after ``msgs`` from a snapshot, built with the plain-Python reference book and
    copied into the engine's layout (no engine compilation needed)."""
    book = ref.book_from_snapshot(_row(asks, bids), CAPACITY, LEVELS, 1, 2)
    book, _ = ref.apply_messages(book, np.asarray(msgs, np.int64).reshape(-1, m.NUM_FIELDS))
    orders = ref.book_orders(book)
    state = jl.empty_book(CAPACITY, 1, 2)

    def side(fields):
        count = len(fields["price"])
        arrays = {}
        for name in ("price", "quantity", "order_id", "trader_id", "arrival"):
            values = np.zeros(CAPACITY, np.int32)
            values[:count] = fields[name]
            arrays[name] = jnp.asarray(values)
        return jl.Side(
            **arrays, head=jnp.asarray(0, jnp.int32), count=jnp.asarray(count, jnp.int32)
        )

    counters = state.counters.replace(
        evicted_orders=jnp.asarray(book.counters["evicted_orders"], jnp.int32)
    )
    return state.replace(
        bids=side(orders["bids"]),
        asks=side(orders["asks"]),
        counters=counters,
        next_arrival=jnp.asarray(book.next_arrival, jnp.int32),
    )


def _agent(direction, size, price, oid):
    return [m.SUBMIT, direction, size, price, -900_000_000 + oid, AGENT, 0, 0]


def _data(direction, size, price, oid):
    return [m.SUBMIT, direction, size, price, oid, 0, 0, 0]


def _orders(book, side):
    o = jl.book_orders(book)[side]
    return list(zip(o["price"].tolist(), o["quantity"].tolist(), o["trader_id"].tolist()))


def test_without_agent_orders_the_visible_levels_become_the_file():
    book = _book(
        [(101, 10), (102, 20), (103, 30)],
        [(99, 10), (98, 20), (97, 30)],
        [_data(m.SELL, 5, 104, 1), _data(m.BUY, 7, 96, 2)],
    )
    row = _row([(101, 15), (103, 5), (105, 8)], [(100, 4), (99, 10), (97, 1)])
    synced, stats = _resync(book, row)
    np.testing.assert_array_equal(np.asarray(jl.top_levels(synced, LEVELS)), row)
    # deep orders (the file shows 3 levels on each side): the ask at 104 lies inside the visible
    # range (up to 105) and is removed; the bid at 96 lies beyond 97 and is kept
    assert _orders(synced, "asks")[-1] == (105, 8, 0)
    assert _orders(synced, "bids")[-1] == (96, 7, 0)
    # added: asks 5 (101) + 8 (105); bids 4 (100). removed: asks 20 (102) + 25 (103) + 5 (104);
    # bids 20 (98) + 29 (97)
    assert int(stats.added) == 17
    assert int(stats.removed) == 99


def test_a_side_the_file_shows_whole_drops_what_lies_beyond():
    book = _book([(101, 10)], [(99, 10)], [_data(m.SELL, 5, 110, 1)])
    synced, _ = _resync(book, _row([(101, 10)], [(99, 10)]))
    assert _orders(synced, "asks") == [(101, 10, 0)]


def test_removal_comes_from_behind_the_agent_first():
    # bid 10000: snapshot 100, agent 50, data 80 (in that order)
    book = _book([(101, 10)], [(100, 100)], [_agent(m.BUY, 50, 100, 1), _data(m.BUY, 80, 100, 9)])
    synced, stats = _resync(book, _row([(101, 10)], [(100, 120)]))
    assert _orders(synced, "bids") == [(100, 100, 0), (100, 50, AGENT), (100, 20, 0)]
    assert int(stats.removed) == 60
    # more than what is behind: the rest comes from ahead, and the agent moves up the queue
    synced, stats = _resync(book, _row([(101, 10)], [(100, 50)]))
    assert _orders(synced, "bids") == [(100, 50, 0), (100, 50, AGENT)]
    assert int(stats.removed) == 130


def test_additions_join_behind_the_agent():
    # snapshot 100 ahead of the agent: a new (plain-id) order of 200 behind the agent
    book = _book([(101, 10)], [(100, 100)], [_agent(m.BUY, 50, 100, 1)])
    synced, stats = _resync(book, _row([(101, 10)], [(100, 300)]))
    assert _orders(synced, "bids") == [(100, 100, 0), (100, 50, AGENT), (100, 200, 0)]
    bids = jl.book_orders(synced)["bids"]
    assert int(bids["order_id"][2]) > SNAPSHOT_ID_BASE  # one aggregate per price stays valid
    assert int(bids["order_id"][2]) >= RESYNC_ID_PLAIN - 10
    assert int(stats.added) == 200
    # agent first, snapshot aggregate behind it: the aggregate grows (it already is behind)
    book = _book([(101, 10)], [(99, 10)], [_agent(m.BUY, 50, 100, 1), _data(m.BUY, 30, 100, 9)])
    synced, _ = _resync(book, _row([(101, 10)], [(100, 70), (99, 10)]))
    assert _orders(synced, "bids") == [(100, 50, AGENT), (100, 30, 0), (100, 40, 0), (99, 10, 0)]


def test_new_price_levels_get_an_aggregate_the_engine_falls_back_to():
    book = _book([(101, 10)], [(99, 10)])
    synced, _ = _resync(book, _row([(101, 10)], [(100, 40), (99, 10)]))
    # a cancellation of an order the engine never saw, at 100, reduces the new aggregate
    cancel = np.asarray([m.CANCEL, m.BUY, 15, 100, 12345, 0, 0, 0], np.int32)
    after, _ = jax.jit(jl.apply_message)(synced, cancel)
    assert _orders(after, "bids")[0] == (100, 25, 0)
    assert int(after.counters.snapshot_fallbacks) == 1


def test_file_levels_through_the_agents_quotes_are_left_out():
    # the agent bids 101; the file (without the agent) shows an ask at 101: it would cross
    book = _book([(102, 10)], [(99, 10)], [_agent(m.BUY, 20, 101, 1)])
    synced, stats = _resync(book, _row([(101, 5), (102, 10)], [(99, 10)]))
    assert _orders(synced, "asks") == [(102, 10, 0)]
    assert int(stats.skipped) == 5
    bid, ask = jl.best_bid_ask(synced)
    assert int(bid) < int(ask)


def test_orders_beyond_the_visible_range_stay_behind_new_levels():
    book = _book([(110, 1)], [(100, 5), (99, 5), (98, 5)], [_agent(m.BUY, 7, 97, 1)])
    synced, stats = _resync(book, _row([(110, 1)], [(103, 1), (102, 1), (101, 1)]))
    # visible range 101..103 (the file shows all 3 levels): 100, 99, 98 and the agent's 97 lie
    # beyond it and are kept, behind the new levels
    assert _orders(synced, "bids") == [
        (103, 1, 0),
        (102, 1, 0),
        (101, 1, 0),
        (100, 5, 0),
        (99, 5, 0),
        (98, 5, 0),
        (97, 7, AGENT),
    ]
    assert int(stats.dropped_orders) == 0


def test_overflow_is_dropped_from_the_worst_end_and_counted():
    # a full bid side: 3 snapshot levels, 4 deeper data orders, the agent's deepest of all; the file
    # adds 3 levels on top, so the three worst orders (the agent's among them) fall off the end
    msgs = [_data(m.BUY, 1, 95 - i, 20 + i) for i in range(4)] + [_agent(m.BUY, 9, 90, 1)]
    book = _book([(110, 1)], [(100, 5), (99, 5), (98, 5)], msgs)
    assert int(book.bids.count) == CAPACITY
    synced, stats = _resync(book, _row([(110, 1)], [(103, 1), (102, 1), (101, 1)]))
    assert int(synced.bids.count) == CAPACITY
    assert [p for p, _, _ in _orders(synced, "bids")] == [103, 102, 101, 100, 99, 98, 95, 94]
    assert int(stats.dropped_orders) == 3
    assert int(stats.dropped_shares) == 11
    assert int(stats.dropped_kept) == 9
    assert int(synced.counters.evicted_orders) == int(book.counters.evicted_orders) + 3


def test_rebuilding_the_levels_replaces_other_orders_with_one_aggregate_behind_the_agent():
    # bid 100: snapshot 100, agent 50, data 80; the file shows 120 there and a new level at 99
    book = _book([(101, 10)], [(100, 100)], [_agent(m.BUY, 50, 100, 1), _data(m.BUY, 80, 100, 9)])
    row = _row([(101, 10)], [(100, 120), (99, 30)])
    rebuild = jax.jit(lambda b, r: resync_book(b, r, keep_queues=False))
    synced, stats = rebuild(book, row)
    assert _orders(synced, "bids") == [(100, 50, AGENT), (100, 120, 0), (99, 30, 0)]
    assert _orders(synced, "asks") == [(101, 10, 0)]  # rebuilt too: one aggregate, same volume
    assert int(stats.removed) == 180 + 10 and int(stats.added) == 120 + 30 + 10
    # every new order is an aggregate the engine's unknown-id fallback can reduce
    ids = jl.book_orders(synced)["bids"]["order_id"][1:]
    assert (ids <= SNAPSHOT_ID_BASE).all()
    # keep_trader None keeps nobody: the agent's order goes as well
    synced, _ = jax.jit(lambda b, r: resync_book(b, r, None, keep_queues=False))(book, row)
    assert _orders(synced, "bids") == [(100, 120, 0), (99, 30, 0)]


def test_new_orders_of_successive_resyncs_get_distinct_ids():
    """Two re-synchronisations each add a plain-id order at level 3 (behind the agent), at 99 and
    then at 101; the first survives beyond the second's visible range. Their ids must differ, or a
    cancel by id takes both orders' shares from each (a quantity of -x)."""
    book = _book(
        [(110, 10)],
        [(102, 10), (101, 10), (99, 100)],
        [_agent(m.BUY, 5, 101, 1), _agent(m.BUY, 5, 99, 2)],
    )
    book, _ = _resync(book, _row([(110, 10)], [(102, 10), (101, 10), (99, 300)]))
    book, _ = _resync(book, _row([(110, 10)], [(103, 5), (102, 10), (101, 30)]))
    bids = jl.book_orders(book)["bids"]
    assert len(set(bids["order_id"].tolist())) == len(bids["order_id"])
    fields = (bids[k].tolist() for k in ("price", "quantity", "order_id", "trader_id"))
    plain = [(p, q, i) for p, q, i, t in zip(*fields) if t == 0 and i >= RESYNC_ID_PLAIN]
    assert [(p, q) for p, q, _ in plain] == [(101, 20), (99, 200)]
    cancel = np.asarray([m.CANCEL_ID, 0, 0, 0, plain[1][2], 0, 0, 0], np.int32)
    after, _ = jax.jit(jl.apply_message)(book, cancel)
    assert (jl.book_orders(after)["bids"]["quantity"] > 0).all()
    assert _orders(after, "bids") == [
        (103, 5, 0),
        (102, 10, 0),
        (101, 10, 0),
        (101, 5, AGENT),
        (101, 20, 0),
        (99, 100, 0),
        (99, 5, AGENT),
    ]
    assert int(after.counters.cancelled_shares) == 200
