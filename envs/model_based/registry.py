"""`make(name, **overrides)`: build a preset, swap in named components, apply field overrides,
validate every number.

A component slot given a name replaces the preset's component (`compose`): `midprice="heston"`,
`arrivals="hawkes"`, `fill="power"`, `impact="transient"`, `action="touch"`, `reward="pnl"` (on the
command line, `--set midprice=heston`); the preset "market" is a plain composition to start from.
Two static options change the compiled model rather than a number: `normalize_obs=True` and
`exact_counts=True` (Poisson counts of market orders per step instead of at most one). Override
names are otherwise `EnvParams` fields: top-level (`max_inventory=5`), a component's field by its
bare name when that is unique (`sigma=0.02`, `phi=1e-3`), or dotted (`fill.kappa=50`). Scalars
given for per-side fields are broadcast to both sides. Unknown or ambiguous names, and values a
model cannot run with, raise a one-line `ValueError` naming the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from envs.model_based import compose
from envs.model_based import validation as check
from envs.model_based.draws import real_dtype
from envs.model_based.environment import EnvParams, MarketConfig, ModelBasedMarket
from envs.model_based.presets import PRESETS, Preset
from envs.overrides import as_integer

COMPONENTS = ("midprice", "arrivals", "fill", "impact", "reward")
STATIC_OPTIONS = ("normalize_obs", "exact_counts")
_INT_FIELDS = ("max_steps_in_episode", "initial_inventory_width")


def registered() -> list[str]:
    """Names of every model-based preset."""
    return sorted(PRESETS)


def field_paths(params: EnvParams) -> dict[str, tuple[str, ...]]:
    """Every overridable field as dotted name -> attribute path."""
    paths: dict[str, tuple[str, ...]] = {}
    for f in dataclasses.fields(params):
        if f.name in COMPONENTS:
            sub = getattr(params, f.name)
            if sub is None:
                continue
            for g in dataclasses.fields(sub):
                paths[f"{f.name}.{g.name}"] = (f.name, g.name)
        else:
            paths[f.name] = (f.name,)
    return paths


def resolve_name(name: str, paths: dict[str, tuple[str, ...]], preset: str) -> tuple[str, ...]:
    """Map an override name (bare or dotted) to its attribute path, or raise naming it."""
    if name in paths:
        return paths[name]
    matches = [p for dotted, p in paths.items() if dotted.split(".")[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        options = ", ".join(".".join(m) for m in matches)
        raise ValueError(f"{name}: ambiguous override for {preset!r}; use one of {options}")
    raise ValueError(f"{name}: unknown field for {preset!r}; known: {', '.join(sorted(paths))}")


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Convert an override value to the dtype and shape of the field it replaces."""
    if name == "initial_inventory_width" and np.ndim(value) == 1:
        pair = tuple(as_integer(name, v) for v in value)
        if len(pair) != 2:
            raise ValueError(f"{name}: expected an integer or a pair (below, above), got {value!r}")
        return jnp.asarray(pair, jnp.int32)
    if name.split(".")[-1] in _INT_FIELDS:
        return as_integer(name, value)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: not a number: {value!r}") from err
    shape = np.shape(current)
    if array.shape == shape:
        return jnp.asarray(array, real_dtype()) if shape else float(array)
    if array.shape == () and shape:
        return jnp.full(shape, float(array), real_dtype())
    raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")


def _replace(params: EnvParams, path: tuple[str, ...], value: Any) -> EnvParams:
    if len(path) == 1:
        return params.replace(**{path[0]: value})
    sub = getattr(params, path[0])
    return params.replace(**{path[0]: sub.replace(**{path[1]: value})})


