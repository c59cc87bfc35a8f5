"""The replay task interface: what `ReplayMarket` asks of its task, and what it hands over.

The environment owns the market (the book, the data, the agent's order slots and trade record); the
task (`envs.replay.execution.ExecutionTask`, `envs.replay.market_making.MarketMakingTask`) owns
what the agent is asked to do: how an action becomes target orders, the reward, when the episode is
over, the task's part of the observation and its report. The environment calls only the methods of
`ReplayTask`, with the same arguments for every task, and never asks which task it runs.

Each task keeps its own state (``TaskState``, a pytree in ``EnvState.task``): what it needs to
decide its targets and its end (execution: shares left to trade; market making: the position).
Per step the environment gives the task a `StepOutcome` (the step's trades and prices) and gets a
`TaskStep` back. The deadline liquidation is the task's choice too: a task whose `liquidates` is
True gets one market order for `deadline_order` appended after the last step's data messages.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
from flax import struct
from gymnax.environments import spaces

from envs.replay.market import StepTrades
from envs.replay.orders import Targets

TaskState = Any  # a task's own pytree (see `ReplayTask.init_state`)


@struct.dataclass
class Quotes:
    """Best prices before a step (price units, int32; an empty side keeps its last price)."""

    bid: jax.Array  # the other traders' best bid: the market's price, which the agent cannot move
    ask: jax.Array
    book_bid: jax.Array  # the whole book's best bid, the agent's own orders included
    book_ask: jax.Array


@struct.dataclass
class StepOutcome:
    """What one step did, as every task reads it (prices in price units, float32)."""

    trades: StepTrades  # the step's trades, the agent's and everyone else's
    mid_before: jax.Array  # the other traders' mid before the step
    mid_after: jax.Array  # and after it
    arrival_mid: jax.Array  # the mid when the episode started
    vwap: jax.Array  # the other traders' VWAP in the step (the arrival mid when they traded none)
    liquidated: jax.Array  # () int32, shares the deadline market order traded
    deadline: jax.Array  # () bool, this step is the window's last
    worst_bid: (
        jax.Array
    )  # () int32, lowest bid the book or the file showed before the deadline order
    worst_ask: jax.Array  # () int32, highest ask (each the last quote when the side was empty)


@struct.dataclass
class TaskStep:
    """What the task makes of a step."""

    state: TaskState  # the task's state after the step
    reward: jax.Array  # () float32, dollars
    pnl: jax.Array  # () float32, dollars (`envs.metrics.StepMetrics.pnl`)
    inventory_penalty: jax.Array  # () float32, dollars charged on the running inventory
    terminal_penalty: jax.Array  # () float32, dollars charged at the end
    finished: jax.Array  # () bool, the episode is over after this step
    reward_parts: dict[str, jax.Array]  # task-specific terms of the reward (fixed keys, for info)


@runtime_checkable
class ReplayTask(Protocol):
    """A replay market's task: static configuration (a frozen dataclass) with pure methods.

    ``params`` is the environment's `EnvParams` (the task's numbers are ``params.task``); ``state``
    the environment's `EnvState` (the task's own state is ``state.task``).
    """

    @property
    def action_type(self) -> str:
        """Name of the action layout (`agents` check it before building a baseline)."""
        ...

    @property
    def action_names(self) -> tuple[str, ...]: ...

    @property
    def obs_names(self) -> tuple[str, ...]:
        """The task's part of the observation (`envs.replay.observation`), in order."""
        ...

    @property
    def num_slots(self) -> int:
        """Agent order slots (static: a shape)."""
        ...

    @property
    def liquidates(self) -> bool:
        """Whether a market order for `deadline_order` follows the last step's data (static)."""
        ...

    @property
    def penalised(self) -> bool:
        """Whether the reward charges inventory penalties."""
        ...

    def task_params(self, **changes) -> Any:
        """The task's numbers (``EnvParams.task``) with ``changes`` and the defaults they imply."""
        ...

    def validate(self, task_params) -> None:
        """Raise a one-line ValueError naming the first field the task cannot run with."""
        ...

    def action_space(self, params) -> spaces.Box: ...

    def inventory_bound(self, params) -> jax.Array:
        """Bound of the ``inventory`` observation and metric (shares)."""
        ...

    def init_state(self, params) -> TaskState: ...

    def inventory(self, task_state, params) -> jax.Array:
        """Signed shares (float32): the observation's and the metrics' ``inventory``."""
        ...

    def targets(self, action, quotes: Quotes, task_state, params) -> tuple[Targets, jax.Array]:
        """Per-slot target orders for ``action``, and the number of invalid (NaN) components."""
        ...

    def deadline_order(self, task_state, params) -> tuple[jax.Array, jax.Array]:
        """(direction, shares) of the deadline market order before the last step's trades (the
        environment sends what the agent has not traded in that direction during the step)."""
        ...

    def step(self, outcome: StepOutcome, task_state, params) -> TaskStep: ...

    def observe(self, state, params) -> jax.Array:
        """The task's part of the observation (float32, ``len(obs_names)``), before clipping."""
        ...

    def info(self, state, params) -> dict[str, jax.Array]:
        """The task's own entries in every step's info (fixed keys), after the step."""
        ...

    def summary(self, state, params) -> dict[str, jax.Array]:
        """The episode so far, in the task's terms (`ReplayMarket.episode_summary`)."""
        ...
