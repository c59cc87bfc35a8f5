"""Reward functions, all from per-step increments of the mark-to-market value Y = X + Q S.

- `pnl`: dY.
- `running_inventory_penalty` (mbt_gym eq. 9; CJP §10.2): dY - phi Q_t^2 dt, and - alpha Q_T^2 on
  the last step, so the episode total is Y_T - Y_0 - alpha Q_T^2 - phi sum_t Q_t^2 dt (Q_t the
  inventory held over step t, i.e. after that step's trades).
- `cj_execution`: the Cartea–Jaimungal execution criterion X_T + Q_T (S_T - alpha Q_T) - phi int Q^2
  (CJP §6.5, §8.4), which is the same functional as the running inventory penalty (minus the
  constant Y_0); kept as its own name for the execution presets.
- `exponential_utility`: -exp(-gamma (Y_T - Y_0)) paid on the last step (CARA utility of terminal
  wealth, Avellaneda–Stoikov), 0 before.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
from flax import struct

from envs.model_based import validation as check

REWARD_KINDS = ("pnl", "running_inventory_penalty", "cj_execution", "exponential_utility")


@struct.dataclass
class RewardParams:
    phi: float = 0.0  # running inventory penalty per unit time
    alpha: float = 0.0  # terminal inventory penalty
    gamma: float = 0.0  # risk aversion of the exponential utility


@dataclass(frozen=True)
class Reward:
    kind: str = "running_inventory_penalty"

    def __post_init__(self):
        if self.kind not in REWARD_KINDS:
            raise ValueError(f"reward: unknown {self.kind!r}; choose one of {REWARD_KINDS}")

    def default_params(self) -> RewardParams:
        return RewardParams()

    def validate(self, p: RewardParams) -> None:
        check.non_negative(p.phi, "reward.phi")
        check.non_negative(p.alpha, "reward.alpha")
        check.non_negative(p.gamma, "reward.gamma")
        if self.kind == "exponential_utility":
            check.positive(p.gamma, "reward.gamma")

    def penalties(self, p: RewardParams, inventory, dt, is_last):
        """Running and terminal inventory penalties of this step (0 where the reward has none)."""
        if self.kind in ("running_inventory_penalty", "cj_execution"):
            running = p.phi * inventory**2 * dt
            terminal = jnp.where(is_last, p.alpha * inventory**2, 0.0)
            return running, terminal
        zero = jnp.zeros_like(inventory)
        return zero, zero

    def reward(self, p: RewardParams, pnl, episode_pnl, running, terminal, is_last):
        """Reward of a step given its pnl, the episode pnl so far (including it) and penalties."""
        if self.kind == "exponential_utility":
            return jnp.where(is_last, -jnp.exp(-p.gamma * episode_pnl), 0.0)
        return pnl - running - terminal
