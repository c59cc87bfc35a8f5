"""The one switch for code that helps only XLA:CPU.

A few hot paths are written for XLA:CPU's fusion and lowering (the engine's ``_materialise``, the
log-depth ``ring_cumsum``, complex64 action tables, block-wise benchmark batches). On a GPU the
plain form is as fast or faster, so each such place asks `cpu_tricks()` which form to trace.

``JAXLOB_CPU_TRICKS`` chooses: ``auto`` (default: on when JAX's default backend is the CPU),
``on`` or ``off``. Read at trace time, so set it before the first compile.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

ENV_VAR = "JAXLOB_CPU_TRICKS"
CHOICES = ("auto", "on", "off")


def cpu_tricks() -> bool:
    """Whether to trace the XLA:CPU-specific forms (see the module docstring)."""
    choice = os.environ.get(ENV_VAR, "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "auto":
        return jax.default_backend() == "cpu"
    return choice == "on"


def materialise(*values):
    """``values`` (int32 or bool scalars) unchanged; with `cpu_tricks()` computed once as
    the output of a reduction.

    XLA:CPU's fusion emitters copy a cheap per-book computation into every per-slot loop that
    broadcasts its result and redo it for each slot (the shift plan of each book, for example):
    several times slower. A reduction's output is not fused into its consumers, and this one (K
    values spread over a K x 8 array and summed over the 8) is not simplified away, unlike
    ``lax.optimization_barrier``, which does not stop that fusion on CPU. Other backends get the
    values as they are.
    """
    if not cpu_tricks():
        return values
    leaves, tree = jax.tree.flatten(values)
    stacked = jnp.stack([x.astype(jnp.int32) for x in leaves])
    spread = jnp.where(jnp.arange(8)[None, :] == 0, stacked[:, None], 0)
    summed = jnp.sum(spread, axis=1, dtype=jnp.int32)
    out = [summed[k] if x.dtype != jnp.bool_ else summed[k] != 0 for k, x in enumerate(leaves)]
    return jax.tree.unflatten(tree, out)
