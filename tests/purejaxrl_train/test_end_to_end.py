"""One command trains a market maker that clearly beats the random agent, and leaves a usable run.

Short-horizon `cartea_jaimungal_mm` (10 steps of dt = 0.01): a uniform-random depth in
[0, max_depth] earns far less per fill than depths near 1/kappa. The trained policy is evaluated
here with a rollout loop written for the test, against a random policy drawn from the action space.
`python -m agents.evaluate --policy RUN_DIR` agrees with the run's own evaluation, for this run, a
tiny recurrent run and a run on one of gymnax's own environments.
"""

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.learned import load_trained
from purejaxrl_train.cli import EVAL_SEED_OFFSET, main
from purejaxrl_train.config import config_from_dict
from purejaxrl_train.evaluation import reference_agent

EPISODES = 4000
ARGS = [
    "--env", "cartea_jaimungal_mm",
    "--set", "max_steps_in_episode=10",
    "--set", "terminal_time=0.1",
    "--total-timesteps", "160000",
    "--num-envs", "64",
    "--num-steps", "50",
    "--num-minibatches", "4",
    "--hidden", "16,16",
    "--lr", "1e-3",
    "--log-interval", "10",
    "--eval-episodes", "1000",
    "--seed", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def _mean_return(env, params, policy, key):
    """Mean and standard error of the episode return over EPISODES episodes (test-local loop)."""

    def episode(k):
        reset_key, run_key = jax.random.split(k)
        obs, state = env.reset_env(reset_key, params)

        def step(carry, step_key):
            obs, state, total = carry
            act_key, env_key = jax.random.split(step_key)
            obs, state, reward, _, _ = env.step_env(env_key, state, policy(act_key, obs), params)
            return (obs, state, total + reward), None

        steps = jax.random.split(run_key, int(params.max_steps_in_episode))
        return jax.lax.scan(step, (obs, state, jnp.float32(0.0)), steps)[0][2]

    returns = np.asarray(jax.jit(jax.vmap(episode))(jax.random.split(key, EPISODES)), np.float64)
    return returns.mean(), returns.std(ddof=1) / np.sqrt(EPISODES)


def test_trained_policy_clearly_beats_random(trained_run):
    _, env, params, trained_policy = load_trained(trained_run)
    space = env.action_space(params)

    def policy(key, obs):  # feed-forward: its state is empty, start each step from it
        return trained_policy.step(trained_policy.initial_state(), key, obs)[0]

    def random_policy(key, obs):
        return jax.random.uniform(key, (2,), minval=space.low, maxval=space.high)

    trained, trained_se = _mean_return(env, params, policy, jax.random.key(11))
    random, random_se = _mean_return(env, params, random_policy, jax.random.key(11))
    # margin of at least 5 standard errors of the difference, and a large relative gain
    assert trained - random > 5 * np.hypot(trained_se, random_se)
    assert trained > 1.25 * random


def test_run_directory(trained_run, capsys):
    out = trained_run
    for name in (
        "config.json",
        "metrics.csv",
        "checkpoint.json",
        "checkpoint.msgpack",
        "evaluation.json",
    ):
        assert (out / name).is_file(), name
    config = config_from_dict(json.loads((out / "config.json").read_text()))
    assert config.env_overrides == (("max_steps_in_episode", 10.0), ("terminal_time", 0.1))
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == config.num_updates == 50
    assert int(rows[-1]["env_steps"]) == 50 * 64 * 50
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["evaluation"]["return"]["count"] == 1000
    assert evaluation["reference"]["agent"] == reference_agent("cartea_jaimungal_mm")
    assert evaluation["compile_seconds"] > 0 and evaluation["train_seconds"] > 0
    try:
        import matplotlib  # noqa: F401

        assert (out / "learning_curve.png").is_file()
    except ImportError:
        assert not (out / "learning_curve.png").exists()


def test_bad_command_lines_fail_with_one_line_errors(capsys):
    for argv, message in [
        (["--env", "no_such_market"], "unknown environment"),
        (["--set", "sigma"], "expected field=value"),
        (["--lr", "1e-3,1e-4"], "use `sweep`"),
        (["--num-envs", "6", "--num-minibatches", "4", "--num-steps", "7"], "num_minibatches"),
    ]:
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err


def test_agents_evaluate_cli_evaluates_the_run(trained_run, capsys):
    """`python -m agents.evaluate --policy RUN_DIR` evaluates the trained policy like any agent:
    its mean return agrees with the run's own evaluation within 4 standard errors."""
    from agents.evaluate import main as evaluate_main

    argv = ["--policy", str(trained_run), "--episodes", "1000", "--seed", "5", "--json"]
    assert evaluate_main(argv) == 0
    cli = json.loads(capsys.readouterr().out)["return"]
    run = json.loads((trained_run / "evaluation.json").read_text())["evaluation"]["return"]
    assert abs(cli["mean"] - run["mean"]) < 4 * np.hypot(cli["stderr"], run["stderr"])
    with pytest.raises(SystemExit):
        evaluate_main(
            ["--policy", str(trained_run), "--agent", "random", "--episodes", "1", "--seed", "0"]
        )
    assert "--policy replaces --agent" in capsys.readouterr().err


@pytest.fixture(scope="module")
def recurrent_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("recurrent")
    argv = [*ARGS[:6], "--recurrent", "--total-timesteps", "6400", "--num-envs", "16",
            "--num-steps", "20", "--num-minibatches", "2", "--hidden", "8", "--gru-size", "8",
            "--eval-episodes", "500", "--log-interval", "0", "--seed", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def gymnax_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cartpole")
    argv = ["--env", "CartPole-v1", "--total-timesteps", "4096", "--num-envs", "8",
            "--num-steps", "64", "--num-minibatches", "2", "--hidden", "8", "--eval-episodes",
            "200", "--log-interval", "0", "--seed", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("run_name", ["recurrent_run", "gymnax_run"])
def test_agents_evaluate_cli_evaluates_recurrent_and_gymnax_runs(run_name, request, capsys):
    """The same command evaluates a recurrent policy (its GRU state carried through each episode)
    and a policy trained on a gymnax environment: on the run's own key and episode count it
    reproduces the run's evaluation exactly (one rollout serves both)."""
    from agents.evaluate import main as evaluate_main

    run_dir = request.getfixturevalue(run_name)
    capsys.readouterr()
    run = json.loads((run_dir / "evaluation.json").read_text())
    episodes = run["evaluation"]["episodes"]
    seed = run["seed"] + EVAL_SEED_OFFSET  # the run evaluates on this key
    argv = ["--policy", str(run_dir), "--episodes", str(episodes), "--seed", str(seed), "--json"]
    assert evaluate_main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["return"]["count"] == episodes
    for stat in ("mean", "std"):
        assert cli["return"][stat] == pytest.approx(run["evaluation"]["return"][stat], rel=1e-6)
