"""Trained policies: the acting side of an actor-critic, and reading it back from a run directory.

The networks (`networks`), action distributions (`distributions`), observation features and
statistics (`features`, `normalization`) and `ActorCritic`, which ties them together, live here so
that a trained policy is an agent like any other (`TrainedPolicy` implements `agents.policy.Policy`)
and `python -m agents.evaluate --policy RUN_DIR` needs nothing from the trainer, which builds on
these same pieces.
"""

from agents.learned.actor import ActorCritic
from agents.learned.spec import NetworkSpec
from agents.learned.trained import TrainedPolicy, load_trained

__all__ = ["ActorCritic", "NetworkSpec", "TrainedPolicy", "load_trained"]
