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


def draw(key: jax.Array, num_uniform: int, num_normal: int) -> tuple[jax.Array, jax.Array]:
    """Return `num_uniform` U[0,1) and `num_normal` N(0,1) float32 draws from one call on `key`."""
    total = num_uniform + num_normal
    if total == 0:
        return jnp.zeros((0,), jnp.float32), jnp.zeros((0,), jnp.float32)
    unit = bits_to_unit_interval(jax.random.bits(key, (total,), jnp.uint32))
    uniforms = unit[:num_uniform]
    # Open interval (-1, 1) for the inverse error function, as jax.random.normal does.
    lo = jnp.nextafter(jnp.float32(-1.0), jnp.float32(0.0))
    centred = jnp.maximum(2.0 * unit[num_uniform:] - 1.0, lo)
    normals = _SQRT2 * jax.lax.erf_inv(centred)
    return uniforms, normals
