"""An independent exact solution of a model-based market's own one-step dynamics (tests only).

Written from the environment's documented rules (`envs.model_based.environment`), not from the
agents' solvers: per step, one-unit market orders first (buy, then sell, each within the inventory
bounds and the programme's side, paying the half-spread), then each side's quote fills
independently with probability min(P e^{-κδ}, 1) for δ clipped to [min_depth, max_depth] (at
the touch P, earning the half-spread), P = min(λdt, 1) (1 - e^{-λdt} for nonlinear Poisson
arrivals), unless the fill would pass a bound; then the mid moves by μdt + σ√dt Z plus, per arriving market order, -ξ⁻ (sell) or +ξ⁺ (buy).
Rewards: risk neutral Σ(dY - φ |Q_{n+1}|^p dt) - α |Q_N|^p; CARA -exp(-γ(Y_T - Y_0)) (values are then
certainty equivalents).

`evaluate(rules, actions)` is the exact value of a table of actions (any agent's, read off it on
every (step, inventory)); `optimum(rules)` maximises the same one-step expectation by
derivative-free golden-section search on each depth in turn (the objective is unimodal in each)
and by enumerating the discrete choices. Both are float64 NumPy over a small inventory grid.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclasses.dataclass(frozen=True)
class Rules:
    steps: int
    dt: float
    arrival: tuple[float, float]  # min(λdt, 1) for [sell orders (our bid), buy orders (our ask)]
    kappa: float  # unused at the touch
    touch: bool
    market_orders: bool
    half_spread: float
    lo: float  # depth clip
    hi: float
    q: np.ndarray  # inventory grid (fills past its ends are barred: truncation)
    upper: float
    lower: float
    may_buy: bool
    may_sell: bool
    phi: float
    alpha: float
    exponent: float  # p of the penalties φ|Q|^p dt, α|Q_N|^p
    gamma: float
    sigma: float
    drift: float
    jump: tuple[float, float]


def rules_of(env, params, grid: tuple[int, int] | None = None) -> Rules:
    """The rules of a Poisson / exponential-fill / Brownian(-jump) preset, read off its params."""
    steps = int(params.max_steps_in_episode)
    dt = float(params.terminal_time) / steps
    rate = np.broadcast_to(np.asarray(params.arrivals.rate, np.float64), (2,))
    side = float(params.execution_side)
    bound = float(params.max_inventory)
    upper = 0.0 if side < -0.5 else bound
    lower = 0.0 if side > 0.5 else -bound
    lo_q, hi_q = grid if grid is not None else (int(lower), int(upper))
    kind = env.action_type
    reward = env.config.reward.name
    mid = params.midprice
    jump = np.broadcast_to(np.asarray(getattr(mid, "jump_size", 0.0), np.float64), (2,))
    if env.config.arrivals.name == "poisson_nonlinear":  # P(any order in dt) = 1 - e^{-λdt}
        arrival = (1.0 - np.exp(-rate[0] * dt), 1.0 - np.exp(-rate[1] * dt))
    else:
        arrival = (min(rate[0] * dt, 1.0), min(rate[1] * dt, 1.0))
    return Rules(
        steps=steps,
        dt=dt,
        arrival=arrival,
        kappa=float(params.fill.kappa) if params.fill is not None else 0.0,
        touch=kind.startswith("touch"),
        market_orders=kind.endswith("_and_market"),
        half_spread=float(params.half_spread),
        lo=float(params.min_depth),
        hi=float(params.max_depth),
        q=np.arange(lo_q, hi_q + 1, dtype=np.float64),
        upper=upper,
        lower=lower,
        may_buy=side < 0.5,
        may_sell=side > -0.5,
        phi=0.0 if reward == "exponential_utility" else float(params.reward.phi),
        alpha=0.0 if reward == "exponential_utility" else float(params.reward.alpha),
        exponent=float(getattr(params.reward, "inventory_exponent", 2.0)),
        gamma=float(params.reward.gamma) if reward == "exponential_utility" else 0.0,
        sigma=float(mid.sigma),
        drift=float(getattr(mid, "drift", 0.0)),
        jump=(float(jump[0]), float(jump[1])),
    )


def action_table(env, params, policy, rules: Rules) -> np.ndarray:
    """(steps, levels, action size): the agent's action at every (t_n, q) of the grid (cash 0, mid
    at its initial price), asked of the policy itself."""
    assert not env.config.normalize_obs
    n, q = np.meshgrid(np.arange(rules.steps), rules.q, indexing="ij")
    obs = np.zeros((n.size, env.obs_size), np.float32)
    obs[:, env.obs_index["inventory"]] = q.reshape(-1)
    # the environment's float32 clock: step counter times dt
    time = jnp.asarray(n.reshape(-1), jnp.int32) * (params.terminal_time / rules.steps)
    obs[:, env.obs_index["time"]] = np.asarray(time)
    obs[:, env.obs_index["midprice"]] = float(params.midprice.initial_price)
    keys = jax.random.split(jax.random.key(0), n.size)
    actions = np.asarray(jax.jit(jax.vmap(policy))(keys, jnp.asarray(obs)), np.float64)
    return actions.reshape(rules.steps, rules.q.size, -1)


def _quote_outcomes(r: Rules, side: int, p, depth):
    """[(probability, inventory change, cash vs mid, mid jump)] of one side's quote."""
    arrival = r.arrival[side]
    dq, jump = (1.0, -r.jump[0]) if side == 0 else (-1.0, r.jump[1])
    if any(r.jump):
        none = np.broadcast_to(1.0 - arrival, np.shape(p))
        return [(p, dq, depth, jump), (arrival - p, 0.0, 0.0, jump), (none, 0.0, 0.0, 0.0)]
    return [(p, dq, depth, 0.0), (1.0 - p, 0.0, 0.0, 0.0)]


