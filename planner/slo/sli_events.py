"""An SLO's bad and total events over a range, and the share of its error budget they spend.

One place counts them, for the SLA rows, the burn rates and the budget-over-time series alike,
so the series' last point is the row's figure by construction, not by a second formula.
Request SLIs count counter events exactly (`planner.slo.counters.EventCounter`); probe SLIs
count probe samples (bad: the samples that were 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.slo.counters import EventCounter
from planner.slo.definition import SloDefinition

__all__ = ["Counts", "pace", "sli_counts"]


@dataclass(frozen=True)
class Counts:
    """Bad and all events (or probe samples) over (start, end]."""

    bad: float
    total: float
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """The range's length."""
        return self.end - self.start


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


async def sli_counts(
    counter: EventCounter, slo: SloDefinition, start: float, end: float
) -> Counts | None:
    """Bad and total events of `slo` in (start, end], None if no events."""
    if end - start < 0.001:  # a single instant holds no events (and PromQL wants a range > 0)
        return None
    client = counter.client
    if slo.kind == "probe":
        assert slo.probe is not None
        p = slo.probe.render()
        window = _ms(end - start)
        total = await client.total(f"sum(count_over_time({p}[{window}]))", end)
        up = await client.total(f"sum(sum_over_time({p}[{window}]))", end)
        if not total:
            return None
        return Counts(total - (up or 0.0), total, start, end)
    assert slo.total is not None
    total = await counter.events(slo.total.render(), start, end)
    if not total:  # None (no series) or 0 (no traffic): no data, not 100 %
        return None
    if slo.kind == "errors":
        assert slo.errors is not None
        bad = await counter.events(slo.errors.render(), start, end) or 0.0
    else:
        assert slo.good is not None
        good = await counter.events(slo.good.render(), start, end) or 0.0
        bad = max(0.0, total - good)
    return Counts(min(bad, total), total, start, end)


def pace(counts: Counts, budget: float) -> float:
    """Percent of the budget of the traffic counted that its bad events spent:
    100 × bad / ((1 − objective) × total). Times the period's elapsed share, it is the share of
    the whole period's budget spent (the row's Budget Used)."""
    return counts.bad / counts.total / budget * 100.0
