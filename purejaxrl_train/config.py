"""Training configuration: static sizes and switches apart from traced hyperparameters.

`TrainConfig` holds everything that changes shapes or code paths (counts, widths, which network,
which features). It is hashable and never mutated. `HyperParams` holds the numbers a sweep varies;
it is a pytree, so `jax.vmap(train, in_axes=(0, 0))` runs a grid of them inside one program.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.struct
import jax.numpy as jnp

from agents.learned.spec import ACTIVATIONS, NetworkSpec


@flax.struct.dataclass
class HyperParams:
    """Traced PPO hyperparameters (scalars, or arrays with a leading sweep axis)."""

    learning_rate: Any = 3e-4
    gamma: Any = 0.99
    gae_lambda: Any = 0.95
    clip_eps: Any = 0.2
    ent_coef: Any = 0.0
    vf_coef: Any = 0.5
    max_grad_norm: Any = 0.5

    def as_arrays(self) -> HyperParams:
        """The same values as float32 arrays, so that calls with floats and arrays share a trace."""
        return HyperParams(
            **{f.name: jnp.asarray(getattr(self, f.name), jnp.float32) for f in _hp_fields()}
        )


def _hp_fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(HyperParams)


HYPERPARAM_NAMES: tuple[str, ...] = tuple(f.name for f in _hp_fields())


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static training settings; derived sizes are checked properties.

    env_overrides: `(field, value)` pairs given to `envs.make` (or `params.replace` for gymnax's own
    environments). obs_features: names from `env.obs_index` the agent sees (empty: the whole
    observation). Episodes that terminate (a market's horizon included) are not bootstrapped; a
    truncated one (a time limit that cuts a longer problem) bootstraps from the value of its last
    observation. log_interval: updates between progress lines (0: none). heldout_windows: replay
    markets only, windows of the data evaluated after training beside TWAP
    (`purejaxrl_train.heldout`); train on others with the `window_lo`/`window_hi` overrides.
    """

    env_name: str = "cartea_jaimungal_mm"
    env_overrides: tuple[tuple[str, Any], ...] = ()
    total_timesteps: int = 2_000_000
    num_envs: int = 64
    num_steps: int = 128
    update_epochs: int = 4
    num_minibatches: int = 4
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    recurrent: bool = False
    gru_size: int = 64
    init_log_std: float = 0.0
    obs_features: tuple[str, ...] = ()
    normalize_obs: bool = True
    scale_rewards: bool = False
    normalize_advantages: bool = True
    clip_value: bool = True
    anneal_lr: bool = True
    log_interval: int = 10
    eval_episodes: int = 10_000
    heldout_windows: tuple[int, ...] = ()
    # Live evaluation, checkpoints and devices (purejaxrl_train.trainer / checkpoint):
    eval_every: int = 0  # updates between greedy evaluations on held-out keys (0: none)
    live_eval_episodes: int = 64  # episodes per live evaluation
    live_eval_stochastic: bool = False  # also evaluate the sampling policy
    checkpoint_every: int = 0  # updates between full training-state checkpoints (0: at the end)
    num_devices: int = 0  # devices the environments are split across (0: every visible one)
    hparams: HyperParams = dataclasses.field(default_factory=HyperParams)

    def __post_init__(self):
        positive = (
            "total_timesteps",
            "num_envs",
            "num_steps",
            "update_epochs",
            "num_minibatches",
            "gru_size",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for name in (
            "log_interval",
            "eval_episodes",
            "eval_every",
            "live_eval_episodes",
            "checkpoint_every",
            "num_devices",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 0, got {value!r}")
        if not self.hidden_sizes or any(int(h) < 1 for h in self.hidden_sizes):
            raise ValueError(
                f"TrainConfig.hidden_sizes must be positive widths, got {self.hidden_sizes!r}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"TrainConfig.activation must be one of {ACTIVATIONS}, got {self.activation!r}"
            )
        if self.total_timesteps < self.batch_size:
            raise ValueError(
                f"TrainConfig.total_timesteps={self.total_timesteps} is below one update "
                f"(num_envs * num_steps = {self.batch_size})"
            )
        if self.recurrent and self.num_envs % self.num_minibatches:
            raise ValueError(
                f"TrainConfig.num_minibatches={self.num_minibatches} must divide "
                f"num_envs={self.num_envs}: recurrent minibatches are whole environments"
            )
        if not self.recurrent and self.batch_size % self.num_minibatches:
            raise ValueError(
                f"TrainConfig.num_minibatches={self.num_minibatches} must divide "
                f"num_envs * num_steps = {self.batch_size}"
            )
        for name in HYPERPARAM_NAMES:
            value = getattr(self.hparams, name)
            if not math.isfinite(float(value)):
                raise ValueError(f"TrainConfig.hparams.{name} must be finite, got {value!r}")
        if not math.isfinite(float(self.init_log_std)):
            raise ValueError(f"TrainConfig.init_log_std must be finite, got {self.init_log_std!r}")
        hp = self.hparams
        if float(hp.ent_coef) < 0 or float(hp.vf_coef) < 0:
            raise ValueError("TrainConfig.hparams.ent_coef and vf_coef must be >= 0")
        if not 0.0 <= float(hp.gamma) <= 1.0 or not 0.0 <= float(hp.gae_lambda) <= 1.0:
            raise ValueError("TrainConfig.hparams.gamma and gae_lambda must lie in [0, 1]")
        if float(hp.learning_rate) <= 0 or float(hp.clip_eps) <= 0 or float(hp.max_grad_norm) <= 0:
            raise ValueError(
                "TrainConfig.hparams.learning_rate, clip_eps and max_grad_norm must be > 0"
            )

    @property
    def network(self) -> NetworkSpec:
        """The network and observation preprocessing this config trains."""
        return NetworkSpec(
            hidden_sizes=tuple(int(h) for h in self.hidden_sizes),
            activation=self.activation,
            recurrent=self.recurrent,
            gru_size=self.gru_size,
            init_log_std=float(self.init_log_std),
            obs_features=tuple(self.obs_features),
            normalize_obs=self.normalize_obs,
        )

    @property
    def batch_size(self) -> int:
        """Environment steps collected per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Updates in a run (total_timesteps rounded down to whole updates)."""
        return self.total_timesteps // self.batch_size

    @property
    def minibatch_size(self) -> int:
        """Samples per minibatch (recurrent: environments per minibatch, each a full sequence)."""
        if self.recurrent:
            return self.num_envs // self.num_minibatches
        return self.batch_size // self.num_minibatches

    def replace(self, **changes) -> TrainConfig:
        """A new config with `changes` (fields checked again)."""
        return dataclasses.replace(self, **changes)


# One line per field for the command line's --help (purejaxrl_train.cli derives a flag from every
# TrainConfig and HyperParams field; a field missing here gets its name as help).
FIELD_HELP: dict[str, str] = {
    "env_name": "environment: a project market or a gymnax environment",
    "env_overrides": "environment parameter, repeatable",
    "total_timesteps": "environment steps in the run (rounded down to whole updates)",
    "num_envs": "parallel environments",
    "num_steps": "steps per environment per update",
    "update_epochs": "PPO epochs per update",
    "num_minibatches": "minibatches per epoch (recurrent: groups of whole environments)",
    "hidden_sizes": "hidden layer widths, comma-separated",
    "activation": "activation of the hidden layers",
    "recurrent": "GRU policy (recurrent PPO)",
    "gru_size": "GRU units (recurrent only)",
    "init_log_std": "initial log standard deviation of a Gaussian policy",
    "obs_features": "observation names the agent sees, comma-separated (empty: all)",
    "normalize_obs": "normalise observations by running statistics",
    "scale_rewards": "divide rewards by the running std of the discounted return",
    "normalize_advantages": "normalise advantages per minibatch",
    "clip_value": "clip the value loss like the policy ratio",
    "anneal_lr": "decay the learning rate linearly to 0",
    "log_interval": "updates between progress lines (0: none)",
    "eval_episodes": "episodes of the final greedy evaluation (0: none)",
    "heldout_windows": "replay markets: data windows evaluated after training, comma-separated",
    "eval_every": "updates between live greedy evaluations on held-out keys (0: none)",
    "live_eval_episodes": "episodes per live evaluation",
    "live_eval_stochastic": "live evaluation of the sampling policy too",
    "checkpoint_every": "updates between full training-state checkpoints (0: at the end)",
    "num_devices": "devices the environments are split across (0: every visible one)",
    "learning_rate": "Adam learning rate (the start of the decay if annealed)",
    "gamma": "discount factor",
    "gae_lambda": "GAE lambda",
    "clip_eps": "PPO ratio clip",
    "ent_coef": "entropy bonus coefficient",
    "vf_coef": "value loss coefficient",
    "max_grad_norm": "global gradient-norm clip",
}

_TUPLE_FIELDS = ("hidden_sizes", "obs_features", "heldout_windows")
# Fields of older configs that no longer exist: `bootstrap_truncated` patched markets that reported
# their horizon as truncation; they now report termination, so every run bootstraps alike.
_RETIRED_FIELDS = ("bootstrap_truncated",)


def config_to_dict(config: TrainConfig) -> dict:
    """A JSON-ready dict of the config, derived sizes included for the reader."""
    out = {}
    for f in dataclasses.fields(TrainConfig):
        value = getattr(config, f.name)
        if f.name == "hparams":
            value = {n: float(getattr(value, n)) for n in HYPERPARAM_NAMES}
        elif f.name == "env_overrides":
            value = {k: v for k, v in value}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    out["derived"] = {
        "batch_size": config.batch_size,
        "num_updates": config.num_updates,
        "minibatch_size": config.minibatch_size,
    }
    return out


def config_from_dict(data: dict, where: str = "config") -> TrainConfig:
    """Inverse of `config_to_dict`; unknown keys are errors that name the key and `where`."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs = {}
    for key, value in data.items():
        if key in ("derived", "run"):  # written for the reader, not settings
            continue
        if key in _RETIRED_FIELDS:  # older runs: the semantics now need no switch
            continue
        if key not in known:
            raise ValueError(f"{where}: unknown TrainConfig field {key!r}")
        if key == "hparams":
            unknown = set(value) - set(HYPERPARAM_NAMES)
            if unknown:
                raise ValueError(f"{where}: unknown hyperparameter(s) {sorted(unknown)}")
            value = HyperParams(**{k: float(v) for k, v in value.items()})
        elif key == "env_overrides":  # lists (per-side values) become tuples: configs hash
            value = tuple(
                sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in dict(value).items())
            )
        elif key in _TUPLE_FIELDS:
            value = tuple(value)
        kwargs[key] = value
    return TrainConfig(**kwargs)
