"""Model-based market environments (mbt_gym's scope) as pure JAX gymnax environments."""

from envs.model_based.environment import EnvParams, EnvState, MarketConfig, ModelBasedMarket
from envs.model_based.registry import make, registered, validate

__all__ = [
    "EnvParams",
    "EnvState",
    "MarketConfig",
    "ModelBasedMarket",
    "make",
    "registered",
    "validate",
]
