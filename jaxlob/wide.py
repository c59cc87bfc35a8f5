"""Integer totals that cannot wrap without x64: two-word counts and saturating sums.

JAX runs in int32 unless x64 is switched on, and a day of a liquid ticker can cancel more than
2**31 shares. ``Wide`` is a non-negative count held in two int32 words, ``hi * 2**31 + lo`` with
``0 <= lo < 2**31``: exact up to 2**62, four scalar operations per addition (XLA's int32 addition
wraps, so a carry is a negative sum). ``int(w)`` (or
``to_int``) reads it on the host. The saturating helpers are for sums whose exact value matters
only up to a limit (a side's share limit, a batch total): they stop at ``INT32_MAX`` instead of
wrapping, so ``x < INT32_MAX`` after the sum means the sum is exact.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax import lax

_I32 = jnp.int32
INT32_MAX = 2**31 - 1
LO_BITS = 31
_SPLIT = 16  # wide_sum splits each value into 16 low and 15 high bits
MAX_WIDE_SUM_TERMS = 2**15 - 1  # terms wide_sum adds exactly


@struct.dataclass
class Wide:
    """A non-negative count ``hi * 2**31 + lo`` in two int32 words (``0 <= lo < 2**31``)."""

    hi: jax.Array
    lo: jax.Array

    def add(self, x) -> Wide:
        """This count plus ``x`` (int32, ``0 <= x < 2**31``), exactly."""
        return _carry(self.hi, self.lo + jnp.asarray(x, _I32))

    def plus(self, other: Wide) -> Wide:
        """The sum of two counts, exactly."""
        return _carry(self.hi + other.hi, self.lo + other.lo)

    def to_int(self) -> np.ndarray:
        """Host values as int64 (any batch shape)."""
        hi, lo = jax.device_get((self.hi, self.lo))
        return (np.asarray(hi, np.int64) << LO_BITS) + np.asarray(lo, np.int64)

    def __int__(self) -> int:
        return int(self.to_int())


def _carry(hi, lo_sum) -> Wide:
    """``hi * 2**31 + lo_sum`` where ``lo_sum`` is the wrapped int32 sum of two values < 2**31."""
    return Wide(hi=hi + (lo_sum < 0).astype(_I32), lo=lo_sum & INT32_MAX)


def wide_zero() -> Wide:
    return Wide(hi=jnp.zeros((), _I32), lo=jnp.zeros((), _I32))


def wide_sum(x: jax.Array) -> Wide:
    """The exact sum of a 1-D non-negative int32 array of at most ``MAX_WIDE_SUM_TERMS`` values."""
    if x.shape[-1] > MAX_WIDE_SUM_TERMS:
        raise ValueError(f"wide_sum: at most {MAX_WIDE_SUM_TERMS} terms, got {x.shape[-1]}")
    low = jnp.sum(x & ((1 << _SPLIT) - 1), dtype=_I32)  # < 2**15 * 2**16 = 2**31
    high = jnp.sum(x >> _SPLIT, dtype=_I32)  # < 2**15 * 2**15 = 2**30
    # high * 2**16 = (high >> 15) * 2**31 + (high & (2**15 - 1)) * 2**16
    shift = LO_BITS - _SPLIT
    return Wide(hi=high >> shift, lo=(high & ((1 << shift) - 1)) << _SPLIT).add(low)


def saturating_add(a, b):
    """``min(a + b, INT32_MAX)`` for non-negative int32 ``a`` and ``b``."""
    return capped_add(a, b)[0]


def capped_add(a, b) -> tuple[jax.Array, jax.Array]:
    """``min(a + b, INT32_MAX)`` for non-negative int32 ``a`` and ``b``, and whether it capped (the
    wrapped sum is negative)."""
    total = a + b
    capped = total < 0
    return jnp.where(capped, INT32_MAX, total), capped


def saturating_cumsum(x: jax.Array) -> jax.Array:
    """Inclusive prefix sums of a non-negative int32 array, each ``min(sum, INT32_MAX)``."""
    return lax.associative_scan(saturating_add, x)


def saturating_sum(x: jax.Array) -> jax.Array:
    """``min(sum(x), INT32_MAX)`` of a non-negative int32 array."""
    return saturating_cumsum(x)[-1] if x.shape[-1] else jnp.zeros((), _I32)
