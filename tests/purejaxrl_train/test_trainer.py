"""make_train: determinism, vmapping over keys and traced hyperparameters, checkpoint round trip,
the per-update metrics (learning rate, gradient norm, explained variance) and live evaluation."""

import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxrl_train.checkpoint import load_checkpoint, save_checkpoint
from purejaxrl_train.evaluation import trained_policy
from purejaxrl_train.presets import default_config
from purejaxrl_train.trainer import build, make_train

# A short-horizon market (10 steps of dt = 0.01) and a tiny network: compiled once per module.
CONFIG = default_config(
    "cartea_jaimungal_mm",
    env_overrides=(("max_steps_in_episode", 10), ("terminal_time", 0.1)),
    num_envs=4,
    num_steps=10,
    num_minibatches=2,
    update_epochs=2,
    total_timesteps=120,
    hidden_sizes=(8,),
    log_interval=0,
    eval_every=2,  # live evaluation after updates 2 and 3 (the last)
    live_eval_episodes=16,
    live_eval_stochastic=True,
)
HP = CONFIG.hparams.as_arrays()


@pytest.fixture(scope="module")
def train():
    return jax.jit(make_train(CONFIG))


@pytest.fixture(scope="module")
def run(train):
    return train(jax.random.key(0), HP)


def _leaves_equal(a, b) -> bool:
    return all(
        np.array_equal(x, y, equal_nan=True)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_metrics_shapes_and_episodes(run):
    _, metrics = run
    assert CONFIG.num_updates == 3
    assert all(np.shape(v) == (3,) for v in metrics.values())
    # 4 envs x 10 steps per update, episodes of exactly 10 steps
    np.testing.assert_array_equal(metrics["episodes"], [4, 4, 4])
    np.testing.assert_allclose(metrics["episode_length"], 10.0)
    assert np.isfinite(np.asarray(metrics["policy_loss"])).all()


def test_same_key_same_result_other_key_other_result(train, run):
    state, metrics = run
    again_state, again = train(jax.random.key(0), HP)
    assert _leaves_equal(metrics, again)
    assert _leaves_equal(state.learner.params, again_state.learner.params)
    _, other = train(jax.random.key(1), HP)
    assert not np.allclose(metrics["episode_return"], other["episode_return"])


def test_learning_rate_is_traced_and_used(train, run):
    # learning rate 0 (same compiled program): parameters never move
    state0, _ = train(jax.random.key(0), HP.replace(learning_rate=jnp.float32(0.0)))
    fresh = build(CONFIG)[2].init(jax.random.split(jax.random.key(0), 3)[1])
    assert _leaves_equal(state0.learner.params, fresh)
    assert not _leaves_equal(run[0].learner.params, fresh)


def test_sweep_members_equal_single_runs(train, tmp_path):
    """The vmapped sweep (grid x seeds in one program) reproduces each single run it stands for."""
    from purejaxrl_train.cli import run_sweep
    from purejaxrl_train.sweep import final_returns

    grid = (("learning_rate", (1e-3, 3e-3)), ("ent_coef", (0.01,)))
    rows, batched = run_sweep(CONFIG, grid, num_seeds=2, seed=7, out=tmp_path, stream=io.StringIO())
    assert [(r["learning_rate"], r["seeds"]) for r in rows] == [(1e-3, 2), (3e-3, 2)]
    assert (tmp_path / "sweep.csv").is_file() and (tmp_path / "sweep.json").is_file()
    seed_keys = [jax.random.key(7), jax.random.key(8)]  # member seeds: seed + seed index
    finals = []
    for member, (lr, seed_index) in enumerate([(1e-3, 0), (1e-3, 1), (3e-3, 0), (3e-3, 1)]):
        hp = HP.replace(learning_rate=jnp.float32(lr), ent_coef=jnp.float32(0.01))
        _, single = train(seed_keys[seed_index], hp)
        for name in ("episode_return", "value_loss", "entropy"):
            np.testing.assert_allclose(batched[name][member], single[name], rtol=2e-4, atol=1e-6)
        finals.append(final_returns(single))
    np.testing.assert_allclose(
        [r["final_return_mean"] for r in rows],
        [np.mean(finals[:2]), np.mean(finals[2:])],
        rtol=1e-3,
    )


def test_checkpoint_round_trip(run, tmp_path):
    state, _ = run
    params, obs_rms = state.learner.params, state.env.obs_rms
    save_checkpoint(tmp_path, CONFIG, params, obs_rms)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    assert meta["versions"]["jax"] == jax.__version__ and meta["config"]["hidden_sizes"] == [8]
    restored = load_checkpoint(tmp_path)
    assert restored.config == CONFIG
    assert _leaves_equal(restored.params, params) and _leaves_equal(restored.obs_rms, obs_rms)
    env, env_params, actor = build(CONFIG)
    _, _, restored_actor = build(restored.config)
    before = trained_policy(actor, params, obs_rms)
    after = trained_policy(restored_actor, restored.params, restored.obs_rms)
    obs = jnp.array([0.0, 2.0, 0.05, 100.0])

    def act(policy):
        return policy.step(policy.initial_state(), jax.random.key(0), obs)[0]

    np.testing.assert_array_equal(act(before), act(after))
    assert env.action_space(env_params).contains(act(after))


def test_checkpoint_of_another_network_is_refused(run, tmp_path):
    state, _ = run
    save_checkpoint(tmp_path, CONFIG, state.learner.params, state.env.obs_rms)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    meta["config"]["hidden_sizes"] = [16]
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_learning_rate_gradient_norm_and_explained_variance(run):
    _, metrics = run
    lr = float(CONFIG.hparams.learning_rate)  # annealed linearly to 0 over 3 updates
    np.testing.assert_allclose(metrics["learning_rate"], [lr, lr * 2 / 3, lr / 3], rtol=1e-6)
    assert (np.asarray(metrics["grad_norm"]) > 0).all()
    assert (np.asarray(metrics["explained_variance"]) <= 1).all()


def test_explained_variance_definition():
    from purejaxrl_train.collectives import SINGLE
    from purejaxrl_train.trainer import explained_variance

    targets = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(explained_variance(targets, targets, SINGLE)) == 1.0
    # values off by a constant explain everything; values = mean explain nothing
    assert float(explained_variance(targets, targets - 5.0, SINGLE)) == pytest.approx(1.0)
    assert float(explained_variance(targets, jnp.full(4, 2.5), SINGLE)) == pytest.approx(0.0)
    assert np.isnan(explained_variance(jnp.ones(4), jnp.zeros(4), SINGLE))


def test_live_evaluation_is_the_rollout_of_the_current_policy(run):
    """The last update's live evaluation equals `agents.rollout` of the final policy on the held-out
    key, greedy and sampling; updates without an evaluation report NaN."""
    from agents.learned import TrainedPolicy
    from agents.rollout import rollout
    from purejaxrl_train.live_eval import LIVE_EVAL_SEED

    state, metrics = run
    assert np.isnan(metrics["eval_return"][0]) and np.isfinite(metrics["eval_return"][1:]).all()
    env, env_params, actor = build(CONFIG)
    key = jax.random.key(LIVE_EVAL_SEED)
    for greedy, name in ((True, "eval_return"), (False, "eval_stochastic_return")):
        policy = TrainedPolicy(state.learner.params, state.env.obs_rms, actor, greedy=greedy)
        episodes = rollout(env, env_params, policy, key, CONFIG.live_eval_episodes)
        returns = np.asarray(episodes.returns, np.float64)
        np.testing.assert_allclose(metrics[name][-1], returns.mean(), rtol=1e-5, atol=1e-8)
    stderr = returns.std(ddof=1) / np.sqrt(len(returns))
    np.testing.assert_allclose(metrics["eval_stochastic_return_stderr"][-1], stderr, rtol=1e-4)
    assert metrics["eval_return"][-1] != metrics["eval_stochastic_return"][-1]
