"""Spaces beyond gymnax's own: a multi-binary action space (post a quote or not, per side)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnax.environments import spaces


class MultiBinary(spaces.Space):
    """`n` independent {0, 1} choices, as an int32 vector of shape (n,)."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"MultiBinary needs n >= 1, got n={n}")
        self.n = int(n)
        self.shape = (self.n,)
        self.dtype = jnp.int32

    def __repr__(self) -> str:
        return f"MultiBinary({self.n})"

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.bernoulli(key, 0.5, self.shape).astype(self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.all((x == 0) | (x == 1))
