"""One training run from the command line's point of view: compile, train, evaluate, write.

`run_training(config, seed, out)` trains one configuration, prints progress, then writes the run
directory (config, metrics, checkpoint, evaluation, learning curve). The command line
(`purejaxrl_train.cli`) parses options into a `TrainConfig` and calls it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

EVAL_SEED_OFFSET = 1_000_003  # the final evaluation's seed is the run's seed plus this


def _reference(config, env, env_params, key):
    """(statistics, agent name) of the preset's reference agent over the episodes (and key) the
    trained policy is evaluated on, or (None, None)."""
    from purejaxrl_train.evaluation import evaluate_reference, reference_agent

    if reference_agent(config.env_name) is None or config.eval_episodes == 0:
        return None, None
    result = evaluate_reference(config.env_name, env, env_params, config.eval_episodes, key)
    return result, result["agent"]


def run_training(config, seed: int, out: Path, stream=None) -> dict:
    """Train, print progress, write the run directory; returns the evaluation summary."""
    import jax

    from purejaxrl_train import checkpoint, run_dir
    from purejaxrl_train.evaluation import evaluate_trained
    from purejaxrl_train.progress import ProgressPrinter
    from purejaxrl_train.trainer import build, make_train

    stream = stream or sys.stdout
    env, env_params, actor = build(config)
    # Common random numbers for both evaluations; `python -m agents.evaluate --policy RUN_DIR
    # --seed <seed + EVAL_SEED_OFFSET>` reproduces the run's own evaluation.
    eval_key = jax.random.key(seed + EVAL_SEED_OFFSET)
    reference, agent = _reference(config, env, env_params, eval_key)
    ref_mean = reference["return"]["mean"] if reference else None
    run_dir.write_config(out, config, {"run": {"seed": seed}})
    if reference:
        print(f"reference agent {agent}: mean return {ref_mean:.6g}", file=stream)
    printer = ProgressPrinter(
        config.num_updates, config.batch_size, 1, ref_mean, agent or "optimal", stream
    )
    train = jax.jit(make_train(config, env, env_params, progress=printer))
    key = jax.random.key(seed)
    started = time.perf_counter()
    compiled = train.lower(key).compile()
    compile_s = time.perf_counter() - started
    print(
        f"{config.env_name}: {'recurrent ' if config.recurrent else ''}PPO, "
        f"{config.num_updates} updates x {config.batch_size} steps "
        f"({config.num_envs} envs x {config.num_steps}); compiled in {compile_s:.1f} s",
        file=stream,
        flush=True,
    )
    printer.start()
    started = time.perf_counter()
    state, metrics = compiled(key)
    jax.block_until_ready(metrics)
    run_s = time.perf_counter() - started
    total_steps = config.num_updates * config.batch_size
    print(
        f"trained {total_steps:,} steps in {run_s:.1f} s ({total_steps / run_s:,.0f} steps/s)",
        file=stream,
    )
    rows = run_dir.metrics_table(jax.device_get(metrics), config.batch_size)
    run_dir.write_metrics(out, rows)
    params, obs_rms = state.learner.params, state.env.obs_rms
    checkpoint.save_checkpoint(out, config, params, obs_rms)
    summary = {
        "env": config.env_name,
        "seed": seed,
        "compile_seconds": compile_s,
        "train_seconds": run_s,
        "env_steps": total_steps,
        "steps_per_second": total_steps / run_s,
        "device": str(jax.devices()[0].device_kind),
    }
    if config.eval_episodes:
        evaluation = evaluate_trained(
            actor,
            params,
            obs_rms,
            env,
            env_params,
            config.eval_episodes,
            eval_key,
        )
        summary["evaluation"] = evaluation
        line = (
            f"greedy policy over {config.eval_episodes} episodes: mean return "
            f"{evaluation['return']['mean']:.6g} +- {evaluation['return']['stderr']:.2g} (s.e.)"
        )
        if reference:
            summary["reference"] = reference
            percent = 100 * evaluation["return"]["mean"] / ref_mean
            summary["percent_of_reference"] = percent
            line += f"; {percent:.2f}% of {agent} ({ref_mean:.6g})"
        print(line, file=stream)
    if config.heldout_windows:
        from purejaxrl_train.evaluation import trained_policy
        from purejaxrl_train.heldout import format_report, heldout_report

        policy = trained_policy(actor, params, obs_rms)
        summary["heldout"] = heldout_report(env, env_params, policy, config.heldout_windows)
        print(format_report(summary["heldout"]), file=stream)
    run_dir.write_json(out / run_dir.EVALUATION_FILE, summary)
    plot = run_dir.write_learning_curve(
        out,
        rows,
        f"{config.env_name} ({'recurrent ' if config.recurrent else ''}PPO)",
        ref_mean,
        f"{agent} agent",
    )
    print(
        f"run directory: {out}" + ("" if plot else " (no plot: matplotlib not installed)"),
        file=stream,
    )
    return summary
