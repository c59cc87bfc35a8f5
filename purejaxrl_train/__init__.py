"""PPO and recurrent PPO for gymnax environments, compiled end to end (PureJaxRL style).

- `make_train(config) -> train(key, hparams=None)`: rollout, GAE and PPO update in one jittable,
  vmappable program (`purejaxrl_train.trainer`).
- `TrainConfig` (static sizes and switches) and `HyperParams` (traced numbers), `default_config`
  (per-environment presets).
- `save_checkpoint` / `load_checkpoint`; a run's trained policy is an agent:
  `agents.learned.load_trained(run_dir)`, `python -m agents.evaluate --policy RUN_DIR`.
- Command line: `python -m purejaxrl_train --env NAME ...` (every environment, replay markets with
  held-out windows included) and `python -m purejaxrl_train sweep ...`.
"""

from purejaxrl_train.checkpoint import load_checkpoint, save_checkpoint
from purejaxrl_train.config import HyperParams, TrainConfig
from purejaxrl_train.presets import default_config
from purejaxrl_train.trainer import make_train

__all__ = [
    "HyperParams",
    "TrainConfig",
    "default_config",
    "load_checkpoint",
    "make_train",
    "save_checkpoint",
]
