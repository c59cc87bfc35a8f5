"""The typed per-step metrics record that every project environment returns in ``info``.

`StepMetrics` is the contract between the markets and whoever reads their episodes
(`agents.evaluate_policy`, the trainer's evaluation, the benchmarks): one field per quantity, the
same fields, shapes and dtypes in every market, so no reader looks up info-dict keys by name or
guesses what a market reports. An environment puts it under ``info[METRICS]`` next to whatever
market-specific extras it also reports; gymnax's own environments have none.

Conventions (both families): per-side arrays are ``[bid, ask]`` / ``[buy, sell]``; money is in the
market's price unit (dollars for the replay markets); the inventory is the position after the step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

METRICS = "metrics"  # the info key the record lives under


@struct.dataclass
class StepMetrics:
    """What one step of a market did (leaves () or (2,); float32 unless noted)."""

    pnl: jax.Array  # change of cash plus inventory marked to the mid, from increments
    inventory_penalty: jax.Array  # running inventory penalty charged this step (0 if none)
    terminal_penalty: jax.Array  # terminal penalty charged this step (0 before the end)
    fills: jax.Array  # (2,) [bought, sold] by the agent's resting quotes
    market_orders: jax.Array  # (2,) [bought, sold] by the agent's market orders / trading speed
    quoted: jax.Array  # (2,) bool, a quote was live on [bid, ask]
    both_quoted: jax.Array  # bool, both quotes were live (derived by `step_metrics`)
    spread: jax.Array  # distance between the agent's quotes when both are live, else 0
    invalid_action: jax.Array  # 1 when the action was invalid (NaN) and replaced, else 0
    inventory: jax.Array  # position after the step


def step_metrics(
    pnl,
    fills,
    inventory,
    *,
    inventory_penalty=0.0,
    terminal_penalty=0.0,
    market_orders=None,
    quoted=None,
    spread=0.0,
    invalid_action=0.0,
) -> StepMetrics:
    """A `StepMetrics` with every leaf cast to its declared dtype and shape (zeros where omitted);
    ``both_quoted`` is derived from ``quoted``. Build the record only through this function."""
    f32 = jnp.float32
    quoted = jnp.zeros((2,), bool) if quoted is None else jnp.asarray(quoted, bool).reshape((2,))
    return StepMetrics(
        pnl=jnp.asarray(pnl, f32).reshape(()),
        inventory_penalty=jnp.asarray(inventory_penalty, f32).reshape(()),
        terminal_penalty=jnp.asarray(terminal_penalty, f32).reshape(()),
        fills=jnp.asarray(fills, f32).reshape((2,)),
        market_orders=(
            jnp.zeros((2,), f32) if market_orders is None else jnp.asarray(market_orders, f32)
        ).reshape((2,)),
        quoted=quoted,
        both_quoted=quoted[0] & quoted[1],
        spread=jnp.asarray(spread, f32).reshape(()),
        invalid_action=jnp.asarray(invalid_action, f32).reshape(()),
        inventory=jnp.asarray(inventory, f32).reshape(()),
    )
