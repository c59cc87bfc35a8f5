"""Many days as one dataset (`envs.replay.dataset`): ``data=PATH`` in every form, the same windows
as each day alone, the cache, resets across days, vmap over days, one-line errors, and the
do-nothing baseline from the command line. Data: three tiny synthetic days written to tmp_path."""

from __future__ import annotations

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.evaluate import main as evaluate_main
from agents.replay.baselines import make_fixed_action
from envs.replay import data as replay_data
from envs.replay import dataset, registry
from envs.replay.environment import initial_books
from jaxlob import lobster, synthetic
from jaxlob import messages as m

SECONDS, WINDOW, PER_STEP, MAX_STEPS = 60, 20, 50, 4
SMALL = dict(window_seconds=WINDOW, messages_per_step=PER_STEP, capacity=24, levels=3, history=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three days of one ticker (2000-01-07, -10, -11: a Friday, then Monday and Tuesday) and a
    README that is not data."""
    out = tmp_path_factory.mktemp("days")
    synthetic.synthesize_days(out, 3, SECONDS, seed=11, levels=10, date="2000-01-07")
    (out / "README.md").write_text("not data")
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def alone(day: dataset.DayFiles, max_steps=None) -> replay_data.ReplayData:
    """One day's data without the dataset code and without a cache."""
    loaded = lobster.load_day(day.message_path, day.orderbook_path)
    return replay_data.from_day(loaded, WINDOW, PER_STEP, max_steps)


def test_folder_days_are_found_in_order_and_named(folder):
    days = dataset.find_pairs(folder)
    assert [d.name.date for d in days] == ["2000-01-07", "2000-01-10", "2000-01-11"]
    assert all(d.orderbook_path.name.startswith(d.message_path.name[:-22]) for d in days)
    assert days[0].label == "SYNTH_2000-01-07_L10"


def test_dataset_windows_equal_each_day_alone(folder, cache):
    ds = dataset.load_dataset(folder, WINDOW, PER_STEP, cache_dir=cache)
    data, days = ds.data, ds.days
    which = np.asarray(data.day)
    assert int(data.num_windows) == which.size == data.window_capacity
    steps = data.max_steps
    for d, day in enumerate(days):
        one = alone(day)
        rows = np.flatnonzero(which == d)
        assert rows.size == int(one.num_windows) and np.all(np.diff(rows) == 1)  # contiguous
        s = one.max_steps
        msgs = np.asarray(data.messages)[rows]
        np.testing.assert_array_equal(msgs[:, :s], one.messages)
        assert not msgs[:, s:].any()  # NOOP padding to the longest window of any day
        step_rows = np.asarray(data.step_rows)[rows]
        np.testing.assert_array_equal(step_rows[:, :s], one.step_rows)
        np.testing.assert_array_equal(
            step_rows[:, s:], np.repeat(one.step_rows[:, -1:], steps - s, 1)
        )
        for name in ("initial_row", "num_steps", "start_s", "end_s"):
            np.testing.assert_array_equal(np.asarray(getattr(data, name))[rows], getattr(one, name))
        # independent of the window code: the day's windows hold its messages 1.. in file order
        loaded = lobster.load_day(day.message_path, day.orderbook_path)
        flat = msgs.reshape(-1, m.NUM_FIELDS)
        real = flat[flat[:, m.TYPE] != 0]
        np.testing.assert_array_equal(real, loaded.messages[1:])
        np.testing.assert_array_equal(np.asarray(data.initial_row)[rows[0]], loaded.orderbook[0])
        assert ds.window_label(int(rows[-1])) == day.label
    # without the cache (every day held, then concatenated) the arrays are the same
    uncached = dataset.load_dataset(folder, WINDOW, PER_STEP, cache_dir=False).data
    for a, b in zip(jax.tree.leaves(uncached), jax.tree.leaves(data), strict=True):
        np.testing.assert_array_equal(a, b)


def test_days_are_parsed_once_then_read_from_the_cache(folder, cache, monkeypatch, tmp_path):
    dataset.load_dataset(folder, WINDOW, PER_STEP, MAX_STEPS, cache_dir=cache)
    parsed = []
    real_load_day = replay_data.lobster.load_day

    def counting(msg, book):
        parsed.append(msg)
        return real_load_day(msg, book)

    monkeypatch.setattr(replay_data.lobster, "load_day", counting)
    again = dataset.load_dataset(folder, WINDOW, PER_STEP, MAX_STEPS, cache_dir=cache)
    assert parsed == []
    # a changed file is a different entry (the key hashes the bytes): only that day is parsed
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    day = dataset.find_pairs(copy)[1]
    synthetic.synthesize(copy, SECONDS, 99, 10, date="2000-01-10", overwrite=True)
    changed = dataset.load_dataset(copy, WINDOW, PER_STEP, MAX_STEPS, cache_dir=cache)
    assert parsed == [day.message_path]
    assert not np.array_equal(np.asarray(changed.data.messages), np.asarray(again.data.messages))


def test_every_form_of_a_path_names_the_same_pair(folder, cache):
    day = dataset.find_pairs(folder)[1]
    stem = day.message_path.parent / day.message_path.name.split("_message_")[0]
    expected = alone(day, MAX_STEPS)
    for path in (day.message_path, day.orderbook_path, stem, str(stem)):
        _, params = registry.make(
            "lobster_market_making", data=path, max_steps=MAX_STEPS, cache_dir=cache, **SMALL
        )
        np.testing.assert_array_equal(np.asarray(params.data.messages), expected.messages)
        np.testing.assert_array_equal(np.asarray(params.data.step_rows), expected.step_rows)


@pytest.fixture(scope="module")
def folder_market(folder, cache):
    return registry.make(
        "lobster_execution", data=str(folder), max_steps=MAX_STEPS, cache_dir=cache, **SMALL
    )


def test_resets_draw_windows_of_every_day(folder_market):
    env, params = folder_market
    keys = jax.random.split(jax.random.PRNGKey(0), 256)
    _, states = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(keys, params)
    drawn = np.asarray(states.window)
    count = int(params.data.num_windows)
    assert set(drawn.tolist()) == set(range(count))  # 256 uniform draws of ~9 windows
    assert set(np.asarray(params.data.day)[drawn].tolist()) == {0, 1, 2}


def test_vmap_over_days_agrees_with_the_concatenated_windows(folder_market):
    """`split_days` then `stack_days` vmaps over days; day d's window 0 is the dataset's first
    window of day d, so a reset and one step there agree exactly. One compiled vmap serves both:
    the concatenated data rides along as three more "days" (`stack_days` pads the window axis)."""
    env, params = folder_market
    per_day = dataset.split_days(params.data)
    assert len(per_day) == 3
    both = replay_data.stack_days(per_day + [params.data] * 3)
    both = jax.tree.map(lambda x: jnp.asarray(x, jnp.int32), both)
    books = initial_books(both, env.config.capacity, env.config.max_fills)
    firsts = np.searchsorted(np.asarray(params.data.day), np.arange(3))
    windows = jnp.asarray([0, 0, 0, *firsts], jnp.int32)
    action = jnp.asarray([30.0, 0.0, 20.0, 0.0])
    key = jax.random.PRNGKey(3)

    def day(d, b, w):
        p = params.replace(data=d, initial_books=b, window=w)
        obs0, state = env.reset_env(key, p)
        obs, state, reward, _, _ = env.step_env(key, state, action, p)
        return obs0, obs, reward, state.window

    obs0, obs, reward, window = jax.device_get(jax.jit(jax.vmap(day))(both, books, windows))
    np.testing.assert_array_equal(window, windows)
    for d in range(3):
        np.testing.assert_array_equal(obs0[d], obs0[3 + d])
        np.testing.assert_array_equal(obs[d], obs[3 + d])
        assert reward[d] == reward[3 + d]
    assert not np.array_equal(obs[0], obs[1])  # the days differ


def _broken_folder(folder, tmp_path):
    """A copy of one day as plain .csv with a letter in row 5's size field."""
    out = tmp_path / "broken"
    synthetic.synthesize(out, 5, 1, 10, date="2000-01-07", gzipped=False)
    msg = next(out.glob("*_message_*"))
    lines = msg.read_text().splitlines()
    fields = lines[4].split(",")
    fields[3] = "1x0"
    lines[4] = ",".join(fields)
    msg.write_text("\n".join(lines) + "\n")
    return out, msg


def test_bad_paths_are_one_line_errors(folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(dataset.find_pairs(folder)[0].message_path, lonely)
    mixed = tmp_path / "mixed"
    synthetic.synthesize(mixed, 5, 1, 10, date="2000-01-07")
    synthetic.synthesize(mixed, 5, 2, 11, date="2000-01-10")
    twice = tmp_path / "twice"
    synthetic.synthesize(twice, 5, 1, 10, date="2000-01-07")
    synthetic.synthesize(twice, 5, 1, 10, date="2000-01-07", gzipped=False)
    broken, broken_msg = _broken_folder(folder, tmp_path)
    cases = [
        (tmp_path / "nope", "does not exist"),
        (tmp_path / "nope" / "deeper", "does not exist"),
        (empty, "holds no LOBSTER pair"),
        (lonely, "no orderbook file"),
        (next(lonely.iterdir()), "no orderbook file"),
        (empty / "notes.txt", "not named TICKER_DATE"),
        (mixed, "different level counts: 10 (SYNTH_2000-01-07"),
        (twice, "two copies of one day"),
        (broken, f"{broken_msg}: row 5, column size"),
        (2024, "expected a path"),
    ]
    for path, words in cases:
        with pytest.raises(ValueError) as error:
            registry.make("lobster_execution", data=path, cache_dir=False)
        text = str(error.value)
        assert words in text and "\n" not in text, (path, text)


def test_do_nothing_from_the_command_line(folder, cache, capsys):
    """``--agent fixed_action`` (all zeros) on ``--set data=FOLDER``: no order ever rests, so no
    passive fill; what is bought, the deadline order bought."""
    code = evaluate_main(
        [
            "--env", "lobster_execution", "--agent", "fixed_action", "--episodes", "6",
            "--seed", "0", "--set", f"data={folder}", "--set", f"cache_dir={cache}",
            "--set", f"max_steps={MAX_STEPS}", "--set", "quantity=200", "--json",
            *[f"--set={k}={v}" for k, v in SMALL.items()],
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["agent"] == "fixed_action" and result["return"]["count"] == 6
    assert result["fills_bid"]["mean"] == 0 and result["fills_ask"]["mean"] == 0
    assert 0 < result["market_orders_buy"]["mean"] <= 200
    assert result["invalid_actions"]["mean"] == 0


def test_fixed_action_is_checked_against_the_action_space(folder_market):
    env, params = folder_market
    zeros = make_fixed_action(env, params)
    np.testing.assert_array_equal(np.asarray(zeros(None, None)), np.zeros(4))
    given = make_fixed_action(env, params, action=(10, 0, 5, 0))
    np.testing.assert_array_equal(np.asarray(given(None, None)), [10, 0, 5, 0])
    with pytest.raises(ValueError, match=r"needs 4 values \(far_touch, mid, near_touch, passive\)"):
        make_fixed_action(env, params, action=(1, 2))
    with pytest.raises(ValueError, match=r"action mid=-1 outside \[0, 500\]"):
        make_fixed_action(env, params, action=(0, -1, 0, 0))
    with pytest.raises(ValueError, match=r"passive=nan outside"):
        make_fixed_action(env, params, action=(0, 0, 0, float("nan")))
