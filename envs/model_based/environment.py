"""One gymnax environment that runs any combination of model-based market components.

A market is (mid-price model, arrival model, fill model, price impact, action type, reward), each
a frozen dataclass implementing its interface in `components` (static, hashable); every number
lives in `EnvParams`, so params can be vmapped for sweeps and domain randomisation. The
environment object is static configuration plus the params `make` returned (`default_params`),
and compares equal only to one with the same configuration and the same default params.

Order of events within a step of length dt (all at the start-of-step mid S_t):
1. the agent's market orders (one unit, at S_t -/+ half_spread), within the inventory bounds
   (+-max_inventory; for a one-way execution programme, also never through zero);
2. trading at speed nu (execution price S_t + impact shift), clipped to the inventory bounds;
3. market orders of other traders arrive and fill our live quotes (at S_t -/+ depth); a quote on a
   side where one more fill would pass +-max_inventory is withdrawn for the step;
4. the mid moves by dS (including the permanent/transient impact of our trading), and a fill
   model with a state (the exogenous market maker's quotes) takes its step.
pnl = (cash gained relative to S_t) + Q_{t+1} dS exactly equals the change of X + Q S, computed from
increments so float32 keeps its accuracy. The horizon T is the end of the problem: the last step
(time = max_steps_in_episode) is terminated (gymnax's time limit also marks it truncated).

Reset: the initial inventory is q0 plus an integer offset uniform on the width's range
(`initial_inventory_width`: w, or a pair (below, above)) cut to the inventory bounds (so a
liquidation never starts short, and no probability piles on a bound); with `max_start_time` > 0
the episode starts at a step drawn uniformly from those within [0, max_start_time] (mbt_gym's
random start time), and runs to T. The observation is (cash, inventory, time, the mid-price
model's features, the arrival model's, the impact model's, the fill model's); `obs_index` names
them.

`info` of every step: `info[envs.metrics.METRICS]`, a `StepMetrics` record, plus the model's own
extras "arrivals" (2,) market orders that arrived [sells, buys], "cash" (), "midprice" () after
the step, and "arrival_prob_clipped" () bool (an intensity times dt above 1 this step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from envs.metrics import METRICS, step_metrics
from envs.model_based.actions import LimitQuotes
from envs.model_based.arrivals import NoArrivals
from envs.model_based.components import (
    ActionType,
    ArrivalModel,
    FillModel,
    MidPriceModel,
    PriceImpact,
    Reward,
)
from envs.model_based.draws import draw, real_dtype
from envs.model_based.fingerprint import fingerprint
from envs.model_based.impact import ImpactParams, ImpactState, no_impact_state
from envs.model_based.midprice import BIG
from envs.model_based.rewards import RewardParams, RunningInventoryPenalty


@struct.dataclass
class EnvParams:
    """Every numeric setting of a model-based market (traced; vmappable)."""

    midprice: Any
    arrivals: Any
    fill: Any
    impact: ImpactParams = ImpactParams()
    reward: RewardParams = RewardParams()
    terminal_time: float = 1.0
    max_steps_in_episode: int = 200
    initial_cash: float = 0.0
    initial_inventory: float = 0.0
    # > 0: initial inventory uniform on the integers q0 + {-w, ..., w} that lie within the
    # inventory bounds (a pair (below, above): q0 + {-below, ..., above}, mbt_gym's range)
    initial_inventory_width: Any = 0
    max_inventory: float = 1000.0
    max_depth: float = 3.0  # upper bound of depth actions
    min_depth: float = 0.0  # lower bound of depth actions (negative: quotes through the mid)
    half_spread: float = (
        0.01  # best quotes' distance from mid: touch quotes earn it, market orders pay it
    )
    max_speed: float = 10.0  # bound of trading-speed actions
    execution_side: float = 0.0  # 0: trade both ways; +1: sell only (liquidation); -1: buy only
    max_start_time: float = 0.0  # > 0: episodes start at a uniform step time in [0, this]


@struct.dataclass
class EnvState:
    cash: jax.Array
    inventory: jax.Array
    time: jax.Array  # int32 step counter
    start_time: jax.Array  # int32 step at which the episode started (0 unless max_start_time)
    episode_pnl: jax.Array  # Y_t - Y_0, accumulated from increments
    midprice: Any
    arrivals: Any
    impact: ImpactState
    fill: Any = None  # the fill model's state (None for a model without one)


def inventory_bounds(params: EnvParams) -> tuple[jax.Array, jax.Array]:
    """(lower, upper) inventory bounds: +-max_inventory, and 0 on the far side of an execution
    programme (a liquidation never goes short, an acquisition never long)."""
    max_q = params.max_inventory
    upper = jnp.where(params.execution_side < -0.5, 0.0, max_q)
    lower = jnp.where(params.execution_side > 0.5, 0.0, -max_q)
    return lower, upper


def _uniform_below(bits: jax.Array, n) -> jax.Array:
    """bits mod n: uniform on {0, ..., n - 1} (n is small: the modulo bias is below n / 2^32)."""
    return bits % jnp.asarray(n).astype(jnp.uint32)


def _require_component(name: str, value: Any, interface: type) -> None:
    if not isinstance(value, interface):
        raise ValueError(f"{name}: {value!r} does not implement {interface.__name__}")


@dataclass(frozen=True)
class MarketConfig:
    """The static, shape-defining choice of components (checked to fit together)."""

    midprice: MidPriceModel
    arrivals: ArrivalModel = field(default_factory=NoArrivals)
    fill: FillModel | None = None
    impact: PriceImpact | None = None
    action: ActionType = field(default_factory=LimitQuotes)
    reward: Reward = field(default_factory=RunningInventoryPenalty)
    normalize_obs: bool = False

    def __post_init__(self):
        _require_component("midprice", self.midprice, MidPriceModel)
        _require_component("arrivals", self.arrivals, ArrivalModel)
        _require_component("action", self.action, ActionType)
        _require_component("reward", self.reward, Reward)
        if self.fill is not None:
            _require_component("fill", self.fill, FillModel)
        if self.impact is not None:
            _require_component("impact", self.impact, PriceImpact)
        if self.action.needs_fill and self.fill is None:
            raise ValueError(f"fill: action type {self.action.name!r} needs a fill model")
        if self.action.needs_impact and self.impact is None:
            raise ValueError(f"impact: action type {self.action.name!r} needs a price impact model")


class ModelBasedMarket(environment.Environment):
    """gymnax environment for a model-based market; see the module docstring for the dynamics.

    Implements `envs.interfaces.Market` and `envs.interfaces.BatchStepper`."""

    def __init__(self, config: MarketConfig, default_params: EnvParams, name: str | None = None):
        super().__init__()
        self.config = config
        self._default_params = default_params
        self._name = name
        # Identity (gymnax's jit cache key): configuration *and* default params.
        self._identity = (name, config, fingerprint(default_params))
        self._hash = hash(self._identity)
        names = [
            "cash",
            "inventory",
            "time",
            *config.midprice.obs_names,
            *config.arrivals.obs_names,
            *(config.impact.obs_names if config.impact is not None else ()),
            *(config.fill.obs_names if config.fill is not None else ()),
        ]
        self.obs_index: dict[str, int] = {n: i for i, n in enumerate(names)}
        self.obs_size = len(names)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelBasedMarket) and self._identity == other._identity

    def __repr__(self) -> str:
        return f"ModelBasedMarket({self.name!r}, params {self._identity[2][:12]})"

    @property
    def name(self) -> str:
        return self._name or "ModelBasedMarket"

    @property
    def action_type(self) -> str:
        """The action type's short name ("limit", "touch", ..., "trading_speed")."""
        return self.config.action.name

    @property
    def penalised(self) -> bool:
        """Whether the reward charges running / terminal inventory penalties."""
        return self.config.reward.penalised

    @property
    def default_params(self) -> EnvParams:
        return self._default_params

    # -- dynamics
    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        c = self.config
        # One generator call for both draws (gymnax's auto-reset runs this on every step); where
        # the ranges are constants of one value each, XLA folds the draw away entirely.
        bits = jax.random.bits(key, (2,), jnp.uint32)
        lower, upper = inventory_bounds(params)
        q0 = jnp.asarray(params.initial_inventory, real_dtype())
        # Uniform on the integer offsets within both the width and the inventory bounds (never
        # piling the mass of out-of-range offsets on a bound; never short in a sell programme).
        below, above = jnp.broadcast_to(jnp.asarray(params.initial_inventory_width), (2,))
        low = jnp.maximum(-below, jnp.ceil(lower - q0))
        high = jnp.minimum(above, jnp.floor(upper - q0))
        offset = low + _uniform_below(bits[0], high - low + 1.0).astype(real_dtype())
        dt = params.terminal_time / params.max_steps_in_episode
        last_start = jnp.floor(params.max_start_time / dt + 1e-6)
        start = _uniform_below(bits[1], last_start + 1.0).astype(jnp.int32)
        impact = c.impact.init(params.impact) if c.impact is not None else no_impact_state()
        state = EnvState(
            cash=jnp.asarray(params.initial_cash, real_dtype()),
            inventory=q0 + offset,
            time=start,
            start_time=start,
            episode_pnl=jnp.zeros((), real_dtype()),
            midprice=c.midprice.init(params.midprice),
            arrivals=c.arrivals.init(params.arrivals),
            fill=c.fill.init(params.fill) if c.fill is not None else None,
            impact=impact,
        )
        return self.get_obs(state, params), state

    @property
    def num_random(self) -> tuple[int, int]:
        """(uniforms, normals) one step consumes."""
        c = self.config
        fill_normals = c.fill.num_normals if c.fill is not None else 0
        return c.arrivals.num_uniforms, c.midprice.num_normals + fill_normals

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        if self.config.arrivals.exact_counts:
            key, count_key = jax.random.split(key)
        else:
            count_key = key  # unused
        uniforms, normals = draw(key, *self.num_random)
        return self.transition(state, action, params, uniforms, normals, count_key)

    def batch_step_env(self, key, state: EnvState, action, params: EnvParams):
        """`step_env` for a batch of environments (leading axis of `state` and `action`) from one
        key: every random number of the batch in one generator call, then a vmapped `transition`
        (a third of the hashing of one key per environment). Same distribution as vmapping
        `step_env` over split keys; results for a key depend on the batch size."""
        n = state.time.shape[0]
        exact = self.config.arrivals.exact_counts
        count_keys = None
        if exact:
            key, count_key = jax.random.split(key)
            count_keys = jax.random.split(count_key, n)
        uniforms, normals = draw(key, *self.num_random, (n,))
        transition = jax.vmap(self.transition, in_axes=(0, 0, None, 1, 1, 0 if exact else None))
        return transition(state, action, params, uniforms, normals, count_keys)

    def transition(self, state: EnvState, action, params: EnvParams, uniforms, normals, count_key):
        """The step given its random numbers (`num_random` of them); `count_key` is used only by
        arrival models with exact Poisson counts."""
        c = self.config
        dt = params.terminal_time / params.max_steps_in_episode
        orders, invalid = c.action.decode(action, params)
        mid = state.midprice.price

        # An execution programme trades one way only, and never through zero: a liquidation
        # neither bids nor buys and stops at 0 (an acquisition, mirrored).
        may_buy = params.execution_side < 0.5
        may_sell = params.execution_side > -0.5
        lower, upper = inventory_bounds(params)

        # 1. our market orders, one unit each, within the inventory bounds
        buy = orders.market[0] * (state.inventory + 1.0 <= upper) * may_buy
        q = state.inventory + buy
        sell = orders.market[1] * (q - 1.0 >= lower) * may_sell
        q = q - sell
        cash_vs_mid = -params.half_spread * (buy + sell)

        # 2. trading at speed nu (selling), clipped so inventory stays within bounds
        impact_state, impact_drift = state.impact, jnp.zeros((), real_dtype())
        sold_by_speed = jnp.zeros((), real_dtype())
        if c.impact is not None:
            sold_by_speed = jnp.clip(orders.speed * dt, q - upper, q - lower)
            impact_state, shift, impact_drift = c.impact.step(
                state.impact, params.impact, dt, sold_by_speed / dt
            )
            cash_vs_mid = cash_vs_mid + sold_by_speed * shift
            q = q - sold_by_speed

        # 3. other traders' market orders fill our live quotes
        can_fill = jnp.stack([(q + 1.0 <= upper) & may_buy, (q - 1.0 >= lower) & may_sell])
        quoted = orders.quoted & can_fill
        fill_prob = c.action.fill_probability(c.fill, params.fill, orders, quoted, state.fill)
        arrivals_state, arrivals, fills, clipped = c.arrivals.step(
            count_key, state.arrivals, params.arrivals, dt, uniforms, fill_prob
        )
        q = q + fills[0] - fills[1]
        cash_vs_mid = cash_vs_mid + fills[0] * orders.depths[0] + fills[1] * orders.depths[1]
        cash = state.cash + mid * (state.inventory - q) + cash_vs_mid

        # 4. the mid moves
        midprice_state, dmid = c.midprice.step(
            state.midprice, params.midprice, dt, normals, arrivals, impact_drift
        )
        fill_state = state.fill
        if c.fill is not None and c.fill.num_normals:
            first = c.midprice.num_normals
            fill_normals = normals[first : first + c.fill.num_normals]
            fill_state = c.fill.step(state.fill, params.fill, dt, fill_normals)
        pnl = cash_vs_mid + q * dmid
        time = state.time + 1
        is_last = time >= params.max_steps_in_episode
        is_first = state.time == state.start_time
        running, terminal = c.reward.penalties(
            params.reward, q, state.inventory, dt, is_first, is_last
        )
        episode_pnl = state.episode_pnl + pnl
        reward = c.reward.reward(params.reward, pnl, episode_pnl, running, terminal, is_last)

        new_state = EnvState(
            cash=cash,
            inventory=q,
            time=time,
            start_time=state.start_time,
            episode_pnl=episode_pnl,
            midprice=midprice_state,
            arrivals=arrivals_state,
            fill=fill_state,
            impact=impact_state,
        )
        both = quoted[0] & quoted[1]
        metrics = step_metrics(
            pnl,
            fills,
            q,
            inventory_penalty=running,
            terminal_penalty=terminal,
            market_orders=jnp.stack([buy, sell])
            + jnp.stack([jnp.maximum(-sold_by_speed, 0.0), jnp.maximum(sold_by_speed, 0.0)]),
            quoted=quoted,
            spread=jnp.where(both, orders.depths[0] + orders.depths[1], 0.0),
            invalid_action=invalid,
        )
        info = {
            METRICS: metrics,
            "arrivals": arrivals,
            "cash": cash,
            "midprice": midprice_state.price,
            "arrival_prob_clipped": clipped,
        }
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, is_last, info

    # -- observation
    def raw_observation(self, state: EnvState, params: EnvParams) -> jax.Array:
        c = self.config
        t = state.time * (params.terminal_time / params.max_steps_in_episode)
        head = jnp.stack([state.cash, state.inventory, t]).astype(real_dtype())
        parts = [head, c.midprice.observe(state.midprice), c.arrivals.observe(state.arrivals)]
        if c.impact is not None:
            parts.append(c.impact.observe(state.impact))
        if c.fill is not None:
            parts.append(c.fill.observe(state.fill))
        return jnp.concatenate(parts).astype(real_dtype())

    def _normalisation(self, params: EnvParams) -> tuple[jax.Array, jax.Array]:
        c = self.config
        half_t = params.terminal_time / 2.0
        scale_cash = jnp.maximum(params.midprice.initial_price * params.max_inventory, 1.0)
        centre = jnp.stack([params.initial_cash, 0.0, half_t])
        scale = jnp.stack([scale_cash, params.max_inventory, half_t])
        mc, ms = c.midprice.obs_normalisation(params.midprice, params.terminal_time)
        ac, as_ = c.arrivals.obs_normalisation(params.arrivals)
        ic, is_ = self._impact_part("obs_normalisation", params)
        fc, fs = self._fill_part("obs_normalisation", params)
        return (
            jnp.concatenate([centre, mc, ac, ic, fc]).astype(real_dtype()),
            jnp.concatenate([scale, ms, as_, is_, fs]).astype(real_dtype()),
        )

    def _fill_part(self, method: str, params: EnvParams) -> tuple[jax.Array, jax.Array]:
        fill = self.config.fill
        if fill is None:
            return jnp.zeros((0,)), jnp.zeros((0,))
        return getattr(fill, method)(params.fill)

    def _impact_part(self, method: str, params: EnvParams) -> tuple[jax.Array, jax.Array]:
        impact = self.config.impact
        if impact is None:
            return jnp.zeros((0,)), jnp.zeros((0,))
        return getattr(impact, method)(params.impact)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        params = self.default_params if params is None else params
        obs = self.raw_observation(state, params)
        if self.config.normalize_obs:
            centre, scale = self._normalisation(params)
            obs = (obs - centre) / scale
        return obs

    def unnormalize_obs(self, obs: jax.Array, params: EnvParams) -> jax.Array:
        """The raw observation (cash, inventory, time, ...) from what `get_obs` returned."""
        if not self.config.normalize_obs:
            return obs
        centre, scale = self._normalisation(params)
        return obs * scale + centre

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """The horizon T ends the problem (the terminal payoff is paid on that step)."""
        return state.time >= params.max_steps_in_episode

    # -- spaces
    def action_space(self, params: EnvParams | None = None) -> spaces.Space:
        return self.config.action.space(self.default_params if params is None else params)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        params = self.default_params if params is None else params
        c = self.config
        ml, mh = c.midprice.obs_bounds(params.midprice)
        al, ah = c.arrivals.obs_bounds(params.arrivals)
        il, ih = self._impact_part("obs_bounds", params)
        fl, fh = self._fill_part("obs_bounds", params)
        mq = params.max_inventory
        low = jnp.concatenate([jnp.stack([-BIG, -mq, 0.0]), ml, al, il, fl]).astype(real_dtype())
        high = jnp.concatenate([jnp.stack([BIG, mq, params.terminal_time]), mh, ah, ih, fh]).astype(
            real_dtype()
        )
        if c.normalize_obs:
            centre, scale = self._normalisation(params)
            low, high = (low - centre) / scale, (high - centre) / scale
        return spaces.Box(low, high, (self.obs_size,), real_dtype())

    @property
    def num_actions(self) -> int:
        return self.config.action.size
