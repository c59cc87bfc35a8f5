"""Shared data, environments and compiled rollouts for the replay-environment tests.

Every environment here has the same shapes (2 days x 4 windows x 8 steps of 20 messages, 10 levels,
48 orders per side), and every rollout goes through one jitted function per environment config that
vmaps over days and windows: a test chooses data and actions, never new shapes, so the suite
compiles each config once. Synthetic windows (hand-made messages) are padded to the same shapes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.replay import baselines
from envs.replay import data as replay_data
from envs.replay.environment import initial_books
from envs.replay.registry import make
from jaxlob import lobster
from jaxlob import messages as m
from jaxlob import reference as ref
from jaxlob.state import DUMMY_ASK_PRICE, DUMMY_BID_PRICE
from jaxlob.views import top_levels

DAYS, WINDOWS, STEPS, PER_STEP, LEVELS, CAPACITY = 2, 4, 8, 20, 10, 48
ROOT = Path(__file__).resolve().parents[3]
SMALL = dict(capacity=CAPACITY, levels=3, history=2)


@pytest.fixture(scope="session")
def goog_day():
    msg = ROOT / "data" / f"{replay_data.GOOG_STEM}_message_10.csv.gz"
    book = ROOT / "data" / f"{replay_data.GOOG_STEM}_orderbook_10.csv.gz"
    return lobster.load_day(msg, book).head(30_000)


@pytest.fixture(scope="session")
def goog_days(goog_day):
    """Two 'days' of 4 windows each: 60-second windows of the GOOG day's first minutes."""
    data = replay_data.from_day(
        goog_day, window_seconds=60, messages_per_step=PER_STEP, max_steps=STEPS
    )
    first = replay_data.select_windows(data, range(0, WINDOWS))
    second = replay_data.select_windows(data, range(WINDOWS, 2 * WINDOWS))
    return first, second


def synthetic(initial_row, steps, rows=None, num_windows=WINDOWS) -> replay_data.ReplayData:
    """Hand-made data with the suite's shapes: window 0 holds ``steps`` (a list of lists of
    messages), every window starts from ``initial_row`` (the first levels; the rest empty), and
    ``rows[s]`` is the file row after step s (default: unchanged)."""

    def full_row(levels):
        row = np.tile(np.array([DUMMY_ASK_PRICE, 0, DUMMY_BID_PRICE, 0], np.int64), LEVELS)
        row[: len(levels)] = levels
        return row

    initial = full_row(initial_row)
    messages = np.zeros((num_windows, STEPS, PER_STEP, m.NUM_FIELDS), np.int32)
    for s, step in enumerate(steps):
        for i, msg in enumerate(step):
            messages[0, s, i] = msg
    num_steps = max(len(steps), 1)
    step_rows = np.tile(initial, (num_windows, STEPS, 1))
    for s, row in enumerate(rows or []):
        step_rows[0, s:] = full_row(row)
    return replay_data.ReplayData(
        messages=messages,
        step_rows=step_rows.astype(np.int32),
        initial_row=np.tile(initial, (num_windows, 1)).astype(np.int32),
        num_steps=np.full(num_windows, num_steps, np.int32),
        start_s=np.full(num_windows, 36_000, np.int32),
        end_s=np.full(num_windows, 36_060, np.int32),
        num_windows=np.asarray(num_windows, np.int32),
    )


def data_message(typ, direction, size, price, order_id, time_s=36_001):
    return [typ, direction, size, price, order_id, 0, time_s, 0]


@pytest.fixture(scope="session")
def make_synthetic():
    return synthetic, data_message


def _rollout_fn(env):
    """Jitted rollout over (days, windows): reset into the given window, then one step per action,
    or per policy call where ``use_policy``. Returns the reset observation and state (book left
    out) and per-step outputs, all with leading axes (days, windows[, steps])."""

    def episode(params, window, actions, policy, use_policy, key):
        p = params.replace(window=window)
        obs0, state = env.reset_env(key, p)

        def step(carry, xs):
            obs, state = carry
            action, t = xs
            step_key = jax.random.fold_in(key, t)
            action = jnp.where(use_policy, policy(step_key, obs), action)
            obs, new, reward, done, info, msgs = env.step_detail(step_key, state, action, p)
            out = {
                "obs": obs,
                "action": action,
                "reward": reward,
                "done": done,
                "info": info,
                "msgs": msgs,
                "top": top_levels(new.book, LEVELS),
                "book": new.book,
                "state": new.replace(book=None),
            }
            return (obs, new), out

        xs = (actions, jnp.arange(actions.shape[0]))
        _, outs = jax.lax.scan(step, (obs0, state), xs)
        return obs0, state.replace(book=None), outs

    def run(params, data, books, windows, actions, policy, use_policy, keys):
        def day(d, b, w, a, k):
            p = params.replace(data=d, initial_books=b)
            return jax.vmap(episode, in_axes=(None, 0, 0, None, None, 0))(
                p, w, a, policy, use_policy, k
            )

        return jax.vmap(day)(data, books, windows, actions, keys)

    return jax.jit(run)