def _after_fills(r: Rules, q2, nxt, bid, ask, post_bid, post_ask):
    """E over this step's fills and mid move, from inventory q2 (after market orders).

    Risk neutral: expected reward plus next value. CARA: log E[exp(-γ pnl)] plus log w_next."""
    can_bid = (q2 + 1 <= r.upper) & (q2 + 1 <= r.q[-1]) & r.may_buy
    can_ask = (q2 - 1 >= r.lower) & (q2 - 1 >= r.q[0]) & r.may_sell
    if r.touch:
        bid = ask = np.full(np.shape(post_bid), r.half_spread)
        pb = r.arrival[0] * post_bid * can_bid
        pa = r.arrival[1] * post_ask * can_ask
    else:
        bid, ask = np.clip(bid, r.lo, r.hi), np.clip(ask, r.lo, r.hi)
        pb = np.minimum(r.arrival[0] * np.exp(-r.kappa * bid), 1.0) * can_bid
        pa = np.minimum(r.arrival[1] * np.exp(-r.kappa * ask), 1.0) * can_ask
    terms = []
    for p_b, dq_b, cash_b, jump_b in _quote_outcomes(r, 0, pb, bid):
        for p_a, dq_a, cash_a, jump_a in _quote_outcomes(r, 1, pa, ask):
            prob = p_b * p_a
            q3 = q2 + dq_b + dq_a
            index = np.clip((q3 - r.q[0]).astype(int), 0, r.q.size - 1)
            move = r.drift * r.dt + jump_b + jump_a  # mean mid move given the arrivals
            cash = np.where(dq_b != 0, cash_b, 0.0) + np.where(dq_a != 0, cash_a, 0.0)
            if r.gamma > 0:
                log = (
                    -r.gamma * (cash + q3 * move)
                    + 0.5 * (r.gamma * r.sigma * q3) ** 2 * r.dt
                    + nxt[index]
                )
                terms.append((prob, log))
            else:
                penalty = r.phi * r.dt * np.abs(q3) ** r.exponent
                terms.append((prob, cash + q3 * move - penalty + nxt[index]))
    if r.gamma > 0:
        shape = np.broadcast_shapes(*(np.shape(p) for p, _ in terms), np.shape(terms[0][1]))
        logs = np.stack([np.where(p > 0, t, -np.inf) * np.ones(shape) for p, t in terms])
        top = logs.max(axis=0)
        with np.errstate(divide="ignore"):
            weights = np.log(np.stack([np.broadcast_to(p, shape) for p, _ in terms]))
        return top + np.log(np.sum(np.exp(weights + logs - top), axis=0))
    return sum(p * t for p, t in terms)


def _market_orders(r: Rules, buy, sell):
    buy = buy & (r.q + 1 <= r.upper) & (r.q + 1 <= r.q[-1]) & r.may_buy
    q1 = r.q + buy
    sell = sell & (q1 - 1 >= r.lower) & (q1 - 1 >= r.q[0]) & r.may_sell
    return q1 - sell, r.half_spread * (buy.astype(float) + sell)