def validate(env: ModelBasedMarket, params: EnvParams) -> None:
    """Raise a one-line ValueError naming the first field the model cannot run with."""
    c = env.config
    check.positive(params.terminal_time, "terminal_time")
    check.require(int(params.max_steps_in_episode) >= 1, "max_steps_in_episode", "must be >= 1")
    check.require(float(params.max_inventory) >= 1.0, "max_inventory", "must be >= 1")
    check.finite(params.initial_cash, "initial_cash")
    check.require(
        abs(float(params.initial_inventory)) <= float(params.max_inventory),
        "initial_inventory",
        f"must lie within +-max_inventory = {float(params.max_inventory)}",
    )
    width = np.asarray(params.initial_inventory_width)
    check.require(
        width.shape in ((), (2,)) and bool(np.all(width >= 0)),
        "initial_inventory_width",
        f"must be an integer >= 0 or a pair (below, above) of them, got {width.tolist()!r}",
    )
    dt = float(params.terminal_time) / int(params.max_steps_in_episode)
    check.require(
        0.0 <= float(params.max_start_time) <= float(params.terminal_time) - dt,
        "max_start_time",
        f"must lie in [0, terminal_time - dt] = [0, {float(params.terminal_time) - dt:.6g}]"
        " (an episode needs at least one step)",
    )
    check.positive(params.max_depth, "max_depth")
    check.require(
        float(params.min_depth) < float(params.max_depth), "min_depth", "must be below max_depth"
    )
    check.non_negative(params.half_spread, "half_spread")
    check.positive(params.max_speed, "max_speed")
    check.require(
        float(params.execution_side) in (-1.0, 0.0, 1.0),
        "execution_side",
        f"must be -1 (buy only), 0 (both) or 1 (sell only), got {params.execution_side!r}",
    )
    check.require(
        float(params.execution_side) * float(params.initial_inventory) >= 0,
        "execution_side",
        "a sell-only programme needs initial_inventory >= 0 and a buy-only one <= 0",
    )
    c.midprice.validate(params.midprice)
    c.arrivals.validate(params.arrivals, dt)
    if c.fill is not None:
        c.fill.validate(params.fill)
    if c.impact is not None:
        c.impact.validate(params.impact)
    c.reward.validate(params.reward)


def make(name: str, **overrides: Any) -> tuple[ModelBasedMarket, EnvParams]:
    """Build preset `name` with `overrides` applied; return `(env, params)`.

    The environment is built last, from the final params, so `env.default_params` is `params`."""
    if name not in PRESETS:
        raise ValueError(f"{name}: unknown environment; registered: {', '.join(registered())}")
    preset = PRESETS[name]()
    overrides = dict(overrides)
    choices = {slot: overrides.pop(slot) for slot in compose.SLOTS if slot in overrides}
    if choices:
        config, params = compose.with_choices(preset.config, preset.params, choices)
        preset = dataclasses.replace(preset, config=config, params=params)
    config = _with_static_options(preset.config, overrides)
    params = _with_overrides(preset, config, overrides, name)
    env = ModelBasedMarket(config, params, name=name)
    validate(env, params)
    return env, params


def _with_static_options(config: MarketConfig, overrides: dict[str, Any]) -> MarketConfig:
    """`config` with the static options in `overrides` applied (and removed from it)."""
    if "normalize_obs" in overrides:
        config = dataclasses.replace(config, normalize_obs=bool(overrides.pop("normalize_obs")))
    if "exact_counts" in overrides:
        arrivals = config.arrivals.with_exact_counts(bool(overrides.pop("exact_counts")))
        config = dataclasses.replace(config, arrivals=arrivals)
    return config


def _with_overrides(preset: Preset, config: MarketConfig, overrides, name: str) -> EnvParams:
    """The preset's params with field `overrides` applied and `max_depth` derived unless given."""
    params = preset.params
    paths = field_paths(params)
    touched = set()
    for key, value in overrides.items():
        path = resolve_name(key, paths, name)
        touched.add(path)
        params = _replace(params, path, _coerce(".".join(path), value, _get(params, path)))
    if preset.derive_max_depth and ("max_depth",) not in touched and config.fill is not None:
        config.fill.validate(params.fill)  # its numbers first: max_depth derives from them
        params = params.replace(max_depth=config.fill.max_depth(params.fill))
    return params


def _get(params: EnvParams, path: tuple[str, ...]) -> Any:
    value = params
    for part in path:
        value = getattr(value, part)
    return value
