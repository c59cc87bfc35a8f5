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
