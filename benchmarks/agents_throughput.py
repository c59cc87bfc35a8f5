"""Evaluation throughput of the optimal market maker versus a fixed spread on `cartea_jaimungal_mm`.

The optimal agent (CJP §10.2) looks its depths up in tables solved once on the environment's grid,
so a policy step should cost about what a fixed spread costs, with 7 or 201 inventory levels
(max_inventory 3 or 100). A third row, depths linear in inventory, is the cheapest
state-dependent policy: the fixed spread's constant action lets XLA compute fill probabilities once
per step for the whole batch, which no state-dependent policy can. The CPU baseline is what recomputing the solution every step costs:
one SciPy matrix exponential per decision (what a per-step implementation does), timed here in
the same process. Also reported: the one-off table build (float64 solve on the host).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
from flax import struct

import envs
from agents import make_agent
from agents.evaluation import _rollout
from agents.policies.market_making import cartea_jaimungal_problem
from agents.policy import Stateless
from benchmarks.scale import scale


@struct.dataclass
class InventorySkew(Stateless):
    """Reference: the cheapest state-dependent quotes (depths linear in inventory, no table).

    A constant action lets XLA compute the fill probabilities once per step for the whole batch;
    any policy whose action depends on the state pays for them per episode. This row separates
    that cost from the optimal agent's own lookup."""

    half_spread: jax.Array
    skew: jax.Array

    def __call__(self, key, obs):
        q = obs[1]
        return jnp.stack([self.half_spread + self.skew * q, self.half_spread - self.skew * q])


def _time_rollouts(env, params, policies: dict, batch: int, repeats: int) -> dict:
    """{name: (first call s, best s, median s, median ratio to fixed_spread in the same repeat)};
    the agents' calls are interleaved within each repeat so that a busy machine slows them alike."""
    steps = int(params.max_steps_in_episode)
    key = jax.random.key(0)
    first, times = {}, {name: [] for name in policies}
    for name, policy in policies.items():
        start = time.perf_counter()
        jax.block_until_ready(_rollout(env, policy, params, key, 0, steps, batch, True))
        first[name] = time.perf_counter() - start
    for i in range(repeats):
        for name, policy in policies.items():
            start = time.perf_counter()
            jax.block_until_ready(_rollout(env, policy, params, key, i + 1, steps, batch, True))
            times[name].append(time.perf_counter() - start)
    base = times["fixed_spread"]
    return {
        n: (
            first[n],
            min(t),
            statistics.median(t),
            statistics.median(a / b for a, b in zip(t, base)),
        )
        for n, t in times.items()
    }


_EXPM_TIMER = """
import statistics, sys, time
import numpy as np, scipy.linalg
from agents.solvers import limit_order_hjb
rate_bid, rate_ask, kappa, phi, alpha, horizon, q, repeats = map(float, sys.argv[1:])
problem = limit_order_hjb.market_making_problem(rate_bid, rate_ask, kappa, phi, alpha, horizon, int(q))
a = limit_order_hjb.generator(problem)
z = np.exp(problem.kappa * problem.terminal_value)
times = []
for i in range(int(repeats)):
    start = time.perf_counter()
    omega = scipy.linalg.expm(a * horizon * (1.0 - i / (repeats + 1))) @ z
    np.log(omega)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def _per_step_expm_seconds(params, repeats: int) -> float:
    """Median time of one decision that recomputes ω = exp(A(T-t)) z (SciPy, float64).

    Timed in a fresh process with one BLAS thread: on a small shared machine OpenBLAS's default
    threading made a 7x7 exponential a thousand times slower, which would flatter our agent.
    """
    problem = cartea_jaimungal_problem(params)
    args = [
        problem.rate_bid,
        problem.rate_ask,
        problem.kappa,
        problem.phi,
        -problem.terminal_value[-1] / problem.q_max**2,  # α
        problem.terminal_time,
        problem.q_max,
        repeats,
    ]
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", _EXPM_TIMER, *map(repr, map(float, args))],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool) -> dict:
    batches = {"quick": [8192], "cpu": [1024, 8192, 65536], "gpu": [8192, 65536, 1_048_576]}[
        scale(quick)
    ]
    repeats = 7 if quick else 21
    rows = []
    for max_inventory in (3, 100):
        env, params = envs.make("cartea_jaimungal_mm", max_inventory=max_inventory)
        expm = _per_step_expm_seconds(params, 20 if quick else 50)
        steps = int(params.max_steps_in_episode)
        rows.append(
            {
                "agent": "per-step matrix exponential (SciPy, CPU baseline)",
                "inventory_levels": 2 * max_inventory + 1,
                "batch_episodes": 1,
                "steps_per_episode": steps,
                "compile_s": 0.0,
                "best_s": round(expm * steps, 4),
                "median_s": round(expm * steps, 4),
                "env_steps_per_s": round(1.0 / expm),
                "cost_vs_fixed_spread": float("nan"),
                "table_build_s": 0.0,
            }
        )
    for max_inventory in (3, 100):
        env, params = envs.make("cartea_jaimungal_mm", max_inventory=max_inventory)
        steps = int(params.max_steps_in_episode)
        start = time.perf_counter()
        optimal = make_agent("cartea_jaimungal_mm", env, params)
        build = time.perf_counter() - start
        kappa = float(params.fill.kappa)
        agents = {
            "cartea_jaimungal_mm": optimal,
            "fixed_spread": make_agent("fixed_spread", env, params),
            "inventory_skew_reference": InventorySkew(
                jnp.float32(1.0 / kappa), jnp.float32(0.1 / kappa)
            ),
        }
        for batch in batches:
            timings = _time_rollouts(env, params, agents, batch, repeats)
            for name, (first, best, median, ratio) in timings.items():
                rows.append(
                    {
                        "agent": name,
                        "inventory_levels": 2 * max_inventory + 1,
                        "batch_episodes": batch,
                        "steps_per_episode": steps,
                        "compile_s": round(max(first - median, 0.0), 3),
                        "best_s": round(best, 4),
                        "median_s": round(median, 4),
                        "env_steps_per_s": round(batch * steps / best),
                        "cost_vs_fixed_spread": round(ratio, 3),
                        "table_build_s": round(build, 4) if name == "cartea_jaimungal_mm" else 0.0,
                    }
                )
    device = jax.devices()[0]
    return {
        "name": "agents_throughput",
        "description": "python -m agents.evaluate throughput on cartea_jaimungal_mm: optimal "
        "(table lookup) vs fixed-spread agent, 7 and 201 inventory levels",
        "rows": rows,
        "notes": f"device {device.platform}:{device.device_kind}; one jitted batch of whole episodes "
        f"(best and median of {repeats} repeats after a compile call, block_until_ready); "
        "cost_vs_fixed_spread = median over repeats of (time / the fixed spread's time in the same "
        "repeat), at the same batch and levels: paired, so robust to a shared machine's load "
        "(the fixed spread's constant action is folded by XLA; inventory_skew_reference is the "
        "cheapest state-dependent policy); "
        "the SciPy row is the cost of one per-step matrix exponential, times the episode's steps, "
        "for one episode.",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
