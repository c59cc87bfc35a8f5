"""jaxlob: a limit order book as pure functions over fixed-size arrays (jit/vmap/scan-able).

The engine (``jaxlob.book``) applies LOBSTER-style messages (``jaxlob.messages``) to books kept in
price-time priority; ``jaxlob.reference`` is an independent plain-Python book with the same semantics.
"""

from jaxlob import messages
from jaxlob.book import *  # noqa: F403
from jaxlob.book import __all__ as _book_all

__all__ = ["messages", *_book_all]