class Harness:
    """An environment config and its compiled rollout; `run` takes any data of the suite's shapes,
    task field changes, the run-time re-synchronisation switch and a policy of the harness's
    class (`default_policy`'s) instead of fixed actions."""

    def __init__(self, env, params, default_policy):
        self.env, self.params = env, params
        self.default_policy = default_policy
        self._run = _rollout_fn(env)
        self.num_actions = env.action_space(params).shape[0]

    def params_for(self, datas, resync=True, env_fields=None, **task):
        """Params of stacked days (list of ReplayData, one per day), `EnvParams` field changes
        (``env_fields``) and task field changes."""
        stacked = replay_data.stack_days(list(datas))
        stacked = jax.tree.map(lambda x: jnp.asarray(x, jnp.int32), stacked)
        books = initial_books(stacked, CAPACITY, self.env.config.max_fills)
        params = self.params.replace(task=self.params.task.replace(**task), resync=resync)
        params = params.replace(**(env_fields or {}))
        return params, stacked, books

    def run(
        self,
        datas,
        actions=None,
        windows=None,
        keys=None,
        policy=None,
        resync=True,
        env_fields=None,
        **task,
    ):
        params, stacked, books = self.params_for(datas, resync, env_fields, **task)
        actions = np.zeros(self.num_actions) if actions is None else actions
        actions = np.broadcast_to(
            np.asarray(actions, np.float32), (DAYS, WINDOWS, STEPS, self.num_actions)
        )
        windows = np.tile(np.arange(WINDOWS), (DAYS, 1)) if windows is None else windows
        if keys is None:
            keys = jax.random.split(jax.random.PRNGKey(0), DAYS * WINDOWS)
            keys = keys.reshape(DAYS, WINDOWS, -1)
        out = self._run(
            params,
            stacked,
            books,
            jnp.asarray(windows, jnp.int32),
            jnp.asarray(actions),
            self.default_policy if policy is None else policy,
            jnp.asarray(policy is not None),
            keys,
        )
        return jax.device_get(out)


@pytest.fixture(scope="session")
def execution(goog_days):
    """Execution (four-price action, buy 300 shares), re-synchronisation compiled in (switch it
    off per run for the pure replay)."""
    env, params = make("lobster_execution", data=goog_days[0], quantity=300, **SMALL)
    return Harness(env, params, baselines.make_twap(env, params))


@pytest.fixture(scope="session")
def execution_latency(goog_days):
    """`execution` with the latency compiled in (`envs.replay.latency`; set the latencies per run
    with ``env_fields``)."""
    env, params = make("lobster_execution", data=goog_days[0], quantity=300, latency=True, **SMALL)
    return Harness(env, params, baselines.make_twap(env, params))


@pytest.fixture(scope="session")
def market_making(goog_days):
    """Market making (inventory bound 200, quotes up to 100 shares), re-synchronised."""
    env, params = make(
        "lobster_market_making", data=goog_days[0], max_inventory=200, max_order=100, **SMALL
    )
    return Harness(env, params, baselines.make_fixed_spread(env, params))


@pytest.fixture(scope="session")
def at():
    """Episode (d, b) of a rollout output, and step t of it."""

    def pick(tree, d, b, t=None):
        out = jax.tree.map(lambda x: x[d, b], tree)
        return out if t is None else jax.tree.map(lambda x: x[t], out)

    return pick


AGENT = 1


def _queue_true_fill(book, msg, totals):
    """Reference rule of `envs.replay.queue`, written on the plain-Python book: a data execution
    first fills, in priority order, the agent's orders ranked ahead of the order it names (ahead of
    every displayed order at its price for a hidden execution; the back of the level when the book
    knows neither the id nor an aggregate); returns the message left for the book, or None when the
    agent's orders took it all."""
    typ, direction, size, price, oid, trader = (int(v) for v in msg[:6])
    if typ not in (m.EXECUTE, m.HIDDEN) or trader == AGENT or size <= 0:
        return msg
    if direction not in (m.BUY, m.SELL) or book.halt_state != m.TRADING:
        return msg
    is_ask = direction == m.SELL
    orders = list(book.side(is_ask).orders())
    better_or_at = [o for o in orders if (o.price <= price if is_ask else o.price >= price)]
    position = len(better_or_at)  # the back of the level
    if typ == m.EXECUTE:
        named = book.by_id.get(oid)
        if named is not None and (named.is_ask != is_ask or named.price != price):
            return msg  # contradicts the book: left to it
        if named is None:
            named = next(
                (o for o in orders if o.price == price and o.order_id <= ref.SNAPSHOT_ID_BASE),
                None,
            )
        if named is not None:
            position = orders.index(named)
    left = size
    fills = ref.Fills(book.max_fills, totals)
    for order in orders[:position]:
        if left == 0:
            break
        if order.trader_id != AGENT:
            continue
        shares = min(left, order.quantity)
        ref._record_trade(book, fills, order, shares, trader)
        ref._reduce(book, order, shares)
        left -= shares
    if left == size:
        return msg
    if left == 0:
        return None
    out = list(msg)
    out[m.SIZE] = left
    return out


def reference_step(book, msgs):
    """Apply a step's messages (as `step_detail` returns them) to the reference book with the
    queue-true rule; returns the book and the step's totals."""
    totals = ref.Totals(book.num_traders)
    for msg in np.asarray(msgs).tolist():
        extra = ref.Totals(book.num_traders)
        left = _queue_true_fill(book, msg, extra)
        totals.add(extra)
        if left is None:  # all taken by the agent: the engine sees padding, the clock moves
            ref.apply_message(book, [0] * m.NUM_FIELDS)
            book.time_s, book.time_ns = msg[m.TIME_S], msg[m.TIME_NS]
            continue
        book, fills = ref.apply_message(book, left)
        totals.add(fills.totals)
    return book, totals


@pytest.fixture(scope="session")
def replay_reference():
    return reference_step
