"""All random numbers of one environment step from a single key, in one generator call.

Random-number generation dominates the cost of a model-based step, so each step draws exactly the
uniforms and normals its components declare, as one block of random bits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_SQRT2 = 1.4142135623730951


def bits_to_unit_interval(bits: jax.Array) -> jax.Array:
    """Map uint32 bits to float32 uniforms in [0, 1) using the top 23 bits as the mantissa."""
    mantissa = jax.lax.shift_right_logical(bits, jnp.uint32(9)) | jnp.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


def draw(
    key: jax.Array, num_uniform: int, num_normal: int, batch_shape: tuple[int, ...] = ()
) -> tuple[jax.Array, jax.Array]:
    """Return `num_uniform` U[0,1) and `num_normal` N(0,1) draws, shaped (num, *batch_shape), from
    one generator call on `key`. The draw index leads so each row is contiguous in memory."""
    total = num_uniform + num_normal
    if total == 0:
        empty = jnp.zeros((0, *batch_shape), real_dtype())
        return empty, empty
    unit = bits_to_unit_interval(jax.random.bits(key, (total, *batch_shape), jnp.uint32))
    unit = unit.astype(real_dtype())
    uniforms = unit[:num_uniform]
    # Open interval (-1, 1) for the inverse error function, as jax.random.normal does.
    lo = jnp.nextafter(jnp.asarray(-1.0, unit.dtype), jnp.asarray(0.0, unit.dtype))
    centred = jnp.maximum(2.0 * unit[num_uniform:] - 1.0, lo)
    normals = _SQRT2 * jax.lax.erf_inv(centred)
    return uniforms, normals


def real_dtype():
    """float32 normally, float64 under `jax.enable_x64(True)` (used by the float32-accuracy tests)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)
