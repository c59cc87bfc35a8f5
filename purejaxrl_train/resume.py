"""Full training-state checkpoints (orbax), so that a stopped run continues exactly where it was.

`StateStore(run_dir)` keeps, under `run_dir/state/<update>/`, everything a run carries from one
update to the next (`trainer.RunnerState`: network parameters, optimiser state, observation and
reward statistics, every environment's state and GRU state, the key, the episode sums of the
progress line) beside the metrics of the updates done so far and the update index. orbax writes
each checkpoint into a temporary folder and renames it when complete, so a run killed while saving
leaves the previous checkpoint intact; the newest `keep` are kept. Arrays sharded across devices are
saved and restored with their shardings (and, under `jax.distributed`, by every process).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

STATE_DIR = "state"
FORMAT = 1


def _is_key(leaf) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key)


def _saveable(state) -> dict:
    """The state's leaves by position, typed keys as their raw data (what orbax stores); empty
    arrays (a feed-forward network's GRU state) are left out and come back from the template."""
    leaves = jax.tree.leaves(state)
    return {
        f"{i:04d}": jax.random.key_data(x) if _is_key(x) else x
        for i, x in enumerate(leaves)
        if np.size(x)
    }


class StateStore:
    """Training-state checkpoints of one run directory."""

    def __init__(self, run_dir: str | Path, keep: int = 2):
        self.directory = Path(run_dir).absolute() / STATE_DIR
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest(self) -> int | None:
        """Updates done at the newest checkpoint (None: there is none)."""
        return self.manager.latest_step()

    def save(self, update: int, state, metrics: dict[str, list]) -> None:
        """Checkpoint `state` after `update` updates, with the metrics of those updates."""
        meta = {"format": FORMAT, "update": int(update), "metrics": metrics}
        self.manager.save(
            int(update),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_saveable(state)), meta=ocp.args.JsonSave(meta)
            ),
        )
        self.manager.wait_until_finished()

    def restore(self, template, update: int | None = None):
        """(state, update, metrics) of checkpoint `update` (default: the newest), arrays laid out
        like `template`'s (a fresh state of the same config). A one-line ValueError if missing or
        of another configuration."""
        update = self.latest() if update is None else update
        if update is None:
            raise ValueError(f"{self.directory}: no training-state checkpoint to resume from")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _saveable(template))
        try:
            restored = self.manager.restore(
                update,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
                ),
            )
        except (ValueError, KeyError, FileNotFoundError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(
                f"{self.directory / str(update)}: cannot restore into this config ({first})"
            ) from None
        meta = restored["meta"]
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"{self.directory / str(update)}: state format {meta.get('format')!r}, "
                f"expected {FORMAT}"
            )
        leaves, treedef = jax.tree.flatten(template)
        saved = restored["state"]
        out = []
        for i, want in enumerate(leaves):
            if not np.size(want):
                out.append(want)
                continue
            got = saved[f"{i:04d}"]
            if _is_key(want):
                got = jax.random.wrap_key_data(got, impl=jax.random.key_impl(want))
            if np.shape(got) != np.shape(want):
                raise ValueError(
                    f"{self.directory / str(update)}: leaf {i} has shape {np.shape(got)}, "
                    f"the config needs {np.shape(want)}"
                )
            out.append(got)
        return jax.tree.unflatten(treedef, out), int(meta["update"]), meta["metrics"]

    def close(self) -> None:
        self.manager.close()
