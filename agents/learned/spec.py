"""`NetworkSpec`: everything that decides a trained policy's network and what it reads.

The trainer derives it from its config (`purejaxrl_train.config.TrainConfig.network`), and a run
directory's checkpoint records the same fields, so a trained policy can be rebuilt for evaluation
from the run alone, without the trainer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

ACTIVATIONS = ("tanh", "relu", "gelu")


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Static description of an actor-critic network and its observation preprocessing.

    obs_features: names from `env.obs_index` the network reads (empty: the whole observation).
    normalize_obs: features are normalised by running statistics carried beside the parameters.
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    recurrent: bool = False
    gru_size: int = 64
    init_log_std: float = 0.0
    obs_features: tuple[str, ...] = ()
    normalize_obs: bool = True

    def __post_init__(self):
        if not self.hidden_sizes or any(int(h) < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive widths, got {self.hidden_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not isinstance(self.gru_size, int) or self.gru_size < 1:
            raise ValueError(f"gru_size must be a positive integer, got {self.gru_size!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> NetworkSpec:
        """The spec's fields picked from a dict (a run's config: other keys are ignored)."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                value = data[f.name]
                kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None
