"""gymnax environments for limit-order-book trading.

`envs.make(name, **overrides) -> (env, params)` builds any registered preset: the model-based
markets (`envs.model_based`) and the LOBSTER replay markets (`envs.replay`); `envs.registered()`
lists them. Every preset is also registered with gymnax, so `gymnax.make(name, **overrides)`
works too: it returns `make`'s environment, whose `default_params` are the params `make` returned.
"""

from __future__ import annotations

import functools

import gymnax

from envs.model_based import registry as _model_based
from envs.replay import registry as _replay


def registered() -> list[str]:
    """Names of every environment `make` can build."""
    return sorted(_model_based.registered() + _replay.registered())


def make(name: str, **overrides):
    """Build environment `name` with field overrides; return `(env, params)`."""
    if name in _replay.registered():
        return _replay.make(name, **overrides)
    return _model_based.make(name, **overrides)


def _make_env(name: str, **overrides):
    return make(name, **overrides)[0]


def _register_with_gymnax() -> None:
    for env_name in registered():
        if env_name not in gymnax.registered_envs:
            gymnax.register(env_name, functools.partial(_make_env, env_name))


_register_with_gymnax()

__all__ = ["make", "registered"]
