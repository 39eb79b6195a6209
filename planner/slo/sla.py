"""SLA tracking from real metrics: compliance per calendar period and the rolling SLO period.

Availability is event-weighted: 1 − Σincrease(errors) / Σincrease(total) over the period, one
`increase()` over the whole range (never an average of short-window ratios). Probe SLIs are
time-based: the share of probe samples that were 1. No traffic is "no data", never 100 %.

Exactness. Prometheus 2.x `increase()` extrapolates at both ends of its range when the first or
last sample does not sit on the range's edge. So the range of each period is cut to the data:
it starts at the period's start when Prometheus holds samples from before it (the usual case:
a real scrape grid then extrapolates less than one scrape interval, a negligible error over a
month), else at the first sample it holds (retention shorter than the period: the coverage
figure says so), and it ends at the last sample at or before `at`. With samples on the range
edges, `increase()` is the exact counter delta, counter resets included. (Prometheus 3 makes
ranges left-open; a sample exactly on the start edge then falls out and is extrapolated back
instead.) Gaps inside the period are not detected: coverage reflects the two edges only.

Budget used = (1 − actual) / (1 − target): the share of the budget the events so far have
earned. Status: OK while that is ≤ 100 %; Risk when it is above (the period is burning faster
than its budget allows) but the errors so far still fit in the whole period's budget at the
traffic seen so far; Breached when they don't (budget used × elapsed share of the period >
100 %). A rolling period has fully elapsed, so below target is Breached there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from planner.errors import PlannerError
from planner.model import Figure, Plan, SlaRow, SlaSection
from planner.slo.definition import SloDefinition, definitions_from_spec
from planner.slo.periods import Period, report_periods
from planner.slo.prometheus import PrometheusClient
from planner.spec import SystemSpec

__all__ = [
    "BURN_WINDOWS",
    "measure",
    "measure_all",
    "measure_definitions",
    "with_measurement",
]

#: Burn-rate windows of "burn rates now", in seconds.
BURN_WINDOWS: tuple[tuple[str, int], ...] = (("1h", 3600), ("6h", 6 * 3600), ("3d", 3 * 86400))

#: How far back a raw-sample probe looks for data at a period edge (one scrape surely falls in).
_EDGE_PROBE_S = 3600
#: Subquery steps per narrowing round when searching for the first or last sample.
_STEPS = 400


@dataclass(frozen=True)
class _Counts:
    """Bad and all events (or probe samples) over [start, end]."""

    bad: float
    total: float
    start: float
    end: float


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _data_selector(slo: SloDefinition) -> str:
    selector = slo.probe if slo.kind == "probe" else slo.total
    assert selector is not None
    return selector.render()


async def _edge(
    client: PrometheusClient, selector: str, lo: float, hi: float, *, first: bool
) -> float | None:
    """The first (or last) sample time of `selector` in [lo, hi], or None when there is none.

    Subqueries narrow the search (`min/max_over_time(timestamp(count_over_time(...)))` over a
    grid of `_STEPS` steps, then a finer grid inside the step found) until a raw range query of a
    few minutes of samples gives the exact timestamp.
    """
    agg = "min" if first else "max"
    span = max(1, math.ceil(hi - lo))
    step = max(60, math.ceil(span / _STEPS))
    # Subquery steps sit on multiples of the step; evaluate at the next one so the grid covers hi.
    at = math.ceil(hi / step) * step if first else hi
    expr = (
        f"{agg}({agg}_over_time(timestamp(count_over_time({selector}[{step}s]))[{span}s:{step}s]))"
    )
    found = await client.total(expr, at)
    if found is None:
        return None
    while step > 300:
        finer = max(60, math.ceil(step / _STEPS))
        expr = (
            f"{agg}({agg}_over_time(timestamp(count_over_time({selector}[{finer}s]))"
            f"[{step}s:{finer}s]))"
        )
        narrowed = await client.total(expr, found)
        if narrowed is None:
            break
        found, step = narrowed, finer
    times = [t for t in await client.sample_times(selector, step, found) if lo <= t <= hi]
    if not times:
        return None
    return min(times) if first else max(times)


async def _data_span(
    client: PrometheusClient, selector: str, earliest: float, at: float
) -> tuple[float, float] | None:
    """(first, last) sample time of `selector` in [earliest, at]; first = earliest when older
    samples exist (the data reaches back past every period)."""
    recent = await client.sample_times(selector, _EDGE_PROBE_S, at)
    last = max(recent) if recent else await _edge(client, selector, earliest, at, first=False)
    if last is None:
        return None
    older = await client.sample_times(selector, _EDGE_PROBE_S, earliest)
    if older:
        return earliest, last
    first = await _edge(client, selector, earliest, last, first=True)
    return (first, last) if first is not None else None


async def _counts(
    client: PrometheusClient, slo: SloDefinition, start: float, end: float
) -> _Counts | None:
    """Bad and total events of `slo` in [start, end] (one increase() each), None if no events."""
    if end - start < 0.001:  # a single sample holds no increase (and PromQL wants a range > 0)
        return None
    window = _ms(end - start)
    if slo.kind == "probe":
        assert slo.probe is not None
        p = slo.probe.render()
        total = await client.total(f"sum(count_over_time({p}[{window}]))", end)
        up = await client.total(f"sum(sum_over_time({p}[{window}]))", end)
        if not total:
            return None
        return _Counts(total - (up or 0.0), total, start, end)
    assert slo.total is not None
    total = await client.total(f"sum(increase({slo.total.render()}[{window}]))", end)
    if not total:  # None (no series) or 0 (no traffic): no data, not 100 %
        return None
    if slo.kind == "errors":
        assert slo.errors is not None
        bad = await client.total(f"sum(increase({slo.errors.render()}[{window}]))", end) or 0.0
    else:
        assert slo.good is not None
        good = await client.total(f"sum(increase({slo.good.render()}[{window}]))", end) or 0.0
        bad = max(0.0, total - good)
    return _Counts(bad, total, start, end)


def _sli_formula(slo: SloDefinition) -> str:
    if slo.kind == "probe":
        return "100 × Σsum_over_time(probe) / Σcount_over_time(probe)"
    return "100 × (1 − Σincrease(errors) / Σincrease(total))"


def _coverage(period: Period, window: tuple[float, float] | None) -> Figure | None:
    """Share of the period Prometheus holds samples for (its two edges; gaps not detected)."""
    if window is None:
        return None
    length = (period.at - period.start).total_seconds()
    begin, end = window
    return Figure(
        100.0 * max(0.0, end - begin) / length if length > 0 else 100.0,
        "%",
        "100 × (last sample − max(period start, first sample)) / (at − period start)",
        {"period_start": period.start.isoformat(), "from": _iso(begin), "to": _iso(end)},
    )


def _row(
    slo: SloDefinition,
    period: Period,
    counts: _Counts | None,
    window: tuple[float, float] | None,
) -> SlaRow:
    target = slo.objective
    coverage = _coverage(period, window)
    if counts is None:
        return SlaRow(period.label, target, None, None, "No data", coverage)
    actual = 100.0 * (1.0 - counts.bad / counts.total)
    used = (100.0 - actual) / (100.0 - target) * 100.0
    elapsed = period.elapsed_fraction
    if used <= 100.0:
        status = "OK"
    elif used * elapsed <= 100.0:
        status = "Risk"
    else:
        status = "Breached"
    span = {"from": _iso(counts.start), "to": _iso(counts.end)}
    return SlaRow(
        period=period.label,
        target=target,
        actual=Figure(
            actual, "%", _sli_formula(slo), {"bad": counts.bad, "total": counts.total, **span}
        ),
        budget_used=Figure(
            used, "%", "100 × (100 − actual) / (100 − target)", {"actual": actual, "target": target}
        ),
        status=status,
        coverage=coverage,
    )


async def _burn_rates(
    client: PrometheusClient, slo: SloDefinition, first: float, now: float
) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    for label, seconds in BURN_WINDOWS:
        # a window reaching back before the data starts at the first sample (no extrapolation)
        counts = await _counts(client, slo, max(now - seconds, first), now)
        if counts is None:
            continue
        ratio = counts.bad / counts.total
        out[label] = Figure(
            ratio / slo.budget,
            "x",
            "error ratio over the window / (1 − objective)",
            {"error_ratio": ratio, "budget": slo.budget, "window": label},
        )
    return out


def _month_budget(slo: SloDefinition, month: Period, counts: _Counts | None) -> Figure | None:
    """Minutes of error budget left this month: the month's budget minus what is consumed.

    Event-weighted, consumption is the bad share of events times the minutes measured (a 100 %
    outage of 10 minutes consumes 10 budget-minutes whatever the traffic).
    """
    if counts is None:
        return None
    month_minutes = (month.end - month.start).total_seconds() / 60.0
    measured = (counts.end - counts.start) / 60.0
    bad_share = counts.bad / counts.total
    return Figure(
        slo.budget * month_minutes - bad_share * measured,
        "min",
        "(1 − objective) × minutes in the month − bad share × minutes measured",
        {
            "month_minutes": month_minutes,
            "measured_minutes": measured,
            "objective": slo.objective,
            "bad_share": bad_share,
        },
    )


async def measure_definitions(
    client: PrometheusClient, slo: SloDefinition, at: datetime
) -> SlaSection:
    """The SLA section of one SLO, measured from Prometheus at `at`."""
    periods = report_periods(at, slo.period)
    earliest = min(p.start for p in periods).timestamp()
    now = at.timestamp()
    span = await _data_span(client, _data_selector(slo), earliest, now)
    rows: list[SlaRow] = []
    notes: list[str] = []
    month_counts: _Counts | None = None
    for period in periods:
        start = period.start.timestamp()
        counts = None
        window = None
        if span is not None:
            first, last = span
            window = (max(start, first), last)
            if last > window[0]:
                counts = await _counts(client, slo, window[0], last)
        if period is periods[0]:
            month_counts = counts
        rows.append(_row(slo, period, counts, window))
    remaining = _month_budget(slo, periods[0], month_counts)
    burn = await _burn_rates(client, slo, span[0], span[1]) if span is not None else {}
    exhaustion: dict[str, Figure] = {}
    if remaining is not None:
        for label, rate in burn.items():
            if rate.value > 0 and remaining.value > 0:
                # budget-minutes spent per minute = error ratio = burn × (1 − objective)
                minutes = remaining.value / (rate.value * slo.budget)
                exhaustion[label] = Figure(
                    minutes * 60.0,
                    "s",
                    "minutes remaining this month / (burn rate × (1 − objective))",
                    {"remaining_minutes": remaining.value, "burn_rate": rate.value},
                )
    if span is None:
        selector = _data_selector(slo)
        notes.append(f"no samples of {selector} between {_iso(earliest)} and {_iso(now)}")
    elif now - span[1] > _EDGE_PROBE_S:
        notes.append(f"the newest sample is from {_iso(span[1])}: figures end there")
    if any(r.coverage is not None and r.coverage.value < 99.99 for r in rows):
        notes.append(
            "coverage below 100 %: Prometheus holds less than the period (retention or a late"
            " start); the actual figure is over the covered part only"
        )
    return SlaSection(
        source=client.url,
        measured_at=_iso(now),
        slo=f"{slo.service}/{slo.name}",
        rows=tuple(rows),
        budget_remaining_minutes=remaining,
        burn_rates=burn,
        projected_exhaustion=exhaustion,
        notes=tuple(notes),
    )


async def measure_all(
    slos: Sequence[SloDefinition],
    url: str,
    at: datetime | None = None,
    *,
    client: PrometheusClient | None = None,
) -> list[SlaSection]:
    """The SLA section of every SLO, measured from the Prometheus at `url`."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    if client is not None:
        return [await measure_definitions(client, slo, when) for slo in slos]
    timeout = aiohttp.ClientTimeout(total=None, connect=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        own = PrometheusClient(url, session)
        return [await measure_definitions(own, slo, when) for slo in slos]


def measure(spec: SystemSpec, url: str, at: datetime | None = None) -> SlaSection:
    """The plan's SLA section: the spec's first SLO measured from Prometheus at `url`.

    For `reliability plan SPEC --prometheus URL`: `dataclasses.replace(plan, sla=measure(...))`.
    Raises UpstreamError (a PlannerError) when the server is unreachable or rejects a query.
    """
    slos = definitions_from_spec(spec)
    if not slos:
        raise PlannerError("the spec declares no SLO to measure")
    return asyncio.run(measure_all(slos[:1], url, at))[0]


def with_measurement(plan: Plan, section: SlaSection) -> Plan:
    """`plan` with its SLA section filled and its "Current" set to the measured availability.

    "Current" becomes the rolling SLO period's actual (the calendar month's for a
    `calendar_month` period); without data the modeled figure stays.
    """
    rows = [r for r in section.rows if r.period.startswith("Last ")] or list(section.rows[:1])
    current = plan.current
    if rows and rows[0].actual is not None:
        actual = rows[0].actual
        current = Figure(
            actual.value,
            "%",
            f"measured: {actual.formula} ({rows[0].period.lower()})",
            {**actual.inputs, "source": section.source},
        )
    return dataclasses.replace(plan, sla=section, current=current)
