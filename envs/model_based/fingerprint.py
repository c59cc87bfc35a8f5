"""A content hash of a params pytree, so that an environment's identity includes its defaults.

gymnax jit-compiles `step`/`reset` with the environment as a static argument and fills in
`default_params` when called without params: two environments that compare equal share one
compiled trace, defaults included. Equality therefore includes this fingerprint of the default
params (tree structure, and every leaf's dtype, shape and bytes), computed once at construction.
"""

from __future__ import annotations

import hashlib

import jax
import numpy as np


def fingerprint(tree) -> str:
    """Hex digest of `tree`'s structure and leaf values (concrete leaves only, not tracers)."""
    leaves, treedef = jax.tree.flatten(tree)
    digest = hashlib.sha256(str(treedef).encode())
    for leaf in leaves:
        array = np.asarray(leaf)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
