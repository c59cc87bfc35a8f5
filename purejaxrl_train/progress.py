"""Progress lines printed on the host from inside the compiled training program.

The trainer calls the printer through `jax.debug.callback` every `log_interval` updates (and at
every live evaluation) with (update, mean episode return, episodes, member, greedy evaluation
return, stochastic evaluation return), the last two NaN where no evaluation was due. Under `vmap`
(sweeps) each member calls it separately; the printer waits until every member has reported an
update, then prints one line with the members' mean. A negative member is padding (a sweep spread
over devices) and is ignored. Steps per second are measured between printed lines on the host's
clock; `start(update)` sets where a resumed run begins.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict


class ProgressPrinter:
    """Callable progress sink; `start()` right before running the compiled program."""

    def __init__(
        self,
        num_updates: int,
        steps_per_update: int,
        members: int = 1,
        reference_return: float | None = None,
        reference_name: str = "optimal",
        stream=None,
    ):
        self.num_updates = num_updates
        self.steps_per_update = steps_per_update
        self.members = members
        self.reference_return = reference_return
        self.reference_name = reference_name
        self.stream = stream if stream is not None else sys.stdout
        self.lines: list[str] = []
        self._pending: dict[int, list[tuple]] = defaultdict(list)
        self._last = (0, time.perf_counter())

    def start(self, update: int = 0) -> None:
        """Call right before the program runs; `update`: updates already done (a resumed run)."""
        self._last = (update * self.steps_per_update * self.members, time.perf_counter())

    def __call__(
        self,
        update,
        episode_return,
        episodes,
        member,
        eval_return=math.nan,
        eval_stochastic=math.nan,
    ) -> None:
        if int(member) < 0:
            return
        update = int(update)
        reports = self._pending[update]
        reports.append(
            (float(episode_return), int(episodes), float(eval_return), float(eval_stochastic))
        )
        if len(reports) < self.members:
            return
        del self._pending[update]
        self._print(update, reports)

    def _print(self, update: int, reports: list[tuple]) -> None:
        now = time.perf_counter()
        steps = (update + 1) * self.steps_per_update * self.members
        last_steps, last_time = self._last
        rate = (steps - last_steps) / max(now - last_time, 1e-9)
        self._last = (steps, now)
        returns = [r[0] for r in reports if r[1] > 0 and math.isfinite(r[0])]
        line = (
            f"update {update + 1:>6}/{self.num_updates}  steps {steps:>13,}  "
            f"{rate:>12,.0f} steps/s  "
        )
        if returns:
            mean = sum(returns) / len(returns)
            line += f"return {mean:.6g}"
            if self.reference_return is not None and self.reference_return > 0:
                line += f" ({100 * mean / self.reference_return:.1f}% of {self.reference_name})"
            elif self.reference_return is not None:  # costs: a percentage would mislead
                line += f" ({self.reference_name}: {self.reference_return:.6g})"
        else:
            line += "return n/a (no episode ended)"
        for index, label in ((2, "greedy eval"), (3, "stochastic eval")):
            values = [r[index] for r in reports if math.isfinite(r[index])]
            if values:
                line += f"  {label} {sum(values) / len(values):.6g}"
        self.lines.append(line)
        print(line, file=self.stream, flush=True)
