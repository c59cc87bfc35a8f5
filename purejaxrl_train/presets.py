"""Default training configurations per environment.

The project's market presets are finite-horizon problems whose observation carries the time: their
horizon is termination (nothing to bootstrap), and the trainer uses gamma = 1 (the criteria are
undiscounted). The agent sees the state variables the optimal controls
depend on (inventory, time and any component state such as alpha or intensities), not cash or the
price level, which the mean-criterion and CARA problems' optimal controls do not depend on.
Rewards are tiny (cents over an episode), so they are scaled by the running return std.

gymnax's own environments start from PureJaxRL's PPO settings (4 environments x 128 steps, 4
epochs of 4 minibatches, learning rate 2.5e-4 annealed, entropy 0.01, no observation
normalisation), with per-environment changes below; measured results are in the README. A recurrent
run (`recurrent=True`) gets a GRU of 128 units and ReLU layers unless the caller sets them: the
former GRU 64 with tanh oscillated on CartPole-v1 (last tenth 260-316) where this one holds 495.
"""

from __future__ import annotations

import dataclasses

from envs.catalog import is_market, make_any
from purejaxrl_train.config import HyperParams, TrainConfig

DEFAULT_ENV = "cartea_jaimungal_mm"
_IRRELEVANT_FEATURES = ("cash", "midprice")

# Tuned on cartea_jaimungal_mm (greedy return as a share of the optimal agent's, 20,000 episodes):
# the entropy bonus keeps the Gaussian from collapsing before the depths are right (0: 96.4 %,
# 0.01: 98.3 % after 3M steps); lambda 0.7-0.8 damps the noise of later fills and price moves in
# the advantages (0.95: 98.4 % vs 99.1 % after 8M steps). After 16M steps, two seeds each:
# learning rate 1e-3: 99.17 / 99.01 % (98.6 % for a third seed); 5e-4: 99.22 / 99.29 %;
# 2.5e-4: 99.25 / 99.27 %.
_MARKET_DEFAULTS = dict(
    num_envs=64,
    num_steps=100,
    update_epochs=10,
    num_minibatches=4,
    init_log_std=-1.0,
    scale_rewards=True,
    hparams=HyperParams(learning_rate=2.5e-4, gamma=1.0, gae_lambda=0.7, ent_coef=0.01),
)

# Per-preset changes on top of the market defaults. lobster_execution: recurrent-PPO settings of the
# real-data command (the former `envs.replay.train`), training on the GOOG day's windows 0-8 and
# holding out 9-12 (`purejaxrl_train.heldout`). Undiscounted like every market: the shortfall of
# the whole window is the criterion.
_PRESET_CHANGES: dict[str, dict] = {
    "cartea_jaimungal_mm": dict(total_timesteps=16_000_000),
    "lobster_execution": dict(
        total_timesteps=2_000_000,
        num_envs=256,
        num_steps=32,
        update_epochs=4,
        num_minibatches=4,
        init_log_std=-0.5,
        log_interval=3,
        eval_episodes=0,
        env_overrides=(("window_hi", 9), ("window_lo", 0)),
        heldout_windows=(9, 10, 11, 12),
        hparams=HyperParams(learning_rate=3e-4, gamma=1.0, gae_lambda=0.95, ent_coef=0.0),
    ),
}


# PureJaxRL's ppo.py settings (CartPole-v1 solved, >= 475, within 5e5 steps).
_GYMNAX_DEFAULTS = dict(
    total_timesteps=500_000,
    num_envs=4,
    num_steps=128,
    update_epochs=4,
    num_minibatches=4,
    hidden_sizes=(64, 64),
    activation="tanh",
    normalize_obs=False,
    anneal_lr=True,
    log_interval=25,
    eval_episodes=1000,
    hparams=HyperParams(
        learning_rate=2.5e-4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_eps=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
    ),
)

# Pendulum-v1's settings (see _GYMNAX_CHANGES), also the base of MountainCarContinuous-v0's.
_PENDULUM = dict(
    total_timesteps=1_000_000,
    num_envs=16,
    num_steps=256,
    update_epochs=10,
    num_minibatches=32,
    normalize_obs=True,
    scale_rewards=True,
    hparams=HyperParams(
        learning_rate=1e-3, gamma=0.95, gae_lambda=0.95, ent_coef=0.0, max_grad_norm=0.5
    ),
)

# Per-environment changes on top of _GYMNAX_DEFAULTS (why: see each line).
_GYMNAX_CHANGES: dict[str, dict] = {
    # Dense negative reward, continuous torque: a shorter horizon (gamma 0.95), more and larger
    # updates per sample, rewards (down to -16 per step) scaled (greedy -148 to -157, seeds 0-2,
    # 1e6 steps; the random agent: -1213).
    "Pendulum-v1": _PENDULUM,
    # Sparse goal reward: PPO without an exploration bonus can settle on standing still (return ~0);
    # the entropy bonus and the larger batches of Pendulum's settings reach the goal (93.9-94.4
    # greedy, seeds 0-2, 1e6 steps; Gymnasium's threshold is 90).
    "MountainCarContinuous-v0": _PENDULUM
    | dict(hparams=HyperParams(learning_rate=3e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01)),
    # -1 per step until the goal: random exploration must find it first; more environments and
    # steps per update raise the chance (greedy -106 / -133 / -150 for seeds 0-2 after 2e6 steps).
    "MountainCar-v0": dict(
        total_timesteps=2_000_000,
        num_envs=16,
        num_steps=256,
        num_minibatches=8,
        normalize_obs=True,
    ),
}

# A recurrent run's network unless the caller sets it (see the module docstring).
_RECURRENT_DEFAULTS = dict(gru_size=128, activation="relu")


def market_features(env) -> tuple[str, ...]:
    """Observation names a market agent sees by default (all but cash and the price level)."""
    names = sorted(env.obs_index, key=env.obs_index.get)
    return tuple(n for n in names if n not in _IRRELEVANT_FEATURES)


def default_config(env_name: str = DEFAULT_ENV, **changes) -> TrainConfig:
    """The preset's config with `changes` (TrainConfig fields; `hparams` may be a dict of
    HyperParams fields that replace the preset's own)."""
    base: dict = {"env_name": env_name}
    env, _ = make_any(env_name, dict(changes.get("env_overrides", ())))  # checks name, overrides
    if is_market(env_name):
        base.update(_MARKET_DEFAULTS, obs_features=market_features(env))
        base.update(_PRESET_CHANGES.get(env_name, {}))
    else:
        base.update(_GYMNAX_DEFAULTS)
        base.update(_GYMNAX_CHANGES.get(env_name, {}))
    if changes.get("recurrent", base.get("recurrent", False)):
        base.update(_RECURRENT_DEFAULTS)
    hp_changes = changes.pop("hparams", None)
    if "env_overrides" in changes:  # the command line's overrides on top of the preset's
        merged = {**dict(base.get("env_overrides", ())), **dict(changes.pop("env_overrides"))}
        base["env_overrides"] = tuple(sorted(merged.items()))
    base.update(changes)
    if isinstance(hp_changes, dict):
        base["hparams"] = base.get("hparams", HyperParams()).replace(**hp_changes)
    elif hp_changes is not None:
        base["hparams"] = hp_changes
    unknown = set(base) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}")
    return TrainConfig(**base)
