"""agents.evaluate_policy: statistics, batching, accounting against hand-computed values; the CLI."""

import json

import jax
import numpy as np
import pytest

import agents
import envs
from agents import evaluate_policy as evaluate
from agents import make_agent
from agents.evaluate import main
from agents.evaluation import _Moments


def test_batch_merging_matches_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1003, 3))
    data[rng.random(1003) < 0.1, 2] = np.nan  # a statistic some episodes do not have
    moments = _Moments(3)
    for chunk in np.array_split(data, [10, 11, 500, 900]):
        moments.add(chunk)
    for column in range(3):
        values = data[:, column][~np.isnan(data[:, column])]
        summary = moments.summary(column)
        assert summary["count"] == values.size
        assert summary["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert summary["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert summary["stderr"] == pytest.approx(values.std(ddof=1) / np.sqrt(values.size))
        assert "nonfinite" not in summary
    # An overflowed episode is reported, not averaged away or warned about.
    moments.add(np.array([[np.inf, 1.0, np.nan]]))
    first = moments.summary(0)
    assert first["mean"] == np.inf and first["nonfinite"] == 1


@pytest.fixture(scope="module")
def twap_speed():
    env, params = envs.make("cj_execution_speed")
    policy = make_agent("twap", env, params)
    # 1000 episodes in batches of 384: three compiled calls, the last one partly discarded.
    return env, params, evaluate(env, params, policy, 1000, jax.random.key(0), batch_size=384)


def test_evaluate_accounts_a_deterministic_schedule(twap_speed):
    """TWAP sells 1/300 per step: every inventory is known, so the penalties are exact and the
    expected pnl is -kν²T - b Σ Q_{n+1} ν dt (temporary cost plus permanent impact on what is held)."""
    _, _, result = twap_speed
    n, dt = 300, 1.0 / 300
    held = 1.0 - np.arange(1, n + 1) / n
    assert result["episodes"] == 1000 and result["return"]["count"] == 1000
    assert result["inventory_penalty"]["mean"] == pytest.approx(
        0.01 * np.sum(held**2) * dt, rel=1e-4
    )
    assert result["inventory_penalty"]["std"] < 1e-6
    assert abs(result["terminal_inventory"]["mean"]) < 1e-5
    assert result["terminal_penalty"]["mean"] < 1e-6
    assert result["market_orders_sell"]["mean"] == pytest.approx(1.0, abs=1e-5)
    expected_pnl = -0.01 * 1.0 - 0.001 * np.sum(held) * dt
    pnl = result["pnl"]
    assert abs(pnl["mean"] - expected_pnl) < 4 * pnl["stderr"]
    # The mid's noise is all that is random: std of Σ Q dS = σ sqrt(Σ Q² dt).
    assert pnl["std"] == pytest.approx(0.01 * np.sqrt(np.sum(held**2) * dt), rel=0.1)
    ret = result["return"]["mean"]
    parts = pnl["mean"] - result["inventory_penalty"]["mean"] - result["terminal_penalty"]["mean"]
    assert ret == pytest.approx(parts, abs=1e-6)


def test_evaluate_reports_what_the_reward_has():
    # Same shapes as the Avellaneda-Stoikov Monte Carlo test (2000 episodes): one compilation.
    env, params = envs.make("avellaneda_stoikov")
    policy = make_agent("avellaneda_stoikov", env, params, gamma=0.5, symmetric=True)
    result = evaluate(env, params, policy, 2000, jax.random.key(0))
    assert "inventory_penalty" not in result and "terminal_penalty" not in result
    spread = 0.5 * 4.0 / 2 + 2 / 0.5 * np.log(1 + 0.5 / 1.5)  # γσ²T/2 + (2/γ) ln(1 + γ/k)
    assert result["mean_spread"]["mean"] == pytest.approx(spread, rel=1e-5)
    assert result["mean_spread"]["std"] == pytest.approx(0.0, abs=1e-4)
    # CARA utility: every episode's return is -exp(-γ pnl) < 0.
    assert result["return"]["mean"] < 0
    for name in (
        "return",
        "terminal_inventory",
        "abs_terminal_inventory",
        "fills_bid",
        "fills_ask",
    ):
        assert set(result[name]) == {"mean", "std", "stderr", "count"}


def test_the_library_function_and_the_command_coexist_plainly():
    """`agents.evaluate_policy` is the library function; `agents.evaluate` is the command's module
    (no module-class swap), and importing it changes nothing about the package."""
    import agents.evaluate as command

    env, params = envs.make("cartea_jaimungal_mm", max_steps_in_episode=40)
    policy = make_agent("fixed_spread", env, params)
    assert agents.evaluate is command and type(command).__name__ == "module"
    a = agents.evaluate_policy(env, params, policy, 16, jax.random.key(2))
    b = evaluate(env, params, policy, 16, jax.random.key(2))
    assert a["return"]["mean"] == b["return"]["mean"]
    with pytest.raises(ValueError, match="num_episodes"):
        agents.evaluate_policy(env, params, policy, 0, jax.random.key(2))


def test_cli_prints_json(capsys):
    code = main(
        [
            "--env", "cartea_jaimungal_mm", "--agent", "cartea_jaimungal_mm",
            "--episodes", "16", "--seed", "3",
            "--set", "max_steps_in_episode=40", "--set", "rate=20,25",
            "--agent-arg", "inventory_bound=2", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 16 and result["agent"] == "cartea_jaimungal_mm"
    assert result["return"]["count"] == 16
    assert np.isfinite(result["return"]["stderr"])


def test_cli_prints_a_table(capsys):
    main(["--env", "cartea_jaimungal_mm", "--agent", "fixed_spread", "--episodes", "16",
          "--seed", "0", "--set", "max_steps_in_episode=40"])  # fmt: skip
    out = capsys.readouterr().out
    assert "return" in out and "stderr" in out and "terminal_inventory" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--env", "nope", "--agent", "random"], "unknown environment"),
        (["--env", "cartea_jaimungal_mm", "--agent", "nope"], "unknown agent"),
        (["--env", "cartea_jaimungal_mm", "--agent", "random", "--set", "sigmaa=1"], "sigmaa"),
        (["--env", "cartea_jaimungal_mm", "--agent", "random", "--set", "sigma=abc"], "sigma"),
        (["--env", "cartea_jaimungal_mm", "--agent", "random", "--set", "sigma"], "field=value"),
        (
            [
                "--env",
                "cartea_jaimungal_mm",
                "--agent",
                "avellaneda_stoikov",
                "--agent-arg",
                "gamma=x",
            ],
            "gamma",
        ),
        (
            [
                "--env",
                "cartea_jaimungal_mm",
                "--agent",
                "avellaneda_stoikov",
                "--agent-arg",
                "beta=1",
            ],
            "beta",
        ),
        (["--env", "cartea_jaimungal_mm", "--agent", "random", "--episodes", "0"], "episodes"),
    ],
)
def test_cli_errors_are_one_line(capsys, args, message):
    argv = args + (["--episodes", "4"] if "--episodes" not in args else []) + ["--seed", "0"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("python -m agents.evaluate: error:")
