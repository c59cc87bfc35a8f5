"""The exact optimum of a model-based market's own discrete-time dynamics, by backward recursion.

The continuous-time solutions (CJP's matrix exponential and QVI, AS 2008, GLFT) are optimal for a
market that trades in continuous time; the environment trades in steps of dt with its own rules
(`envs.model_based.environment`): one-unit market orders first, within the inventory bounds; then
each side's quote fills with probability min(P e^{-κδ}, 1) (at the touch P), P = min(λdt, 1) the
probability of an order this step (1 - e^{-λdt} with nonlinear Poisson arrivals),
independently, unless a fill would pass a bound; then the mid moves. Those rules define a finite
Markov decision problem in (step, inventory), solved here exactly (float64 NumPy):

* risk-neutral criteria (PnL, running inventory penalty, the CJ execution criterion): the mid is a
  martingale (up to a drift μ), so the value is
  v_n(q) = max E[cash vs mid + μ dt Q_{n+1} - φ |Q_{n+1}|^p dt + v_{n+1}(Q_{n+1})], v_N(q) = -α|q|^p;
* CARA utility -exp(-γ (Y_T - Y_0)) on an arithmetic Brownian mid (drift μ, volatility σ) with
  optional arrival-driven jumps (a sell market order moves the mid by -ξ⁻, a buy one by +ξ⁺, GLFT
  §5.2): the exponential transform leaves w_n(q) = min E[exp(-γ(cash vs mid + Q_{n+1} dS))
  w_{n+1}(Q_{n+1})], w_N = 1, carried as log w; the value reported is the certainty equivalent
  -log(w)/γ.

Per step and inventory the two quotes are optimised jointly by coordinate ascent, each coordinate
in closed form (the objective in one depth is unimodal): risk neutral δ = 1/κ - Δ, CARA
δ = (1/γ) ln((1 + γ/κ) A_fill / A_no_fill), clipped into [min_depth, max_depth] and to where the
fill probability reaches 1. Market orders, and the at-the-touch post-or-not choices, are enumerated.
Actions at row q are those for the inventory after this step's market order.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

COORDINATE_ROUNDS = 12  # joint quotes: rounds of exact one-side optimisation (converges in ~4)


@dataclasses.dataclass(frozen=True)
class DiscreteMarket:
    """What one step of the market does, in the environment's own discrete-time rules.

    Per-side tuples are (bid, ask): bid fills (sell market orders) raise q, ask fills lower it.
    The inventory grid q_min..q_max covers every inventory reachable from the start; `lower` and
    `upper` are the market's bounds (fills and market orders past them are barred; at a grid edge
    that is not a bound, the unreachable beyond is barred too, which leaves reachable states exact).
    """

    num_steps: int
    dt: float
    arrival_prob: tuple[float, float]  # min(λ dt, 1)
    kappa: float | None  # exponential fill e^{-κδ}; None: quotes at the touch
    half_spread: float  # touch quotes earn it, market orders pay it
    min_depth: float
    max_depth: float
    q_min: int
    q_max: int
    lower: float
    upper: float
    may_buy: bool = True
    may_sell: bool = True
    market_orders: bool = False
    phi: float = 0.0
    alpha: float = 0.0
    exponent: float = 2.0  # p of the penalties φ|q|^p dt, α|q|^p
    gamma: float = 0.0  # > 0: CARA utility (phi and alpha unused, as in the environment)
    sigma: float = 0.0
    drift: float = 0.0
    jump: tuple[float, float] = (0.0, 0.0)  # mid move per [sell, buy] market order: -ξ⁻, +ξ⁺

    def __post_init__(self):
        if self.q_max < self.q_min:
            raise ValueError(f"q_max={self.q_max} must be >= q_min={self.q_min}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if self.kappa is not None and not self.kappa > 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if any(self.jump) and self.gamma > 0 and self.kappa is not None and self.min_depth < 0:
            raise ValueError("jumps need min_depth >= 0 (a fill must imply an arrival)")

    @property
    def inventories(self) -> np.ndarray:
        return np.arange(self.q_min, self.q_max + 1, dtype=np.float64)

    @property
    def touch(self) -> bool:
        return self.kappa is None

    @property
    def risk_averse(self) -> bool:
        return self.gamma > 0


@dataclasses.dataclass(frozen=True)
class DiscreteSolution:
    """Optimal actions on steps 0..N-1 and values on 0..N, per inventory q_min..q_max.

    `value` is the expected rest-of-episode return (risk neutral) or its certainty equivalent
    (CARA). Depths are +inf where a side may not quote; `post_*` say whether a quote rests (at the
    touch: whether to post). Rows are the inventory *before* the step's market order.
    """

    market: DiscreteMarket
    value: np.ndarray  # (N + 1, L)
    bid_depth: np.ndarray  # (N, L)
    ask_depth: np.ndarray
    post_bid: np.ndarray  # bool (N, L)
    post_ask: np.ndarray
    buy_market_order: np.ndarray  # bool (N, L)
    sell_market_order: np.ndarray

    def value_at(self, q: float, n: int = 0) -> float:
        return float(self.value[n, int(round(q)) - self.market.q_min])


def _side_masks(m: DiscreteMarket) -> tuple[np.ndarray, np.ndarray]:
    """Whether a bid (q -> q+1) / an ask (q -> q-1) may rest at each grid inventory."""
    q = m.inventories
    bid = (q + 1 <= m.upper) & (q < m.q_max) & m.may_buy
    ask = (q - 1 >= m.lower) & (q > m.q_min) & m.may_sell
    return bid, ask


def _shift(v: np.ndarray, k: int, fill: float) -> np.ndarray:
    """v(q + k) on the grid (`fill` beyond it; only read where barred)."""
    out = np.full_like(v, fill)
    if k > 0:
        out[:-k] = v[k:]
    elif k < 0:
        out[-k:] = v[:k]
    else:
        out[:] = v
    return out


def _probability(c: np.ndarray, kappa: float, depth: np.ndarray) -> np.ndarray:
    return np.minimum(c * np.exp(-kappa * depth), 1.0)


def _clip_depth(free: np.ndarray, c: np.ndarray, m: DiscreteMarket) -> np.ndarray:
    """The free optimum clipped to where the fill probability reaches 1 and to the action space."""
    with np.errstate(divide="ignore"):
        certain = np.log(c) / m.kappa  # below this depth the probability is capped at 1
    return np.clip(np.maximum(free, certain), m.min_depth, m.max_depth)


def _best_posting(score, bid_ok, ask_ok):
    """(best score, post bid, post ask) over the four post-or-not choices at the touch; a side
    that may not quote never posts."""
    best = post_bid = post_ask = None
    for post_b in (True, False):
        for post_a in (True, False):
            value = score(post_b, post_a)
            if best is None:
                best = value
                post_bid, post_ask = np.full(value.shape, post_b), np.full(value.shape, post_a)
                continue
            better = value > best
            best = np.where(better, value, best)
            post_bid, post_ask = (
                np.where(better, post_b, post_bid),
                np.where(better, post_a, post_ask),
            )
    return best, post_bid & bid_ok, post_ask & ask_ok


def _touch_depths(m: DiscreteMarket, post_bid, post_ask):
    """The half-spread where a quote is posted, +inf where not."""
    return np.where(post_bid, m.half_spread, np.inf), np.where(post_ask, m.half_spread, np.inf)


# --------------------------------------------------------------------------- risk neutral


def _quotes_risk_neutral(m: DiscreteMarket, g: np.ndarray, bid_ok, ask_ok):
    """Best quotes at each inventory given g(q') = -φ q'² dt + v_{n+1}(q') after the fills.

    Returns (value, bid depth, ask depth, post bid, post ask)."""
    g_up, g_down = _shift(g, 1, 0.0), _shift(g, -1, 0.0)
    cb = m.arrival_prob[0] * bid_ok
    ca = m.arrival_prob[1] * ask_ok
    if m.touch:

        def score(post_b, post_a):
            pb, pa = cb * post_b, ca * post_a
            return _expected(g, g_up, g_down, pb, pa, m.half_spread, m.half_spread)

        value, post_bid, post_ask = _best_posting(score, bid_ok, ask_ok)
        return (value, *_touch_depths(m, post_bid, post_ask), post_bid, post_ask)
    inv_kappa = 1.0 / m.kappa
    pa = np.zeros_like(g)
    pb = np.zeros_like(g)
    bid = ask = np.zeros_like(g)
    for _ in range(COORDINATE_ROUNDS):
        bid = _clip_depth(inv_kappa - ((1 - pa) * (g_up - g) + pa * (g - g_down)), cb, m)
        pb = _probability(cb, m.kappa, bid)
        ask = _clip_depth(inv_kappa - ((1 - pb) * (g_down - g) + pb * (g - g_up)), ca, m)
        pa = _probability(ca, m.kappa, ask)
    value = _expected(g, g_up, g_down, pb, pa, bid, ask)
    return value, np.where(bid_ok, bid, np.inf), np.where(ask_ok, ask, np.inf), bid_ok, ask_ok


def _expected(g, g_up, g_down, pb, pa, bid, ask):
    """E[fill cash + g(q')] with independent bid (prob pb) and ask (prob pa) fills."""
    both = pb * pa
    gain = pb * np.where(pb > 0, bid, 0.0) + pa * np.where(pa > 0, ask, 0.0)
    return gain + (1 - pb - pa + 2 * both) * g + (pb - both) * g_up + (pa - both) * g_down


# --------------------------------------------------------------------------- CARA


def _logsumexp(terms: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(terms)
    top = np.max(stack, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return top + np.log(np.sum(np.exp(stack - top), axis=0))


def _log(x) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


class _CaraSides:
    """log E[exp(-γ · this step's cash and jumps) w(q')] over the outcomes of both sides.

    A side's outcome is fill (the arrival that fills us), arrival without a fill (it moves the mid
    when there are jumps) or nothing; without jumps the last two are one outcome."""

    def __init__(self, m: DiscreteMarket, log_g: np.ndarray):
        self.m = m
        self.log_g = {k: _shift(log_g, k, -np.inf) for k in (-1, 0, 1)}
        self.q = m.inventories

    def outcomes(self, side: int, p, depth):
        """[(log probability, q shift, log factor from cash, mid jump)] for side 0 (bid) / 1; the
        market order arrives whether or not we quote (a barred side only never fills)."""
        m = self.m
        c = m.arrival_prob[side]
        sign, jump = (1, -m.jump[0]) if side == 0 else (-1, m.jump[1])
        fill_cash = -m.gamma * np.where(p > 0, depth, 0.0)
        if any(m.jump):
            return [
                (_log(p), sign, fill_cash, jump),
                (_log(np.maximum(c - p, 0.0)), 0, 0.0, jump),
                (_log(1 - c), 0, 0.0, 0.0),
            ]
        return [(_log(p), sign, fill_cash, 0.0), (_log(1 - p), 0, 0.0, 0.0)]

    def term(self, shift, jumps):
        """log[exp(-γ q' J) w-factor(q')] for q' = q + shift, J the step's mid jumps."""
        q_after = self.q + shift
        return -self.m.gamma * q_after * jumps + self.log_g[shift]

    def given(self, side: int, own, other):
        """log of the conditional factor given one outcome `own` of `side`, summed over the other."""
        _, own_shift, own_cash, own_jump = own
        terms = []
        for log_p, shift, cash, jump in other:
            terms.append(log_p + cash + own_cash + self.term(own_shift + shift, own_jump + jump))
        return _logsumexp(terms)

    def total(self, bid_out, ask_out):
        terms = []
        for lb, sb, cb_, jb in bid_out:
            for la, sa, ca_, ja in ask_out:
                terms.append(lb + la + cb_ + ca_ + self.term(sb + sa, jb + ja))
        return _logsumexp(terms)


def _quotes_cara(m: DiscreteMarket, log_g: np.ndarray, bid_ok, ask_ok):
    """Best quotes under CARA given log_g(q') = log E[exp(-γ Q' dW-part)] + log w_{n+1}(q')."""
    sides = _CaraSides(m, log_g)
    cb = m.arrival_prob[0] * bid_ok
    ca = m.arrival_prob[1] * ask_ok
    half = np.full_like(log_g, m.half_spread)
    if m.touch:

        def score(post_b, post_a):  # maximise -log w
            pb, pa = cb * post_b, ca * post_a
            return -sides.total(sides.outcomes(0, pb, half), sides.outcomes(1, pa, half))

        neg_value, post_bid, post_ask = _best_posting(score, bid_ok, ask_ok)
        return (-neg_value, *_touch_depths(m, post_bid, post_ask), post_bid, post_ask)
    constant = math.log1p(m.gamma / m.kappa)
    bid = ask = np.full_like(log_g, m.max_depth)
    pb, pa = np.zeros_like(log_g), np.zeros_like(log_g)
    jumps = any(m.jump)
    for _ in range(COORDINATE_ROUNDS):
        ask_out = sides.outcomes(1, pa, ask)
        fill_b = sides.given(0, (0.0, 1, 0.0, -m.jump[0]), ask_out)
        miss_b = sides.given(0, (0.0, 0, 0.0, -m.jump[0] if jumps else 0.0), ask_out)
        free = np.where(bid_ok, (constant + fill_b - miss_b) / m.gamma, m.max_depth)
        bid = _clip_depth(free, cb, m)
        pb = _probability(cb, m.kappa, bid)
        bid_out = sides.outcomes(0, pb, bid)
        fill_a = sides.given(1, (0.0, -1, 0.0, m.jump[1]), bid_out)
        miss_a = sides.given(1, (0.0, 0, 0.0, m.jump[1] if jumps else 0.0), bid_out)
        free = np.where(ask_ok, (constant + fill_a - miss_a) / m.gamma, m.max_depth)
        ask = _clip_depth(free, ca, m)
        pa = _probability(ca, m.kappa, ask)
    value = sides.total(sides.outcomes(0, pb, bid), sides.outcomes(1, pa, ask))
    return value, np.where(bid_ok, bid, np.inf), np.where(ask_ok, ask, np.inf), bid_ok, ask_ok


# --------------------------------------------------------------------------- the recursion


def solve(m: DiscreteMarket) -> DiscreteSolution:
    """Backward recursion over the steps; see the module docstring."""
    q = m.inventories
    levels = q.size
    n_steps = m.num_steps
    bid_ok, ask_ok = _side_masks(m)
    buy_ok = (q + 1 <= m.upper) & (q < m.q_max) & m.may_buy & m.market_orders
    sell_ok = (q - 1 >= m.lower) & (q > m.q_min) & m.may_sell & m.market_orders
    value = np.empty((n_steps + 1, levels))
    depths = {side: np.empty((n_steps, levels)) for side in ("bid", "ask")}
    flags = {
        name: np.empty((n_steps, levels), bool) for name in ("post_bid", "post_ask", "buy", "sell")
    }
    if m.risk_averse:
        current = np.zeros(levels)  # log w_N
        value[n_steps] = 0.0
        diffusion = -m.gamma * m.drift * m.dt * q + 0.5 * (m.gamma * m.sigma) ** 2 * m.dt * q**2
        mo_cost = m.gamma * m.half_spread  # log factor of paying the half-spread
    else:
        held = np.abs(q) ** m.exponent
        current = -m.alpha * held
        value[n_steps] = current
        mo_cost = m.half_spread
    for n in range(n_steps - 1, -1, -1):
        if m.risk_averse:
            quoted = _quotes_cara(m, diffusion + current, bid_ok, ask_ok)
            sign = -1.0  # minimise log w
        else:
            g = m.drift * m.dt * q - m.phi * m.dt * held + current
            quoted = _quotes_risk_neutral(m, g, bid_ok, ask_ok)
            sign = 1.0
        quote_value, bid, ask, post_bid, post_ask = quoted
        # market orders: row q may move to q - 1 (sell) or q + 1 (buy) first, paying the half-spread
        score = sign * quote_value
        sell_score = np.where(sell_ok, sign * _shift(quote_value, -1, 0.0) - mo_cost, -np.inf)
        buy_score = np.where(buy_ok, sign * _shift(quote_value, 1, 0.0) - mo_cost, -np.inf)
        sell = sell_score > score
        buy = (buy_score > score) & (buy_score > sell_score)
        sell &= ~buy
        best = np.where(buy, buy_score, np.where(sell, sell_score, score))
        current = sign * best
        source = np.where(buy, 1, np.where(sell, -1, 0))
        index = np.arange(levels) + source
        depths["bid"][n], depths["ask"][n] = bid[index], ask[index]
        flags["post_bid"][n], flags["post_ask"][n] = post_bid[index], post_ask[index]
        flags["buy"][n], flags["sell"][n] = buy, sell
        value[n] = -current / m.gamma if m.risk_averse else current
    return DiscreteSolution(
        market=m,
        value=value,
        bid_depth=depths["bid"],
        ask_depth=depths["ask"],
        post_bid=flags["post_bid"],
        post_ask=flags["post_ask"],
        buy_market_order=flags["buy"],
        sell_market_order=flags["sell"],
    )


# --------------------------------------------------------------------------- trading speed


@dataclasses.dataclass(frozen=True)
class SpeedProblem:
    """Trading at speed ν with linear temporary (k) and permanent (b) impact, in steps of dt.

    Per step the environment sells s = ν dt at S - k ν, the mid moves by -b s (plus noise of mean
    0), and pays φ Q_{n+1}² dt; at the end -α Q_N². Selling s from q is worth
    -k s²/dt - b s (q - s) - φ dt (q - s)² + v_{n+1}(q - s): v_n(q) = -a_n q², exactly quadratic.
    """

    num_steps: int
    dt: float
    temporary: float
    permanent: float
    phi: float
    alpha: float


def solve_speed(p: SpeedProblem) -> tuple[np.ndarray, np.ndarray]:
    """(a, g): v_n(q) = -a_n q² (n = 0..N) and the optimal sale s_n = g_n q_n (n = 0..N-1)."""
    a = np.empty(p.num_steps + 1)
    g = np.empty(p.num_steps)
    a[p.num_steps] = p.alpha
    k, b, c = p.temporary / p.dt, p.permanent, p.phi * p.dt
    for n in range(p.num_steps - 1, -1, -1):
        curvature = k - b + c + a[n + 1]  # of -(...) s² in the objective
        if not curvature > 0:
            raise ValueError("solve_speed: the one-step objective is not concave (k/dt <= b)")
        g[n] = (2 * (c + a[n + 1]) - b) / (2 * curvature)
        s = g[n]
        a[n] = k * s**2 + b * s * (1 - s) + (c + a[n + 1]) * (1 - s) ** 2
    return a, g
