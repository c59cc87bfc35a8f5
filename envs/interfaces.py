"""Declared interfaces between the markets and the packages above them (agents, trainer, benchmarks).

Readers check these with ``isinstance`` (runtime-checkable protocols) instead of probing for
attributes: a project market reports a `envs.metrics.StepMetrics` record under ``info[METRICS]``
and says whether its reward charges inventory penalties; a market that can step a whole batch with
one key (the model-based markets draw every random number of the batch in one call) says so by
implementing `BatchStepper`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax


@runtime_checkable
class Market(Protocol):
    """A project environment (model-based or replay): gymnax API plus these."""

    obs_index: dict[str, int]  # observation position of every named feature

    @property
    def penalised(self) -> bool:
        """Whether the reward charges inventory penalties (StepMetrics' penalty fields)."""
        ...

    @property
    def name(self) -> str: ...


@runtime_checkable
class BatchStepper(Protocol):
    """A market that steps a batch of environments (leading axis) from one key for the batch.

    Same distribution as vmapping `step_env` over split keys, fewer random-number calls; results
    for a key depend on the batch size.
    """

    def batch_step_env(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, dict]: ...
