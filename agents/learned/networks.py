"""Actor-critic networks (flax linen) with one calling convention for both variants.

Every network is called as `net.apply(params, carry, obs, resets) -> (carry, head, log_std, value)`
with `obs` of shape (T, B, obs_dim) and `resets` (T, B) true where `obs` is the first observation of
a new episode. The feed-forward network ignores `carry` (shape (B, 0)) and `resets`; the recurrent
one zeroes the GRU state of an environment before it reads the first observation of an episode.
`log_std` is the state-independent Gaussian log standard deviation (None for discrete actions).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agents.learned.distributions import CONTINUOUS, ActionSpec
from agents.learned.spec import NetworkSpec

_ACTIVATION = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu}


def _dense(features: int, scale: float) -> nn.Dense:
    return nn.Dense(
        features, kernel_init=nn.initializers.orthogonal(scale), bias_init=nn.initializers.zeros
    )


class MLP(nn.Module):
    """Hidden layers only (orthogonal init, gain sqrt 2)."""

    hidden_sizes: Sequence[int]
    activation: str

    @nn.compact
    def __call__(self, x):
        act = _ACTIVATION[self.activation]
        for width in self.hidden_sizes:
            x = act(_dense(width, np.sqrt(2.0))(x))
        return x


class _Heads(nn.Module):
    """Separate actor and critic MLPs on the same input; small-init policy head."""

    head_size: int
    continuous: bool
    hidden_sizes: Sequence[int]
    activation: str
    init_log_std: float

    @nn.compact
    def __call__(self, x):
        actor = MLP(self.hidden_sizes, self.activation, name="actor")(x)
        head = _dense(self.head_size, 0.01)(actor)
        critic = MLP(self.hidden_sizes, self.activation, name="critic")(x)
        value = _dense(1, 1.0)(critic)[..., 0]
        log_std = None
        if self.continuous:
            log_std = self.param(
                "log_std", nn.initializers.constant(self.init_log_std), (self.head_size,)
            )
        return head, log_std, value


class FeedForwardActorCritic(nn.Module):
    """Actor and critic MLPs on the observation."""

    head_size: int
    continuous: bool
    hidden_sizes: Sequence[int]
    activation: str
    init_log_std: float

    @nn.compact
    def __call__(self, carry, obs, resets):
        del resets
        head, log_std, value = _Heads(
            self.head_size, self.continuous, self.hidden_sizes, self.activation, self.init_log_std
        )(obs)
        return carry, head, log_std, value


class ResettingGRU(nn.Module):
    """One GRU step that first zeroes the state of environments whose episode restarts."""

    features: int

    @nn.compact
    def __call__(self, carry, inputs):
        x, reset = inputs
        carry = jnp.where(reset[..., None], jnp.zeros_like(carry), carry)
        return nn.GRUCell(features=self.features)(carry, x)


class RecurrentActorCritic(nn.Module):
    """Dense embedding, a GRU scanned over time (with resets), then actor and critic MLPs."""

    head_size: int
    continuous: bool
    hidden_sizes: Sequence[int]
    activation: str
    init_log_std: float
    gru_size: int

    @nn.compact
    def __call__(self, carry, obs, resets):
        x = _ACTIVATION[self.activation](_dense(self.gru_size, np.sqrt(2.0))(obs))
        scan_gru = nn.scan(
            ResettingGRU,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=0,
            out_axes=0,
        )
        carry, features = scan_gru(self.gru_size, name="gru")(carry, (x, resets))
        head, log_std, value = _Heads(
            self.head_size, self.continuous, self.hidden_sizes, self.activation, self.init_log_std
        )(features)
        return carry, head, log_std, value


def make_network(network: NetworkSpec, action: ActionSpec) -> nn.Module:
    """The network the spec describes, sized for the action spec."""
    common = dict(
        head_size=action.head_size,
        continuous=action.kind == CONTINUOUS,
        hidden_sizes=tuple(network.hidden_sizes),
        activation=network.activation,
        init_log_std=network.init_log_std,
    )
    if network.recurrent:
        return RecurrentActorCritic(gru_size=network.gru_size, **common)
    return FeedForwardActorCritic(**common)


def initial_carry(network: NetworkSpec, batch: int) -> jax.Array:
    """Zero recurrent state for `batch` environments ((batch, 0) for feed-forward networks)."""
    return jnp.zeros((batch, network.gru_size if network.recurrent else 0), jnp.float32)
