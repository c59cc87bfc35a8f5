"""The PPO loss against hand-computed numbers, and the clipping's effect on the gradient."""

import jax
import jax.numpy as jnp
import numpy as np

from purejaxrl_train.ppo_loss import ppo_loss

OLD = jnp.array([-1.0, -2.0])


def _loss(log_prob, advantages, value, old_value, targets, entropy, **kw):
    defaults = dict(clip_eps=0.2, vf_coef=0.5, ent_coef=0.01, normalize_advantages=False)
    defaults.update(kw)
    return ppo_loss(
        jnp.asarray(log_prob),
        OLD,
        jnp.asarray(advantages),
        jnp.asarray(value),
        jnp.asarray(old_value),
        jnp.asarray(targets),
        jnp.asarray(entropy),
        defaults["clip_eps"],
        defaults["vf_coef"],
        defaults["ent_coef"],
        normalize_advantages=defaults["normalize_advantages"],
        clip_value=kw.get("clip_value", False),
    )


def test_hand_computed_loss():
    # ratios 1.5 and 0.5, advantages +1 and +2: min(1.5, 1.2) = 1.2; min(1.0, 1.6) = 1.0
    log_prob = OLD + jnp.log(jnp.array([1.5, 0.5]))
    total, info = _loss(log_prob, [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [0.3, 0.5])
    assert np.isclose(info.policy_loss, -1.1, atol=1e-6)
    assert np.isclose(info.value_loss, 0.5 * (1.0 + 4.0) / 2, atol=1e-6)
    assert np.isclose(info.entropy, 0.4, atol=1e-6)
    assert np.isclose(total, -1.1 + 0.5 * 1.25 - 0.01 * 0.4, atol=1e-6)
    assert np.isclose(info.clip_fraction, 1.0)


def test_value_clipping_takes_the_worse_error():
    # old 0, new 1, target .5: unclipped .25 vs clipped (.2 - .5)^2 = .09 -> .25
    # old 0, new 1, target 2: unclipped 1 vs clipped (.2 - 2)^2 = 3.24 -> 3.24
    _, info = _loss(
        OLD, [0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.5, 2.0], [0.0, 0.0], clip_value=True
    )
    assert np.isclose(info.value_loss, 0.5 * (0.25 + 3.24) / 2, atol=1e-6)


def test_gradient_vanishes_only_where_the_ratio_is_clipped():
    # sample 0: ratio 1.5 > 1 + eps with positive advantage -> clipped, no gradient
    # sample 1: ratio 0.5 < 1 - eps with positive advantage -> unclipped term is the minimum
    def policy_loss(log_prob):
        return _loss(log_prob, [1.0, 2.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])[
            1
        ].policy_loss

    log_prob = OLD + jnp.log(jnp.array([1.5, 0.5]))
    grad = np.asarray(jax.grad(policy_loss)(log_prob))
    assert grad[0] == 0.0
    # d/dlogp of -(ratio * A)/2 = -(0.5 * 2)/2
    assert np.isclose(grad[1], -0.5, atol=1e-6)


def test_advantage_normalisation_and_kl_estimate():
    log_prob = OLD + jnp.array([0.1, -0.1])
    adv = jnp.array([3.0, 5.0])
    _, normalised = _loss(log_prob, adv, [0, 0], [0, 0], [0, 0], [0, 0], normalize_advantages=True)
    _, by_hand = _loss(log_prob, [-1.0, 1.0], [0, 0], [0, 0], [0, 0], [0, 0])
    assert np.isclose(normalised.policy_loss, by_hand.policy_loss, atol=1e-5)
    r = np.exp([0.1, -0.1])
    assert np.isclose(normalised.approx_kl, np.mean((r - 1) - np.log(r)), atol=1e-7)
    assert normalised.approx_kl > 0
