"""The SLA tracking part of the plan (`Plan.sla`), filled by the SLO helper from measurements.
Re-exported by `planner.model`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.figure import Figure

__all__ = ["BudgetPoint", "BudgetSeries", "MeasuredAvailability", "SlaRow", "SlaSection"]


@dataclass(frozen=True, slots=True)
class SlaRow:
    """Compliance over one period, measured."""

    period: str  # "This month", "This quarter", "YTD"
    target: float  # percent
    actual: Figure | None  # percent; None when there is no data
    budget_used: Figure | None  # percent of the whole period's error budget spent so far
    status: str  # OK | Risk | Breached | No data
    coverage: Figure | None  # share of the period so far with samples (percent; gaps count)
    pace: Figure | None = None  # percent spent by the period's end at the pace so far
    remaining: Figure | None = None  # the period's budget left, in events (probe: samples)
    remaining_minutes: Figure | None = None  # clock minutes of full outage `remaining` affords
    exhaustion: Figure | None = None  # seconds until `remaining` is gone at the 1 h burn
    exhaustion_note: str = ""  # why there is no exhaustion figure
    measured_from: str = ""  # ISO 8601: the period's start, or the data's first sample if later
    ends: str = ""  # ISO 8601: the period's end (a rolling period: `at`)


@dataclass(frozen=True, slots=True)
class MeasuredAvailability:
    """An entry point's or a component's availability: modelled beside measured (issue 20)."""

    kind: str  # "entry point" | "component"
    name: str
    modelled: Figure  # percent, the plan's figure
    measured: Figure | None  # percent; None: too little data (`basis` says why)
    basis: str  # what it is measured on, or why there is no figure


@dataclass(frozen=True, slots=True)
class BudgetPoint:
    """The budget period's error budget left at one time, from the events since it began."""

    at: str  # ISO 8601 UTC
    # percent of the period's budget left: 100 − the row's Budget Used formula at `at`
    # (negative once overspent); its inputs hold the bad and total events and the elapsed share
    remaining: Figure


@dataclass(frozen=True, slots=True)
class BudgetSeries:
    """The error budget left over the budget period so far, one point per step, the last at
    the measurement (equal to the period row's 100 − Budget Used).

    An even burn (errors at exactly the objective's rate) leaves 100 % at `start` and 0 % at
    `end`, on a straight line between.
    """

    period: str  # the SLA row it belongs to ("Last 30 days", "This month")
    start: str  # ISO 8601: where the period is measured from (its start, or the data's first)
    end: str  # ISO 8601: where an even burn has spent the whole budget (the period's end)
    step_s: int  # seconds between points (aligned to multiples of it); the last is the measurement
    points: tuple[BudgetPoint, ...]


@dataclass(frozen=True, slots=True)
class SlaSection:
    """SLA tracking from measurements; absent until measured, never invented."""

    source: str  # Prometheus URL or metrics URL
    measured_at: str  # ISO 8601 UTC
    slo: str  # name of the SLO measured
    rows: tuple[SlaRow, ...]
    budget_remaining_minutes: Figure | None
    burn_rates: Mapping[str, Figure] = field(default_factory=dict)  # window → burn rate now
    notes: tuple[str, ...] = ()
    # window → seconds until the budget period's budget is gone at that window's burn rate; a
    # window with a burn rate and no entry does not run the budget out before the period ends
    projected_exhaustion: Mapping[str, Figure] = field(default_factory=dict)
    budget_period: str = ""  # the row `budget_remaining_minutes` and the projections are of
    gaps: tuple[str, ...] = ()  # stretches without samples inside the periods
    # per entry point (SLI) and per dependency (its policies' calls), over the SLO period
    availability: tuple[MeasuredAvailability, ...] = ()
    # the budget period's budget left over time; None without data in it
    budget_series: BudgetSeries | None = None
