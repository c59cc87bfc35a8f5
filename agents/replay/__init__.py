"""Agents for the LOBSTER replay markets: baselines that read the book, and the per-window report.

- `baselines`: TWAP, VWAP and all-at-once execution; fixed-spread and Avellaneda-Stoikov quotes.
- `estimation`: market parameters estimated from the data (volatility, fill intensity, volume
  curve) that the baselines use.
- `windows`: one episode per window, with the execution report (shortfalls in bps); command line
  ``python -m agents.replay.windows``.
"""