def _terminal(r: Rules) -> np.ndarray:
    return np.zeros_like(r.q) if r.gamma > 0 else -r.alpha * np.abs(r.q) ** r.exponent


def _value(r: Rules, v) -> np.ndarray:
    return -v / r.gamma if r.gamma > 0 else v


def evaluate(r: Rules, actions: np.ndarray) -> np.ndarray:
    """Exact value at t = 0 of the action table for every grid inventory (CARA: certainty
    equivalent)."""
    v = _terminal(r)
    for n in range(r.steps - 1, -1, -1):
        a = actions[n]
        if r.market_orders:
            q2, cost = _market_orders(r, a[:, 2] > 0.5, a[:, 3] > 0.5)
        else:
            q2, cost = r.q, 0.0
        post_bid, post_ask = (a[:, 0] > 0.5, a[:, 1] > 0.5) if r.touch else (None, None)
        inner = _after_fills(r, q2, v, a[:, 0], a[:, 1], post_bid, post_ask)
        v = inner + r.gamma * cost if r.gamma > 0 else inner - cost
    return _value(r, v)


def _golden_max(f, lo: float, hi: float, shape, iterations: int = 28) -> np.ndarray:
    """Elementwise argmax over [lo, hi] of independent unimodal problems: f maps candidates of
    shape (k, *shape) to their values (both interior points are scored in one call)."""
    a, b = np.full(shape, lo), np.full(shape, hi)
    c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
    fc, fd = f(np.stack([c, d]))
    for _ in range(iterations):
        left = fc > fd
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d = np.where(left, b - GOLDEN * (b - a), d), np.where(left, c, a + GOLDEN * (b - a))
        fc, fd = f(np.stack([c, d]))
    candidates = np.stack([a, c, d, b])
    pick = np.argmax(f(candidates), axis=0)
    return np.take_along_axis(candidates, pick[None], axis=0)[0]


def optimum(r: Rules, rounds: int = 1) -> np.ndarray:
    """The exact optimal value at t = 0 for every grid inventory (CARA: certainty equivalent).

    Limit quotes: `rounds` Jacobi rounds (one more on the first step), each a golden-section search
    of the bid depth (ask held) and of the ask depth (bid held), side by side, starting from the
    depths of the step after."""
    sign = -1.0 if r.gamma > 0 else 1.0  # CARA minimises log E[exp(-γ pnl)]
    v = _terminal(r)
    size = r.q.size
    bid, ask = np.full(size, r.hi), np.full(size, r.hi)
    for step in range(r.steps):

        def score(bid, ask, post_bid=None, post_ask=None, nxt=v):
            return sign * _after_fills(r, r.q, nxt, bid, ask, post_bid, post_ask)

        if r.touch:
            best = np.full(size, -np.inf)
            for post_bid in (False, True):
                for post_ask in (False, True):
                    flags = np.full(size, post_bid), np.full(size, post_ask)
                    best = np.maximum(best, score(None, None, *flags))
        else:
            # Jacobi rounds from the depths of the step after (they change slowly in time)
            for _ in range(rounds + 1 if step == 0 else rounds):

                def pair(x, bid=bid, ask=ask):  # x[:, 0]: bid candidates, x[:, 1]: ask ones
                    bids = np.stack([x[:, 0], np.broadcast_to(bid, x[:, 0].shape)], axis=1)
                    asks = np.stack([np.broadcast_to(ask, x[:, 1].shape), x[:, 1]], axis=1)
                    return score(bids, asks)

                bid, ask = _golden_max(pair, r.lo, r.hi, (2, size))
            best = score(bid, ask)
        if r.market_orders:
            # best[i] is the value of quoting from inventory q_i; a market order moves there first
            cost = r.half_spread * (r.gamma if r.gamma > 0 else 1.0)
            buy = (r.q + 1 <= r.upper) & (r.q < r.q[-1]) & r.may_buy
            sell = (r.q - 1 >= r.lower) & (r.q > r.q[0]) & r.may_sell
            from_buy = np.where(buy, np.roll(best, -1) - cost, -np.inf)
            from_sell = np.where(sell, np.roll(best, 1) - cost, -np.inf)
            best = np.maximum(best, np.maximum(from_buy, from_sell))
        v = sign * best
    return _value(r, v)
