"""A policy that looks its quotes up in (time step, inventory) tables precomputed by a solver.

Solving once on the environment's own time grid t_n = n dt and storing float32 tables makes a policy
step one or two scalar gathers, whatever the number of inventory levels (rather than a matrix exponential per
step). Depths are clipped into the action space on the host; a side the solver bars (+inf depth,
e.g. a fill that would breach the inventory bound) is parked at max_depth, where the environment
also withdraws it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents.observation import ObsReader, inventory_index, make_reader, step_index
from agents.policy import Stateless
from agents.solvers import limit_order_hjb
from jaxlob.backend import cpu_tricks

TABLE_TYPES = ("limit", "limit_and_market", "touch", "touch_and_market")


@struct.dataclass
class QuoteTablePolicy(Stateless):
    """Actions tabulated per (step, inventory): one scalar gather per pair of action components.

    Components are stored in pairs as complex64 flat tables (real part, imaginary part): measured
    on XLA:CPU, one complex64 gather costs about a sixth of two float32 gathers, and rows of a 2-D
    table are slower still. That is an XLA:CPU trick: without `jaxlob.backend.cpu_tricks()` a pair
    is a plain (N * L, 2) float32 table. Entry n * L + (q - q_min).
    """

    pairs: tuple  # (action size / 2) x (N * L,) complex64, or (N * L, 2) float32
    value_table: jax.Array  # (N + 1, L) the solver's value h(t_n, q) (float32 copy)
    reader: ObsReader
    q_min: int = struct.field(pytree_node=False)
    q_max: int = struct.field(pytree_node=False)
    dt: float = struct.field(pytree_node=False)
    num_steps: int = struct.field(pytree_node=False)
    action_kind: str = struct.field(pytree_node=False)

    @property
    def num_levels(self) -> int:
        return self.q_max - self.q_min + 1

    def __call__(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        n = step_index(self.reader.time(obs), self.dt, self.num_steps)
        i = inventory_index(self.reader.inventory(obs), self.q_min, self.q_max)
        row = n * self.num_levels + i  # in bounds: both indices are clipped
        parts = []
        for pair in self.pairs:
            z = pair.at[row].get(mode="promise_in_bounds")
            parts += [jnp.real(z), jnp.imag(z)] if _is_complex(pair) else [z[0], z[1]]
        action = jnp.stack(parts)
        if self.action_kind.startswith("touch"):
            return action.astype(jnp.int32)
        return action

    def _column(self, column: int) -> jax.Array:
        pair = self.pairs[column // 2]
        if _is_complex(pair):
            part = jnp.real(pair) if column % 2 == 0 else jnp.imag(pair)
        else:
            part = pair[:, column % 2]
        return part.reshape(self.num_steps, self.num_levels)

    @property
    def bid_depth(self) -> jax.Array:
        return self._column(0)

    @property
    def ask_depth(self) -> jax.Array:
        return self._column(1)

    @property
    def buy_market_order(self) -> jax.Array:
        if len(self.pairs) < 2:
            return jnp.zeros((self.num_steps, self.num_levels), bool)
        return self._column(2) > 0.5

    @property
    def sell_market_order(self) -> jax.Array:
        if len(self.pairs) < 2:
            return jnp.zeros((self.num_steps, self.num_levels), bool)
        return self._column(3) > 0.5

    def value(self, t, q) -> jax.Array:
        """h(t, q) at the nearest grid time (jit/vmap-able; float32)."""
        n = jnp.clip(jnp.round(jnp.asarray(t) / self.dt), 0, self.num_steps).astype(jnp.int32)
        return self.value_table[n, inventory_index(jnp.asarray(q), self.q_min, self.q_max)]


def _is_complex(pair: jax.Array) -> bool:
    return jnp.issubdtype(pair.dtype, jnp.complexfloating)


def _pair(first: np.ndarray, second: np.ndarray) -> jax.Array:
    """Two action columns as one table: complex64 on XLA:CPU (one gather), else (N * L, 2)."""
    a, b = first.reshape(-1).astype(np.float32), second.reshape(-1).astype(np.float32)
    if cpu_tricks():
        return jnp.asarray(a + 1j * b, jnp.complex64)
    return jnp.asarray(np.stack([a, b], axis=-1))


def after_market_orders(tables, sell: np.ndarray, buy: np.ndarray) -> list[np.ndarray]:
    """Quote tables re-indexed for a step that sends a market order first: where row q sends a
    sell (buy) market order, its quotes meet the flow at inventory q - 1 (q + 1), so they are that
    row's quotes. `tables` are (steps, levels) arrays over increasing inventory."""
    out = []
    for table in tables:
        table = np.array(table, copy=True)
        table[:, 1:] = np.where(sell[:, 1:], table[:, :-1], table[:, 1:])
        table[:, :-1] = np.where(buy[:, :-1], table[:, 1:], table[:, :-1])
        out.append(table)
    return out


def make_table_policy(
    env,
    params,
    reader: ObsReader,
    q_min: int,
    value: np.ndarray,
    bid_depth: np.ndarray,
    ask_depth: np.ndarray,
    sell_market_order: np.ndarray | None = None,
    buy_market_order: np.ndarray | None = None,
    agent: str = "agent",
    kinds: tuple[str, ...] = ("limit", "limit_and_market"),
) -> QuoteTablePolicy:
    """Build the policy from float64 solver output on t_0..t_N (the last row is only used by value).

    For the touch action types, `bid_depth`/`ask_depth` are the post-or-not tables (bool).
    """
    kind = env.action_type
    if kind not in kinds:
        raise ValueError(
            f"{agent}: needs action type {' or '.join(map(repr, kinds))}, not {kind!r}"
        )
    steps = int(params.max_steps_in_episode)
    value = np.asarray(value, np.float64)
    if value.shape[0] != steps + 1:
        raise ValueError(f"{agent}: tables need {steps + 1} time rows, got {value.shape[0]}")
    lo, hi = float(params.min_depth), float(params.max_depth)

    def clip(depth):
        return np.clip(np.nan_to_num(np.asarray(depth)[:steps], posinf=hi), lo, hi)

    if kind.startswith("touch"):
        columns = [
            np.asarray(bid_depth, np.float64)[:steps],
            np.asarray(ask_depth, np.float64)[:steps],
        ]
    else:
        columns = [clip(bid_depth), clip(ask_depth)]
    if kind.endswith("_and_market"):
        no_orders = np.zeros((steps, value.shape[1]))
        for flags in (buy_market_order, sell_market_order):
            columns.append(no_orders if flags is None else np.asarray(flags, np.float64)[:steps])
    return QuoteTablePolicy(
        pairs=tuple(_pair(columns[k], columns[k + 1]) for k in range(0, len(columns), 2)),
        value_table=jnp.asarray(value, jnp.float32),
        reader=reader,
        q_min=int(q_min),
        q_max=int(q_min) + value.shape[1] - 1,
        dt=float(params.terminal_time) / steps,
        num_steps=steps,
        action_kind=kind,
    )


def hjb_table_policy(env, params, problem, agent: str) -> QuoteTablePolicy:
    """Solve a limit-order HJB `problem` (matrix exponential) on the environment's time grid and
    wrap its value and depths as a table policy."""
    solution = limit_order_hjb.solve(problem, int(params.max_steps_in_episode))
    return make_table_policy(
        env,
        params,
        make_reader(env, params),
        problem.q_min,
        solution.h,
        solution.bid_depth,
        solution.ask_depth,
        agent=agent,
    )
