"""Action spaces -> distributions -> env actions, checked against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from scipy import stats

from agents.learned.distributions import (
    CONTINUOUS,
    DISCRETE,
    MULTI_BINARY,
    action_spec_from_space,
    deterministic_action,
    make_distribution,
    to_env_action,
)
from envs.spaces import MultiBinary


def test_specs_from_spaces():
    box = action_spec_from_space(spaces.Box(jnp.array([0.0, -1.0]), jnp.array([2.0, 1.0]), (2,)))
    assert (box.kind, box.size, box.low, box.high) == (CONTINUOUS, 2, (0.0, -1.0), (2.0, 1.0))
    assert action_spec_from_space(spaces.Discrete(3)).kind == DISCRETE
    mb = action_spec_from_space(MultiBinary(2))
    assert (mb.kind, mb.size, mb.shape) == (MULTI_BINARY, 2, (2,))
    with pytest.raises(ValueError, match="unsupported action space"):
        action_spec_from_space(object())


def test_box_mapping_centre_bounds_and_clipping():
    spec = action_spec_from_space(spaces.Box(jnp.array([0.0, -1.0]), jnp.array([2.0, 1.0]), (2,)))
    raw = jnp.array([[0.0, 0.0], [1.0, -1.0], [5.0, -5.0], [-0.5, 0.25]])
    np.testing.assert_allclose(
        to_env_action(spec, raw), [[1.0, 0.0], [2.0, -1.0], [2.0, -1.0], [0.5, 0.25]]
    )
    # a scalar-shaped box keeps its shape; unbounded dimensions pass through
    scalar = action_spec_from_space(spaces.Box(-2.0, 2.0, (1,)))
    assert to_env_action(scalar, jnp.array([0.5])).shape == (1,)
    free = action_spec_from_space(spaces.Box(-jnp.inf, jnp.inf, (1,)))
    np.testing.assert_allclose(to_env_action(free, jnp.array([7.0])), [7.0])


def test_gaussian_log_prob_and_entropy():
    spec = action_spec_from_space(spaces.Box(-1.0, 1.0, (2,)))
    mean, log_std = jnp.array([0.1, -0.3]), jnp.array([-1.0, 0.5])
    dist = make_distribution(spec, mean, log_std)
    x = jnp.array([0.4, 0.2])
    want = stats.norm.logpdf(np.asarray(x), np.asarray(mean), np.exp(np.asarray(log_std))).sum()
    assert np.isclose(dist.log_prob(x), want, atol=1e-5)
    want_entropy = stats.norm.entropy(scale=np.exp(np.asarray(log_std))).sum()
    assert np.isclose(dist.entropy(), want_entropy, atol=1e-5)
    np.testing.assert_allclose(deterministic_action(spec, mean), mean)


def test_categorical_and_multibinary():
    logits = jnp.array([0.0, 1.0, -1.0])
    cat = make_distribution(action_spec_from_space(spaces.Discrete(3)), logits, None)
    p = np.exp(logits) / np.exp(logits).sum()
    assert np.isclose(cat.log_prob(jnp.int32(1)), np.log(p[1]), atol=1e-6)
    assert deterministic_action(action_spec_from_space(spaces.Discrete(3)), logits) == 1

    spec = action_spec_from_space(MultiBinary(2))
    bits_logits = jnp.array([2.0, -0.5])
    dist = make_distribution(spec, bits_logits, None)
    q = 1 / (1 + np.exp(-np.asarray(bits_logits)))
    assert np.isclose(dist.log_prob(jnp.array([1, 0])), np.log(q[0]) + np.log(1 - q[1]), atol=1e-6)
    sample = dist.sample(seed=jax.random.key(0))
    action = to_env_action(spec, sample)
    assert action.dtype == jnp.int32 and bool(MultiBinary(2).contains(action))
    np.testing.assert_array_equal(deterministic_action(spec, bits_logits), [1, 0])
