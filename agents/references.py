"""Which agent each model-based preset is compared with, and how far it is from the optimum.

A preset's reference is "optimal" when it is the exact optimum of the environment's own
discrete-time steps (`discrete_optimal`, a backward recursion over (step, inventory)), checked
against an independent recursion in `tests/agents/test_discrete_optimum.py`; it is a "baseline"
where no exact optimum is computable with a (step, inventory) table (Hawkes arrivals and alpha
signals add continuous state). `gap` is (V* - V)/|V*| at the preset's default params, V* the exact
discrete optimum and V the agent's exact value (CARA: certainty equivalents), computed by the
recursion of that test (`GAP_COMMAND` prints them); None where V* is unknown. `textbook` is the
literature's agent for the market, kept under its own name, with its gap.
"""

from __future__ import annotations

from dataclasses import dataclass

GAP_COMMAND = "python -m pytest -q -s tests/agents/test_discrete_optimum.py"
OPTIMAL, BASELINE = "optimal", "baseline"


@dataclass(frozen=True)
class Reference:
    """The agent a preset's returns are compared with."""

    env: str
    agent: str
    kind: str  # OPTIMAL or BASELINE
    gap: float | None  # relative gap to the exact discrete optimum (None: not computable)
    textbook: str | None = None  # the literature's agent for this market
    textbook_gap: float | None = None
    note: str = ""


def _optimal(env: str, textbook: str | None, textbook_gap: float | None, note: str = ""):
    return Reference(env, "discrete_optimal", OPTIMAL, 0.0, textbook, textbook_gap, note)


def _baseline(env: str, agent: str, note: str) -> Reference:
    return Reference(env, agent, BASELINE, None, agent, None, note)


_HAWKES = "Hawkes arrivals: the intensities are state the (step, inventory) recursion lacks"
_ALPHA = "an alpha signal and Hawkes arrivals add continuous state; no exact optimum computed"

# Gaps measured with GAP_COMMAND (exact recursions, no Monte Carlo); the optimal references' own
# gaps are within the independent recursion's search tolerance (|gap| < 1e-7), stated as 0.
REFERENCES: dict[str, Reference] = {
    r.env: r
    for r in (
        _optimal(
            "avellaneda_stoikov",
            "avellaneda_stoikov",
            0.0377,
            "AS 2008's asymptotic quotes: certainty equivalent 62.787 vs the optimum's 65.248 "
            "(γ=0.1); GLFT's continuous-time quotes are 1.8e-4 below",
        ),
        _baseline(
            "avellaneda_stoikov_hawkes",
            "glft",
            f"{_HAWKES}; GLFT's quotes at the stationary mean intensity 140",
        ),
        _optimal(
            "cartea_jaimungal_mm",
            "cartea_jaimungal_mm",
            2.5e-5,
            "CJP §10.2's continuous-time depths: 0.2061631 vs the optimum's 0.2061682",
        ),
        _optimal(
            "cartea_jaimungal_touch",
            "cartea_jaimungal_touch",
            0.0,
            "CJP §10.2.2's finite-difference solution posts exactly like the optimum here",
        ),
        _optimal(
            "cj_execution_lo_mo",
            "limit_market_liquidation",
            0.0171,
            "CJP §8.4's QVI allows any number of market orders at an instant; the market "
            "executes at most one per step: 0.110324 vs the optimum's 0.112240 at q0=10",
        ),
        _optimal(
            "cj_execution_speed",
            "cartea_jaimungal_execution",
            5.8e-7,
            "CJP §6.5's continuous-time speed on the 300-step grid",
        ),
        _baseline("cjr14", "cartea_jaimungal_mm", f"{_ALPHA}; CJP §10.2 at the mean intensity"),
        _baseline(
            "cjr14_touch", "cartea_jaimungal_touch", f"{_ALPHA}; CJP §10.2.2 at the mean intensity"
        ),
        _baseline("cjr14_utility", "glft", f"{_ALPHA}; GLFT's quotes at the mean intensity"),
        _optimal(
            "glft_jump",
            "glft",
            5.9e-6,
            "the optimum solves with the market-order jumps of the mid; GLFT ignores them (gap over "
            "all 600 steps: the README's command; the test checks 100 of them)",
        ),
        _optimal("market", None, None, "the plain composition (no penalties: δ = 1/κ is optimal)"),
    )
}


def reference_for(env_name: str) -> Reference | None:
    """The preset's reference, or None for a market without one (replay markets, gymnax's)."""
    return REFERENCES.get(env_name)
