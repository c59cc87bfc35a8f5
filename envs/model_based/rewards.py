"""Reward functions, all from per-step increments of the mark-to-market value Y = X + Q S.

- `PnL` ("pnl"): dY.
- `RunningInventoryPenalty` ("running_inventory_penalty"; mbt_gym eq. 9; CJP §10.2):
  dY - phi Q_t^2 dt, and - alpha Q_T^2 on the last step, so the episode total is
  Y_T - Y_0 - alpha Q_T^2 - phi sum_t Q_t^2 dt (Q_t the inventory held over step t, i.e. after
  that step's trades).
- `CJExecution` ("cj_execution"): the Cartea–Jaimungal execution criterion
  X_T + Q_T (S_T - alpha Q_T) - phi int Q^2 (CJP §6.5, §8.4), which is the same functional as the
  running inventory penalty (minus the constant Y_0); kept as its own name for the execution presets.
- `ExponentialUtility` ("exponential_utility"): -exp(-gamma (Y_T - Y_0)) paid on the last step
  (CARA utility of terminal wealth, Avellaneda–Stoikov), 0 before.
All share `RewardParams`, so a sweep can vary phi, alpha or gamma under any reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import Reward


@struct.dataclass
class RewardParams:
    phi: float = 0.0  # running inventory penalty per unit time
    alpha: float = 0.0  # terminal inventory penalty
    gamma: float = 0.0  # risk aversion of the exponential utility


def _check_non_negative(p: RewardParams) -> None:
    check.non_negative(p.phi, "reward.phi")
    check.non_negative(p.alpha, "reward.alpha")
    check.non_negative(p.gamma, "reward.gamma")


def _no_penalties(inventory):
    zero = jnp.zeros_like(inventory)
    return zero, zero


class _PenalisedPnL(Reward):
    """dY minus the running penalty phi Q^2 dt and, on the last step, the terminal alpha Q_T^2."""

    params_type: ClassVar[type] = RewardParams
    penalised: ClassVar[bool] = True

    def validate(self, p: RewardParams) -> None:
        _check_non_negative(p)

    def penalties(self, p: RewardParams, inventory, dt, is_last):
        running = p.phi * inventory**2 * dt
        terminal = jnp.where(is_last, p.alpha * inventory**2, 0.0)
        return running, terminal

    def reward(self, p: RewardParams, pnl, episode_pnl, running, terminal, is_last):
        return pnl - running - terminal


@dataclass(frozen=True)
class PnL(Reward):
    """dY: the change of the mark-to-market value, no penalties."""

    name: ClassVar[str] = "pnl"
    params_type: ClassVar[type] = RewardParams
    penalised: ClassVar[bool] = False

    def validate(self, p: RewardParams) -> None:
        _check_non_negative(p)

    def penalties(self, p: RewardParams, inventory, dt, is_last):
        return _no_penalties(inventory)

    def reward(self, p: RewardParams, pnl, episode_pnl, running, terminal, is_last):
        return pnl


@dataclass(frozen=True)
class RunningInventoryPenalty(_PenalisedPnL):
    """mbt_gym eq. 9, CJP §10.2."""

    name: ClassVar[str] = "running_inventory_penalty"


@dataclass(frozen=True)
class CJExecution(_PenalisedPnL):
    """CJP §6.5, §8.4 (the running inventory penalty's functional, named for execution)."""

    name: ClassVar[str] = "cj_execution"


@dataclass(frozen=True)
class ExponentialUtility(Reward):
    """-exp(-gamma (Y_T - Y_0)) on the last step, 0 before; needs gamma > 0."""

    name: ClassVar[str] = "exponential_utility"
    params_type: ClassVar[type] = RewardParams
    penalised: ClassVar[bool] = False

    def validate(self, p: RewardParams) -> None:
        _check_non_negative(p)
        check.positive(p.gamma, "reward.gamma")

    def penalties(self, p: RewardParams, inventory, dt, is_last):
        return _no_penalties(inventory)

    def reward(self, p: RewardParams, pnl, episode_pnl, running, terminal, is_last):
        return jnp.where(is_last, -jnp.exp(-p.gamma * episode_pnl), 0.0)


REWARDS: tuple[type[Reward], ...] = (PnL, RunningInventoryPenalty, CJExecution, ExponentialUtility)
