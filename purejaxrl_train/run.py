"""One training run from the command line's point of view: compile, train, checkpoint, evaluate, write.

`run_training(config, seed, out)` trains one configuration, prints progress, then writes the run
directory (config, metrics, checkpoints, evaluation, learning curve); `resume_training(run_dir)`
continues a stopped run from its newest training-state checkpoint and ends exactly as the run would
have without the stop. The command line (`purejaxrl_train.cli`) parses options into a `TrainConfig`
and calls them.

The updates run in chunks of `checkpoint_every` (the whole run when 0), one compiled chunk program
reused for every chunk (its first update is an argument); after each chunk the full training state
(`purejaxrl_train.resume`), the trained policy (`checkpoint.json`/`.msgpack`, what `python -m
agents.evaluate --policy RUN_DIR` reads) and `metrics.csv` so far are written, each atomically. The
environments are split across `num_devices` devices (`purejaxrl_train.parallel`).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

EVAL_SEED_OFFSET = 1_000_003  # the final evaluation's seed is the run's seed plus this


def _reference(config, env, env_params, key):
    """(statistics, label) of the preset's reference agent over the episodes (and key) the trained
    policy is evaluated on, or (None, None). The label says what the reference is: "NAME (optimal)"
    for the exact optimum of the market's own steps, "NAME (baseline)" otherwise."""
    from purejaxrl_train.evaluation import evaluate_reference, reference_agent

    if reference_agent(config.env_name) is None or config.eval_episodes == 0:
        return None, None
    result = evaluate_reference(config.env_name, env, env_params, config.eval_episodes, key)
    return result, f"{result['agent']} ({result.get('kind', 'baseline')})"


def _host(tree):
    """Numpy copies of a pytree of (possibly sharded, replicated) arrays."""
    import jax
    import numpy as np

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(x.addressable_data(0))  # replicated across processes
        return np.asarray(x)

    return jax.tree.map(one, tree)


def _primary() -> bool:
    """Whether this process writes the run directory (the first one under jax.distributed)."""
    import jax

    return jax.process_index() == 0


class _Forward:
    """The progress callback compiled into a cached program: forwards to the current run's
    printer (one run at a time per process)."""

    def __init__(self):
        self.target = None

    def __call__(self, *args) -> None:
        if self.target is not None:
            self.target(*args)


@functools.lru_cache(maxsize=4)
def _program(config):
    """((env, env_params, actor), program, progress forwarder, compiled chunks by input layout)
    of a config, kept so that runs of the same config in one process (a resume, a re-run sweep
    member, tests) build the environment and compile once."""
    from purejaxrl_train.parallel import make_device_program
    from purejaxrl_train.trainer import build

    built = build(config)
    forward = _Forward()
    program = make_device_program(
        config, built[0], built[1], progress=forward, length=config.checkpoint_every or None
    )
    return built, program, forward, {}


