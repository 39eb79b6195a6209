"""The error budget left over the budget period so far, as a time series for the report's chart.

Each point is the period row's own figure evaluated at an earlier time t: the events of
(period start, t] counted exactly as the row counts them (`sli_events.sli_counts`, on the same
`EventCounter`, so the period start's edge lookups and counter resets are shared), and
remaining = 100 − pace × elapsed share at t. The last point is the measurement itself, so it is
the row's 100 − Budget Used to the last bit.

Bounded: at most `MAX_POINTS` points, on multiples of a round step (1 min … 1 week) so they fall
on the same times whatever `at` is; each costs the counts of one range (about three queries per
counter selector, two for a probe).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from planner.model import BudgetPoint, BudgetSeries, Figure
from planner.slo.counters import EventCounter
from planner.slo.definition import SloDefinition
from planner.slo.periods import Period
from planner.slo.sli_events import pace, sli_counts

__all__ = ["MAX_POINTS", "budget_series", "grid"]

#: Points per series at most, the measurement included.
MAX_POINTS = 60
#: The round steps a grid may take, in seconds; past the last, multiples of it.
_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)

_FORMULA = (
    "100 − 100 × bad / ((1 − objective) × total / elapsed share): the period's budget left, "
    "counted from the period start to `at`"
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _inside(begin: float, at: float, step: int) -> range:
    """The multiples of `step` strictly inside (begin, at), as multipliers."""
    return range(math.floor(begin / step) + 1, math.ceil(at / step))


def grid(begin: float, at: float, max_points: int = MAX_POINTS) -> tuple[int, list[float]]:
    """(step, times): the multiples of the smallest round step that keeps the multiples inside
    (begin, at), plus `at`, to at most `max_points` times; `at` is always the last."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    step = next((s for s in _STEPS if len(_inside(begin, at, s)) < max_points), 0)
    while step == 0 or len(_inside(begin, at, step)) >= max_points:
        step = step * 2 if step else _STEPS[-1] * 2
    return step, [float(k * step) for k in _inside(begin, at, step)] + [at]


async def budget_series(
    counter: EventCounter,
    slo: SloDefinition,
    period: Period,
    first: float,
    reach: float,
) -> BudgetSeries | None:
    """The budget left in `period` at each point of its grid, from the data's first sample
    `first` to `reach` (where its samples end: `at` when they are fresh); None when no point
    of the period has traffic."""
    begin = max(period.start.timestamp(), first)  # the row's own start, to the bit
    at = period.at.timestamp()
    if reach <= begin:
        return None
    data_start = datetime.fromtimestamp(first, tz=UTC)
    step, times = grid(begin, at)
    points: list[BudgetPoint] = []
    for t in times:
        counts = await sli_counts(counter, slo, begin, t)
        if counts is None:  # no traffic yet: no budget to speak of
            continue
        elapsed = period.elapsed_share(data_start, datetime.fromtimestamp(min(t, reach), tz=UTC))
        used = pace(counts, slo.budget) * elapsed
        points.append(
            BudgetPoint(
                _iso(t),
                Figure(
                    100.0 - used,
                    "%",
                    _FORMULA,
                    {
                        "objective": slo.objective,
                        "bad": counts.bad,
                        "total": counts.total,
                        "elapsed": elapsed,
                    },
                ),
            )
        )
    if not points or points[-1].at != _iso(at):
        return None  # the measurement itself has no traffic: the row says "No data"
    return BudgetSeries(
        period=period.label,
        start=_iso(begin),
        end=_iso(period.budget_end(data_start).timestamp()),
        step_s=step,
        points=tuple(points),
    )
