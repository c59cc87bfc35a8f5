"""The benchmarks' machinery: size classes, the CPU-tricks switch's layout, XLA's cost analysis as
read here, and the standard gymnax path of the model-based rollout benchmark."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agents.rollout import rollout
from benchmarks import model_based_rollout as mbr
from benchmarks import scale
from benchmarks.cost_analysis import costs


def test_scale_follows_quick_then_the_variable_then_the_backend(monkeypatch):
    monkeypatch.delenv(scale.ENV_VAR, raising=False)
    natural = "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
    assert scale.scale(quick=False) == natural
    monkeypatch.setenv(scale.ENV_VAR, "gpu")
    assert scale.scale(quick=False) == "gpu"
    assert scale.scale(quick=True) == "quick"
    monkeypatch.setenv(scale.ENV_VAR, "tpu-pod")
    with pytest.raises(ValueError, match=scale.ENV_VAR):
        scale.scale(quick=False)


def test_gpu_flag_names_the_results_apart_from_the_cpu_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    monkeypatch.delenv(scale.ENV_VAR, raising=False)
    from benchmarks.__main__ import _suffix

    assert _suffix("quick") == "quick"
    if jax.default_backend() == "cpu":
        assert _suffix("cpu") == "full"
        assert _suffix("gpu") == "gpu-sizes"  # never overwrites the committed CPU tables


def test_cpu_tricks_switch_chooses_the_rollout_blocks(monkeypatch):
    n = 4 * mbr.CPU_BLOCK * len(jax.devices())
    monkeypatch.setenv("JAXLOB_CPU_TRICKS", "on")
    devices, block = mbr.layout(n)
    assert devices == len(jax.devices()) and block == mbr.CPU_BLOCK
    monkeypatch.setenv("JAXLOB_CPU_TRICKS", "off")
    assert mbr.layout(n) == (devices, n // devices)  # one wide batch per device


def test_cost_analysis_counts_an_elementwise_add_exactly():
    # a + b over 1,000 float32: 1,000 flops, 2 x 4,000 bytes read and 4,000 written.
    x = jnp.ones(1000, jnp.float32)
    compiled = jax.jit(lambda a, b: a + b).lower(x, x).compile()
    assert costs(compiled) == (1000.0, 12000.0)


def test_gymnax_vmap_path_has_the_batched_rollouts_mean_return():
    n = 4000
    env, params = envs.make("cartea_jaimungal_mm")
    gym_mean = float(jax.jit(mbr.gymnax_block(env, params, n))(jax.random.key(3)))
    returns = np.asarray(
        jax.jit(lambda k: rollout(env, params, mbr._policy, k, n).returns)(jax.random.key(4))
    )
    se = np.sqrt(2 * returns.var() / n)  # both means have (about) the same variance
    assert abs(gym_mean - returns.mean()) < 4 * se, (gym_mean, returns.mean(), se)