class _Run:
    """What a run (new or resumed) prepares before its first update."""

    def __init__(self, config, seed: int, out: Path, stream):
        import jax

        from purejaxrl_train.progress import ProgressPrinter
        from purejaxrl_train.trainer import metric_names

        self.config, self.seed, self.out = config, seed, Path(out)
        self.stream = stream or sys.stdout
        built, self.program, forward, self._compiled = _program(config)
        self.env, self.env_params, self.actor = built
        # Common random numbers for both evaluations; `python -m agents.evaluate --policy RUN_DIR
        # --seed <seed + EVAL_SEED_OFFSET>` reproduces the run's own evaluation.
        self.eval_key = jax.random.key(seed + EVAL_SEED_OFFSET)
        self.reference, self.agent = _reference(config, self.env, self.env_params, self.eval_key)
        self.ref_mean = self.reference["return"]["mean"] if self.reference else None
        if self.reference:
            print(
                f"reference agent {self.agent}: mean return {self.ref_mean:.6g}",
                file=self.stream,
            )
        self.printer = ProgressPrinter(
            config.num_updates,
            config.batch_size,
            1,
            self.ref_mean,
            self.agent or "reference",
            self.stream,
        )
        forward.target = self.printer
        self.hp = config.hparams.as_arrays()
        self.metric_names = metric_names(config)

    def initial_state(self):
        import jax

        return self.program.init(jax.random.key(self.seed), self.hp, self.env_params)

    def train(self, state, start: int, metrics: dict, max_updates: int | None) -> dict:
        """Chunks from update `start` to the end (or until `max_updates` more are done)."""
        import jax
        import jax.numpy as jnp

        from purejaxrl_train.resume import StateStore

        config, stream = self.config, self.stream
        total = config.num_updates
        store = StateStore(self.out)
        started = time.perf_counter()
        layout = jax.tree.map(lambda x: (x.shape, x.dtype, getattr(x, "sharding", None)), state)
        layout = (jax.tree.structure(state), tuple(jax.tree.leaves(layout)))
        if layout not in self._compiled:
            self._compiled[layout] = self.program.chunk.lower(
                state, jnp.int32(start), self.hp, self.env_params
            ).compile()
        compiled = self._compiled[layout]
        compile_s = time.perf_counter() - started
        devices = self.program.num_devices
        print(
            f"{config.env_name}: {'recurrent ' if config.recurrent else ''}PPO, "
            f"{total} updates x {config.batch_size} steps "
            f"({config.num_envs} envs x {config.num_steps}"
            f"{f' on {devices} devices' if devices > 1 else ''}); compiled in {compile_s:.1f} s",
            file=stream,
            flush=True,
        )
        self.printer.start(start)
        update, run_s, save_s = start, 0.0, 0.0
        while update < total and (max_updates is None or update - start < max_updates):
            began = time.perf_counter()
            state, chunk = compiled(state, jnp.int32(update), self.hp, self.env_params)
            chunk = _host(chunk)
            run_s += time.perf_counter() - began
            done = min(self.program.length, total - update)
            for name in self.metric_names:  # the columns in the trainer's order
                metrics.setdefault(name, []).extend(chunk[name][:done].tolist())
            update += done
            began = time.perf_counter()
            self._save(store, update, state, metrics)
            save_s += time.perf_counter() - began
        store.close()
        steps = (update - start) * config.batch_size
        summary = {
            "env": config.env_name,
            "seed": self.seed,
            "compile_seconds": compile_s,
            "train_seconds": run_s,
            "checkpoint_seconds": save_s,
            "env_steps": update * config.batch_size,
            "steps_per_second": steps / run_s if run_s else float("nan"),
            "device": str(jax.devices()[0].device_kind),
            "num_devices": devices,
            "updates_done": update,
        }
        if start:
            summary["resumed_from_update"] = start
        print(
            f"trained {steps:,} steps in {run_s:.1f} s ({summary['steps_per_second']:,.0f} "
            f"steps/s); checkpoints {save_s:.1f} s",
            file=stream,
        )
        if update < total:
            print(
                f"stopped after update {update}/{total}; continue with "
                f"`python -m purejaxrl_train --resume {self.out}`",
                file=stream,
            )
            return summary
        return self._finish(state, metrics, summary)

    def _save(self, store, update: int, state, metrics: dict) -> None:
        from purejaxrl_train import checkpoint, run_dir

        store.save(update, state, metrics)
        if _primary():
            params, obs_rms = _host((state.learner.params, state.env.obs_rms))
            checkpoint.save_checkpoint(self.out, self.config, params, obs_rms)
            run_dir.write_metrics(self.out, run_dir.metrics_table(metrics, self.config.batch_size))

    def _finish(self, state, metrics: dict, summary: dict) -> dict:
        """The final evaluation, held-out report, evaluation.json and learning curve."""
        from purejaxrl_train import run_dir
        from purejaxrl_train.evaluation import evaluate_trained

        config, stream = self.config, self.stream
        params, obs_rms = _host((state.learner.params, state.env.obs_rms))
        if config.eval_episodes:
            evaluation = evaluate_trained(
                self.actor,
                params,
                obs_rms,
                self.env,
                self.env_params,
                config.eval_episodes,
                self.eval_key,
            )
            summary["evaluation"] = evaluation
            line = (
                f"greedy policy over {config.eval_episodes} episodes: mean return "
                f"{evaluation['return']['mean']:.6g} +- {evaluation['return']['stderr']:.2g} (s.e.)"
            )
            if self.reference:
                summary["reference"] = self.reference
                percent = 100 * evaluation["return"]["mean"] / self.ref_mean
                summary["percent_of_reference"] = percent
                line += f"; {percent:.2f}% of {self.agent} ({self.ref_mean:.6g})"
            print(line, file=stream)
        if config.heldout_windows:
            from purejaxrl_train.evaluation import trained_policy
            from purejaxrl_train.heldout import format_report, heldout_report

            policy = trained_policy(self.actor, params, obs_rms)
            summary["heldout"] = heldout_report(
                self.env, self.env_params, policy, config.heldout_windows
            )
            print(format_report(summary["heldout"]), file=stream)
        plot = None
        if _primary():
            run_dir.write_json(self.out / run_dir.EVALUATION_FILE, summary)
            rows = run_dir.metrics_table(metrics, config.batch_size)
            plot = run_dir.write_learning_curve(
                self.out,
                rows,
                f"{config.env_name} ({'recurrent ' if config.recurrent else ''}PPO)",
                self.ref_mean,
                f"{self.agent} agent",
            )
        note = "" if plot or not _primary() else " (no plot: matplotlib not installed)"
        print(f"run directory: {self.out}{note}", file=stream)
        return summary


def run_training(config, seed: int, out: Path, stream=None, max_updates: int | None = None) -> dict:
    """Train, print progress, write the run directory; returns the evaluation summary.

    max_updates: stop (at a checkpoint) once at least this many updates are done; the run then
    continues with `resume_training(out)`."""
    from purejaxrl_train import run_dir

    run = _Run(config, seed, Path(out), stream)
    if _primary():
        run_dir.write_config(run.out, config, {"run": {"seed": seed}})
    return run.train(run.initial_state(), 0, {}, max_updates)


def read_run(run_dir: Path):
    """(config, seed) of a run directory, from its config.json (one-line errors)."""
    from purejaxrl_train.config import config_from_dict
    from purejaxrl_train.run_dir import CONFIG_FILE

    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no run configuration here")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    seed = data.get("run", {}).get("seed") if isinstance(data, dict) else None
    if not isinstance(seed, int):
        raise ValueError(f"{path}: no run.seed (not written by run_training)")
    return config_from_dict(data, where=str(path)), seed


def resume_training(run_dir: Path, stream=None, max_updates: int | None = None) -> dict:
    """Continue the run in `run_dir` from its newest training-state checkpoint, to the end (or
    `max_updates` more updates); the result equals the uninterrupted run's bit for bit."""
    from purejaxrl_train.resume import StateStore

    run_dir = Path(run_dir)
    config, seed = read_run(run_dir)
    store = StateStore(run_dir)
    if store.latest() is None:
        store.close()
        raise ValueError(f"{run_dir}: no training-state checkpoint (state/) to resume from")
    run = _Run(config, seed, run_dir, stream)
    state, start, metrics = store.restore(run.initial_state())
    store.close()
    print(f"resuming {run_dir} after update {start}/{config.num_updates}", file=run.stream)
    return run.train(state, start, metrics, max_updates)
