"""Training across devices with JAX's own sharding: environments split, gradients averaged.

`make_device_program(config, ...)` compiles a run's two halves (`trainer.make_program`) for
`num_devices` devices. With one device they are plain jitted functions; with more, `jax.shard_map`
over a one-axis `Mesh` runs one instance of the program per device, each stepping
`num_envs / num_devices` environments (the total batch stays `num_envs`), with the observation and
reward statistics, episode counts, advantage normalisation and minibatch gradients averaged over
devices (`purejaxrl_train.collectives`). Keys are drawn per global environment and the minibatches
are cut from the gathered batch, so 1, 2 or 4 devices give the same run for a seed (to float
rounding of the cross-device sums). Parameters and optimiser state are replicated; environment
states are sharded along the mesh axis.

`shard_members(fn)` spreads the members of a vmapped sweep across devices instead (each device
runs `jax.vmap(fn)` over its members). Several hosts: call `jax.distributed.initialize()` first in
every process; `jax.devices()` then lists every host's devices and the same code runs unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from purejaxrl_train.collectives import SINGLE, EnvShard
from purejaxrl_train.config import TrainConfig
from purejaxrl_train.normalization import RewardScaler
from purejaxrl_train.rollout import EnvRunner
from purejaxrl_train.trainer import LearnerState, RunnerState, build, make_program

ENV_AXIS = "envs"
MEMBER_AXIS = "members"


def _divides(config: TrainConfig, devices: int) -> bool:
    if config.num_envs % devices:
        return False
    if config.recurrent:  # each device keeps a share of every minibatch's environments
        return (config.num_envs // config.num_minibatches) % devices == 0
    return config.minibatch_size % devices == 0


def resolve_num_devices(config: TrainConfig, available: int | None = None) -> int:
    """Devices a run uses: `config.num_devices`, or (0) the most of the visible ones that split
    the environments and every minibatch evenly. A one-line ValueError if the choice cannot."""
    available = len(jax.devices()) if available is None else available
    wanted = config.num_devices
    if wanted == 0:
        return max(d for d in range(1, available + 1) if _divides(config, d))
    if wanted > available:
        raise ValueError(f"TrainConfig.num_devices={wanted}: only {available} device(s) visible")
    if not _divides(config, wanted):
        per = "environments per minibatch" if config.recurrent else "samples per minibatch"
        raise ValueError(
            f"TrainConfig.num_devices={wanted} must divide num_envs={config.num_envs} and the "
            f"{per} ({config.minibatch_size})"
        )
    return wanted


def state_specs(axis: str = ENV_AXIS) -> RunnerState:
    """Partition specs of a `RunnerState`: per-environment arrays split along `axis`, the rest
    (parameters, optimiser, statistics, key) replicated."""
    split, same = P(axis), P()
    return RunnerState(
        learner=LearnerState(params=same, opt_state=same),
        env=EnvRunner(
            env_state=split,
            obs=split,
            reset=split,
            carry=split,
            obs_rms=same,
            episode_return=split,
            episode_length=split,
        ),
        reward_scaler=RewardScaler(stats=same, discounted_return=split),
        since_log=same,
        key=same,
    )


@dataclasses.dataclass(frozen=True)
class DeviceProgram:
    """A run's jitted halves on its devices.

    init(key, hp, env_params) -> state; chunk(state, start, hp, env_params) -> (state, metrics)
    runs `length` updates from update `start` (an int32 array: one compilation for every chunk).
    """

    init: Callable
    chunk: Callable
    length: int
    num_devices: int
    mesh: Mesh | None


def make_device_program(
    config: TrainConfig,
    env=None,
    env_params=None,
    progress=None,
    length: int | None = None,
    num_devices: int | None = None,
    devices=None,
) -> DeviceProgram:
    """The run's program on `num_devices` devices (default `resolve_num_devices(config)`)."""
    env, env_params, _ = build(config, env, env_params)
    count = resolve_num_devices(config) if num_devices is None else num_devices
    if count == 1:
        program = make_program(config, env, env_params, progress, SINGLE, length)
        return DeviceProgram(
            init=jax.jit(program.init),
            chunk=jax.jit(lambda s, start, hp, ep: program.updates(s, start, hp, 0, ep)),
            length=program.length,
            num_devices=1,
            mesh=None,
        )
    devices = jax.devices() if devices is None else devices
    mesh = Mesh(np.asarray(devices[:count]), (ENV_AXIS,))
    program = make_program(config, env, env_params, progress, EnvShard(ENV_AXIS, count), length)
    specs = state_specs()

    def shard(fn, in_specs, out_specs):
        return jax.jit(
            jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
        )

    init = shard(program.init, (P(), P(), P()), specs)
    chunk = shard(
        lambda s, start, hp, ep: program.updates(s, start, hp, 0, ep),
        (specs, P(), P(), P()),
        (specs, P()),
    )
    return DeviceProgram(init, chunk, program.length, count, mesh)


def state_shardings(program: DeviceProgram, state: RunnerState):
    """`NamedSharding` of every leaf of `state` on the program's mesh (None on one device)."""
    if program.mesh is None:
        return None
    specs = state_specs()
    return jax.tree.map(
        lambda spec, sub: jax.tree.map(lambda _: NamedSharding(program.mesh, spec), sub),
        specs,
        state,
        is_leaf=lambda x: isinstance(x, P),
    )


def shard_members(fn: Callable, devices=None) -> Callable:
    """`jax.vmap(fn)` with the members (leading axis of every argument) spread across devices.

    Uses the most devices that divide the number of members (members % devices != 0 leaves some
    devices idle rather than padding). Jit the result: `jax.jit(shard_members(train))(keys, hp,
    members)`; each member's result equals the plain vmapped one (to float rounding).
    """
    batched = jax.vmap(fn)

    def run(*args):
        members = jax.tree.leaves(args)[0].shape[0]
        pool = jax.devices() if devices is None else devices
        count = math.gcd(members, len(pool))
        if count == 1:
            return batched(*args)
        mesh = Mesh(np.asarray(pool[:count]), (MEMBER_AXIS,))
        spread = jax.shard_map(
            batched,
            mesh=mesh,
            in_specs=P(MEMBER_AXIS),
            out_specs=P(MEMBER_AXIS),
            check_vma=False,
        )
        return spread(*args)

    return run
