"""The order-book engine's public API in one place (the code lives in small modules beside it)."""

from jaxlob.engine import apply_message, apply_messages
from jaxlob.priority import logical_index
from jaxlob.records import BatchRecord, Fills, TradeTotals, add_totals, zero_totals
from jaxlob.state import (
    DEFAULT_MAX_FILLS,
    DEFAULT_NUM_TRADERS,
    DUMMY_ASK_PRICE,
    DUMMY_BID_PRICE,
    LOBSTER_DUMMY_ASK_PRICE,
    LOBSTER_DUMMY_BID_PRICE,
    MAX_CAPACITY,
    MAX_SIDE_SHARES,
    SNAPSHOT_ID_BASE,
    WIDE_COUNTERS,
    BookState,
    Counters,
    Side,
    book_from_snapshot,
    empty_book,
    lobster_row_to_int32,
)
from jaxlob.views import best_bid_ask, book_orders, side_orders, top_levels
from jaxlob.wide import INT32_MAX, Wide

__all__ = [
    "DEFAULT_MAX_FILLS",
    "DEFAULT_NUM_TRADERS",
    "DUMMY_ASK_PRICE",
    "DUMMY_BID_PRICE",
    "LOBSTER_DUMMY_ASK_PRICE",
    "LOBSTER_DUMMY_BID_PRICE",
    "INT32_MAX",
    "MAX_CAPACITY",
    "MAX_SIDE_SHARES",
    "SNAPSHOT_ID_BASE",
    "WIDE_COUNTERS",
    "BatchRecord",
    "BookState",
    "Counters",
    "Fills",
    "Side",
    "TradeTotals",
    "Wide",
    "add_totals",
    "apply_message",
    "apply_messages",
    "best_bid_ask",
    "book_from_snapshot",
    "book_orders",
    "empty_book",
    "logical_index",
    "lobster_row_to_int32",
    "side_orders",
    "top_levels",
    "zero_totals",
]
