"""Recurrent PPO on `lobster_execution`, trained on some windows of the shipped GOOG day and compared
with TWAP on held-out windows, in one command::

    python -m envs.replay.train [--timesteps 2000000] [--num-envs 256] [--num-steps 32]
                                [--train-windows 0:9] [--test-windows 9:13] [--seed 0]
                                [--set field=value ...] [--out results.json]

Training draws windows uniformly from ``--train-windows`` (Python slice syntax over the day's 13
30-minute windows); evaluation runs the greedy policy (the Gaussian mean, GRU state carried) once on
each window of ``--test-windows`` and reports the implementation shortfall against the arrival
price and against the window's market VWAP (bps; positive = cost), next to TWAP on the same windows.
It uses the project's trainer (`purejaxrl_train.make_train`) with the environment passed in, so it
runs before `lobster_execution` is wired into `envs.make`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from agents.replay import baselines
from agents.replay.windows import _parse_set, add_window_vwap, evaluate_windows, summary
from envs.replay.registry import make

COLUMNS = ("return", "shortfall_arrival_bps", "shortfall_window_vwap_bps", "liquidated")


@functools.partial(jax.jit, static_argnames=("actor", "env"))
def _greedy_episodes(actor, env, net_params, obs_rms, env_params, windows, key):
    """The greedy recurrent policy once on each window: final states and returns."""
    from purejaxrl_train.distributions import deterministic_action

    steps = int(env_params.max_steps_in_episode)
    n = windows.shape[0]

    def reset(window, k):
        return env.reset_env(k, env_params.replace(window=window))

    obs, state = jax.vmap(reset)(windows, jax.random.split(key, n))

    def step(carry, t):
        obs, state, hidden, first, total = carry
        features = actor.normalized(obs_rms, actor.features(obs))
        hidden, head, _, _ = actor.network.apply(net_params, hidden, features[None], first[None])
        action = actor.env_action(deterministic_action(actor.action_spec, head[0]))
        live = ~state.done
        keys = jax.random.split(jax.random.fold_in(key, t), n)
        obs, state, reward, _, _ = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
            keys, state, action, env_params
        )
        first = jnp.zeros((n,), bool)
        return (obs, state, hidden, first, total + jnp.where(live, reward, 0.0)), None

    init = (obs, state, actor.initial_carry(n), jnp.ones((n,), bool), jnp.zeros((n,), jnp.float32))
    (_, state, _, _, total), _ = jax.lax.scan(step, init, jnp.arange(steps))
    return state, total


def greedy_rows(actor, env, net_params, obs_rms, params, windows) -> list[dict]:
    state, total = _greedy_episodes(
        actor,
        env,
        net_params,
        obs_rms,
        params,
        jnp.asarray(windows, jnp.int32),
        jax.random.PRNGKey(0),
    )
    rows = []
    for i, w in enumerate(windows):
        s = jax.tree.map(lambda x, i=i: x[i], state)
        info = env._execution_summary(s, params)
        rows.append(
            {
                "window": int(w),
                "return": float(total[i]),
                "executed": int(info["executed"]),
                "average_price": float(info["average_price"]),
                "shortfall_arrival_bps": float(info["shortfall_arrival_bps"]),
                "liquidated": int(s.liquidated),
            }
        )
    return rows


def _window_range(text: str, count: int) -> list[int]:
    lo, _, hi = text.partition(":")
    return list(range(count))[slice(int(lo) if lo else None, int(hi) if hi else None)]


def main(argv=None) -> int:
    from purejaxrl_train.config import HyperParams, TrainConfig
    from purejaxrl_train.progress import ProgressPrinter
    from purejaxrl_train.trainer import build, make_train

    parser = argparse.ArgumentParser(prog="python -m envs.replay.train", description=__doc__)
    parser.add_argument("--timesteps", type=int, default=2_000_000)
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--train-windows", default="0:9")
    parser.add_argument("--test-windows", default="9:13")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    overrides = _parse_set(args.set)
    env, params = make("lobster_execution", **overrides)
    count = int(np.asarray(params.data.num_windows))
    train_windows = _window_range(args.train_windows, count)
    test_windows = _window_range(args.test_windows, count)
    if not train_windows or not test_windows:
        parser.error("--train-windows and --test-windows must each select at least one window")
    if train_windows != list(range(train_windows[0], train_windows[-1] + 1)):
        parser.error("--train-windows must be a contiguous range")
    train_params = params.replace(window_lo=train_windows[0], window_hi=train_windows[-1] + 1)
    config = TrainConfig(
        env_name="lobster_execution",
        total_timesteps=args.timesteps,
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        update_epochs=4,
        num_minibatches=4,
        recurrent=True,
        gru_size=64,
        hidden_sizes=(64, 64),
        init_log_std=-0.5,
        normalize_obs=True,
        scale_rewards=True,
        bootstrap_truncated=False,
        log_interval=max(1, args.timesteps // (args.num_envs * args.num_steps) // 20),
        eval_episodes=0,
        hparams=HyperParams(learning_rate=args.lr, gamma=0.99, gae_lambda=0.95, ent_coef=0.0),
    )
    printer = ProgressPrinter(config.num_updates, config.batch_size)
    train = jax.jit(make_train(config, env, train_params, progress=printer))
    print(
        f"recurrent PPO on lobster_execution: {config.num_updates} updates of "
        f"{config.batch_size} steps, training windows {train_windows}, test windows "
        f"{test_windows}, resync={env.config.resync}",
        flush=True,
    )
    start = time.perf_counter()
    compiled = train.lower(jax.random.PRNGKey(args.seed)).compile()
    compile_s = time.perf_counter() - start
    printer.start()
    start = time.perf_counter()
    final, metrics = jax.block_until_ready(compiled(jax.random.PRNGKey(args.seed)))
    train_s = time.perf_counter() - start
    print(f"compile {compile_s:.1f} s, training {train_s:.1f} s", flush=True)

    actor = build(config, env, train_params)[2]
    net_params, obs_rms = final.learner.params, final.env.obs_rms
    side = int(params.task.side)
    twap = baselines.make_twap(env, params)
    report = {"config": {"timesteps": args.timesteps, "seed": args.seed, **overrides}}
    for split, windows in (("train", train_windows), ("test", test_windows)):
        ppo = greedy_rows(actor, env, net_params, obs_rms, params, windows)
        ppo = add_window_vwap(ppo, params, side)
        base = add_window_vwap(evaluate_windows(env, params, twap, windows), params, side)
        report[split] = {
            "ppo": {"windows": ppo, "summary": summary(ppo, COLUMNS)},
            "twap": {"windows": base, "summary": summary(base, COLUMNS)},
            "ppo_minus_twap_shortfall_arrival_bps": summary(
                [
                    {"d": a["shortfall_arrival_bps"] - b["shortfall_arrival_bps"]}
                    for a, b in zip(ppo, base, strict=True)
                ]
            )["d"],
        }
        print(f"\n{split} windows {windows}:")
        for name in ("ppo", "twap"):
            for col, s in report[split][name]["summary"].items():
                print(f"  {name:>5} {col:>26}: mean {s['mean']:10.3f}  stderr {s['stderr']:8.3f}")
        d = report[split]["ppo_minus_twap_shortfall_arrival_bps"]
        print(f"  PPO - TWAP shortfall vs arrival: {d['mean']:.3f} bps (stderr {d['stderr']:.3f})")
    report["timing"] = {"compile_s": compile_s, "train_s": train_s}
    report["learning_curve"] = np.asarray(metrics["episode_return"]).tolist()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
