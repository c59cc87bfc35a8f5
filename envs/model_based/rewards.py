"""Reward functions, all from per-step increments of the mark-to-market value Y = X + Q S.

- `PnL` ("pnl"): dY.
- `RunningInventoryPenalty` ("running_inventory_penalty"; mbt_gym eq. 9; CJP §10.2):
  dY - phi |Q_t|^p dt, and - alpha |Q_T|^p on the last step, so the episode total is
  Y_T - Y_0 - alpha |Q_T|^p - phi sum_t |Q_t|^p dt (Q_t the inventory held over step t, i.e. after
  that step's trades; p = `inventory_exponent`, 2 by default as in the papers).
- `CJExecution` ("cj_execution"): the Cartea–Jaimungal execution criterion
  X_T + Q_T (S_T - alpha Q_T) - phi int Q^2 (CJP §6.5, §8.4), which is the same functional as the
  running inventory penalty (minus the constant Y_0); kept as its own name for the execution presets.
- `CJMarketMakingCriterion` ("cj_mm_criterion") and `CJExecutionCriterion` ("cj_oe_criterion"):
  mbt_gym's CjMmCriterion / CjOeCriterion, the same functional with the terminal penalty spread
  over the episode: each step pays alpha (|Q_{t+1}|^p - |Q_t|^p) (the first step alpha |Q_1|^p),
  which telescopes to alpha |Q_T|^p, so the episode total, and hence the optimum, equal the running
  inventory penalty's while the reward is dense. (mbt_gym spreads the constant alpha |Q_0|^p evenly
  over the steps, and CjOe uses Ito's linearisation p nu Q^{p-1} dt of the increment; here the
  increment is exact and the constant is settled on the first step: the same episode total.)
- `ExponentialUtility` ("exponential_utility"): -exp(-gamma (Y_T - Y_0)) paid on the last step
  (CARA utility of terminal wealth, Avellaneda–Stoikov), 0 before. Stable in float32: where
  x = -gamma (Y_T - Y_0) exceeds `EXPONENT_CAP` (exp(x) would overflow beyond x = 88.7) the
  utility continues along its tangent, -e^c (1 + x - c) with c = EXPONENT_CAP: the reward is the
  exact utility wherever x <= c (bit for bit), strictly increasing and concave in wealth; it
  stops at x = c + `TANGENT_LIMIT` (-4.9e18, a loss of 1e11 / gamma), so the reward and its square
  (a value loss) are finite in float32 for any wealth. A reward below -e^c marks such an episode.
All share `RewardParams`, so a sweep can vary phi, alpha, gamma or p under any reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check
from envs.model_based.components import Reward

EXPONENT_CAP = 20.0  # utility exact for gamma * (Y_T - Y_0) >= -20 (AS 2008: a loss of 200)
TANGENT_LIMIT = 1e10  # the tangent stops at -e^20 (1 + 1e10) ~ -4.9e18: its square is finite


@struct.dataclass
class RewardParams:
    phi: float = 0.0  # running inventory penalty per unit time
    alpha: float = 0.0  # terminal inventory penalty
    gamma: float = 0.0  # risk aversion of the exponential utility
    inventory_exponent: float = 2.0  # p of the penalties phi |Q|^p, alpha |Q|^p


def _check(p: RewardParams) -> None:
    check.non_negative(p.phi, "reward.phi")
    check.non_negative(p.alpha, "reward.alpha")
    check.non_negative(p.gamma, "reward.gamma")
    check.positive(p.inventory_exponent, "reward.inventory_exponent")


def inventory_power(p: RewardParams, inventory):
    """|Q|^p (exactly Q*Q when p = 2, the papers' and the presets' case)."""
    q = jnp.abs(inventory)
    return jnp.where(p.inventory_exponent == 2.0, q * q, q**p.inventory_exponent)


def stable_exponential_utility(gamma, wealth):
    """-exp(-gamma w), continued along its tangent beyond -gamma w = EXPONENT_CAP (finite)."""
    x = -gamma * wealth
    beyond = jnp.clip(x - EXPONENT_CAP, 0.0, TANGENT_LIMIT)
    return -jnp.exp(jnp.minimum(x, EXPONENT_CAP)) * (1.0 + beyond)


def _no_penalties(inventory):
    zero = jnp.zeros_like(inventory)
    return zero, zero


class _PenalisedPnL(Reward):
    """dY minus the running penalty phi |Q|^p dt and, on the last step, the terminal alpha |Q_T|^p."""

    params_type: ClassVar[type] = RewardParams
    penalised: ClassVar[bool] = True

    def validate(self, p: RewardParams) -> None:
        _check(p)

    def penalties(self, p: RewardParams, inventory, previous_inventory, dt, is_first, is_last):
        held = inventory_power(p, inventory)
        running = p.phi * held * dt
        terminal = jnp.where(is_last, p.alpha * held, 0.0)
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
        _check(p)

    def penalties(self, p: RewardParams, inventory, previous_inventory, dt, is_first, is_last):
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


class _SpreadTerminalPenalty(_PenalisedPnL):
    """The running inventory penalty's functional with alpha |Q_T|^p paid as its increments."""

    def penalties(self, p: RewardParams, inventory, previous_inventory, dt, is_first, is_last):
        held = inventory_power(p, inventory)
        before = jnp.where(is_first, 0.0, inventory_power(p, previous_inventory))
        return p.phi * held * dt, p.alpha * (held - before)


@dataclass(frozen=True)
class CJMarketMakingCriterion(_SpreadTerminalPenalty):
    """mbt_gym's CjMmCriterion (CJP §10.2's criterion as a dense reward)."""

    name: ClassVar[str] = "cj_mm_criterion"


@dataclass(frozen=True)
class CJExecutionCriterion(_SpreadTerminalPenalty):
    """mbt_gym's CjOeCriterion (CJP §6.5's execution criterion as a dense reward)."""

    name: ClassVar[str] = "cj_oe_criterion"


@dataclass(frozen=True)
class ExponentialUtility(Reward):
    """-exp(-gamma (Y_T - Y_0)) on the last step, 0 before (float32-stable: module docstring)."""

    name: ClassVar[str] = "exponential_utility"
    params_type: ClassVar[type] = RewardParams
    penalised: ClassVar[bool] = False

    def validate(self, p: RewardParams) -> None:
        _check(p)
        check.positive(p.gamma, "reward.gamma")

    def penalties(self, p: RewardParams, inventory, previous_inventory, dt, is_first, is_last):
        return _no_penalties(inventory)

    def reward(self, p: RewardParams, pnl, episode_pnl, running, terminal, is_last):
        return jnp.where(is_last, stable_exponential_utility(p.gamma, episode_pnl), 0.0)


REWARDS: tuple[type[Reward], ...] = (
    PnL,
    RunningInventoryPenalty,
    CJExecution,
    ExponentialUtility,
    CJMarketMakingCriterion,
    CJExecutionCriterion,
)
