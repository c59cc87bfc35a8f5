"""Resume: a run stopped at a checkpoint and resumed ends bit for bit like the uninterrupted run.

Oracle: the uninterrupted run itself (same seed, same chunk length). Every file the run leaves
(metrics.csv, the policy checkpoint) and every array of its final training state must be equal
byte for byte, for a feed-forward config (chunks of 2 updates, the last one padded past the end)
and a recurrent one (chunks of 1). Chunking itself is checked against the one-program `make_train`
(to float rounding: XLA may fuse a scan of 2 updates differently from a scan of 3).
"""

import csv
import io

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from purejaxrl_train.presets import default_config
from purejaxrl_train.resume import STATE_DIR, StateStore
from purejaxrl_train.run import resume_training, run_training
from purejaxrl_train.trainer import make_train

BASE = dict(
    env_overrides=(("max_steps_in_episode", 10), ("terminal_time", 0.1)),
    num_envs=4,
    num_steps=10,
    num_minibatches=2,
    update_epochs=2,
    total_timesteps=120,  # 3 updates
    hidden_sizes=(8,),
    gru_size=4,
    log_interval=1,
    eval_episodes=0,
)
CONFIGS = {
    "feedforward": default_config("cartea_jaimungal_mm", checkpoint_every=2, **BASE),
    "recurrent": default_config("cartea_jaimungal_mm", recurrent=True, checkpoint_every=1, **BASE),
}
FIRST_CHUNK = {"feedforward": 2, "recurrent": 1}


def _final_state(run_dir) -> dict:
    """Every array of the newest training-state checkpoint, read back by orbax without a template."""
    store = StateStore(run_dir)
    step = store.latest()
    store.close()
    return ocp.StandardCheckpointer().restore(run_dir / STATE_DIR / str(step) / "state")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs(name) -> (uninterrupted run dir, stopped-then-resumed run dir, the resume's output,
    its summary); each config's runs are made once per module."""
    made = {}

    def get(name):
        if name not in made:
            config = CONFIGS[name]
            whole, parts = tmp_path_factory.mktemp("whole"), tmp_path_factory.mktemp("parts")
            run_training(config, 5, whole, stream=io.StringIO())
            stopped = run_training(config, 5, parts, stream=io.StringIO(), max_updates=1)
            assert stopped["updates_done"] == FIRST_CHUNK[name] and "evaluation" not in stopped
            out = io.StringIO()
            resumed = resume_training(parts, stream=out)
            made[name] = whole, parts, out.getvalue(), resumed
        return made[name]

    return get


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stopped_and_resumed_run_equals_uninterrupted_run(runs, name):
    whole, parts, output, resumed = runs(name)
    assert "resuming" in output and "update      3/3" in output
    assert resumed["resumed_from_update"] == FIRST_CHUNK[name] and resumed["updates_done"] == 3
    for file in ("metrics.csv", "checkpoint.msgpack"):
        assert (whole / file).read_bytes() == (parts / file).read_bytes(), file
    a, b = _final_state(whole), _final_state(parts)
    assert sorted(a) == sorted(b)
    for leaf in a:
        np.testing.assert_array_equal(np.asarray(a[leaf]), np.asarray(b[leaf]), err_msg=leaf)


def test_chunked_run_equals_one_program(runs):
    """The feed-forward run's chunks (2 updates, then 1 padded to 2) give make_train's one-scan
    metrics."""
    whole = runs("feedforward")[0]
    _, metrics = jax.jit(make_train(CONFIGS["feedforward"]))(jax.random.key(5))
    with (whole / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    for key, values in metrics.items():
        got = [float(r[key]) for r in rows]
        np.testing.assert_allclose(got, values, rtol=1e-5, atol=1e-7, err_msg=key)


def test_resume_needs_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run configuration"):
        resume_training(tmp_path)
    (tmp_path / "config.json").write_text('{"env_name": "cartea_jaimungal_mm", "run": {"seed": 1}}')
    with pytest.raises(ValueError, match="no training-state checkpoint"):
        resume_training(tmp_path)
