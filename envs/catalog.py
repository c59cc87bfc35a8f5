"""Every environment by name: the project's markets (`envs.make`) and gymnax's own environments.

The trainer and the evaluation command take any of these names. A gymnax environment's overrides
are fields of its params, applied with `replace` after checking that each field exists; its
`default_params` are left as gymnax made them.
"""

from __future__ import annotations

from typing import Any

import gymnax
import numpy as np

from envs import make, registered
from envs.overrides import as_integer, as_number


def _coerce(env_name: str, field: str, value: Any, current: Any) -> Any:
    """An override for a gymnax params field, converted to the field's kind (bool, integer or
    number), or a one-line ValueError naming the field."""
    kind = np.asarray(current).dtype
    if np.shape(current) != ():
        raise ValueError(f"{field}: {env_name}'s field is an array; only scalar fields take --set")
    if kind == np.bool_:
        if not isinstance(value, bool):
            raise ValueError(f"{field}: must be true or false, got {value!r}")
        return value
    if np.issubdtype(kind, np.integer):
        return as_integer(field, value)
    return as_number(field, value)


def known_environments() -> tuple[str, ...]:
    """Every name `make_any` accepts: the project's markets first, then gymnax's."""
    project = tuple(registered())
    return project + tuple(n for n in gymnax.registered_envs if n not in project)


def is_market(name: str) -> bool:
    """Whether `name` is one of the project's markets (built by `envs.make`)."""
    return name in registered()


def make_any(name: str, overrides: tuple[tuple[str, Any], ...] | dict = ()) -> tuple[Any, Any]:
    """(env, params) for `name`, with parameter `overrides` applied (one-line errors)."""
    overrides = dict(overrides)
    if is_market(name):
        return make(name, **overrides)
    if name in gymnax.registered_envs:
        env, params = gymnax.make(name)
        unknown = sorted(k for k in overrides if not hasattr(params, k))
        if unknown:
            known = ", ".join(sorted(params.__dataclass_fields__))
            raise ValueError(
                f"{unknown[0]}: {name} params have no field of that name; known: {known}"
            )
        return env, params.replace(
            **{k: _coerce(name, k, v, getattr(params, k)) for k, v in overrides.items()}
        )
    raise ValueError(f"{name}: unknown environment; known: {', '.join(known_environments())}")
