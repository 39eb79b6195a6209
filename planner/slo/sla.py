"""SLA tracking from real metrics: compliance per calendar period and the rolling SLO period.

Availability is event-weighted: 1 − Σerrors / Σtotal over the period, counted exactly from the
raw counter samples (`planner.slo.counters`: the samples around each period edge at the local
rate of the scrape interval that straddles it, counter resets located and added back, series
born inside the period counted from zero), never `increase()`'s whole-range extrapolation and
never an average of short-window ratios. Probe SLIs are time-based: the share of probe samples
that were 1. No traffic is "no data", never 100 %.

Each period is measured from its start, or from the data's first sample when Prometheus holds
nothing older (the row says so); its elapsed share is counted from there too. Per period:

- Budget used = bad / the whole period's budget, where the period's budget is (1 − objective) ×
  the traffic the period will see at its average traffic so far (total / elapsed share). A
  rolling period the data spans has fully elapsed: its budget is (1 − objective) × its traffic.
- Pace = bad / ((1 − objective) × total): the share of the budget spent by the period's end if
  the rest of the period burns as it has so far (the old "budget used of the traffic so far").
- Remaining = the period's budget − bad, in events, and in clock minutes of full outage at the
  last hour's traffic (the period's average traffic when the last hour had none).
- Exhaustion at the 1 h burn: remaining / the errors per second of the last hour; none when
  that runs past the period's end (a rolling period: one period length past `at`).
- Status: Breached once budget used > 100 %; Risk when the pace is over 100 % or the 1 h burn
  runs the budget out before the period ends; else OK.

Coverage is the share of the period so far with samples: the samples the best-covered series
holds against what its scrape interval would give, so a 47-minute scrape gap shows, and the
report lists where the gaps are. Burn rates are taken at `at` (never at the last sample) and
carry the events behind them.

The budget period's row also gets its budget left over time (`planner.slo.budget_series`): the
row's own figure at up to 60 earlier times, counted the same way, the last point the row's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from planner.errors import PlannerError
from planner.model import Figure, Plan, SlaRow, SlaSection
from planner.slo.budget_series import budget_series
from planner.slo.counters import (
    EDGE_PROBE_S,
    EventCounter,
    data_span,
    find_gaps,
    samples_seen,
    scrape_interval,
)
from planner.slo.definition import SloDefinition, definitions_from_spec
from planner.slo.periods import Period, report_periods
from planner.slo.prometheus import PrometheusClient
from planner.slo.sli_events import Counts, pace, sli_counts
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


@dataclass(frozen=True)
class _Data:
    """When the SLO's data starts and ends, and its scrape interval."""

    first: float
    last: float
    interval: float | None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _data_selector(slo: SloDefinition) -> str:
    selector = slo.probe if slo.kind == "probe" else slo.total
    assert selector is not None
    return selector.render()


def _sli_formula(slo: SloDefinition) -> str:
    if slo.kind == "probe":
        return "100 × Σsum_over_time(probe) / Σcount_over_time(probe)"
    return "100 × (1 − Σerrors / Σtotal), counted from the raw counter samples"


async def _coverage(
    client: PrometheusClient, selector: str, period: Period, data: _Data | None
) -> Figure | None:
    """The share of the period so far with samples: before the data starts and inside gaps
    there are none (samples seen against the scrape interval's expected count)."""
    if data is None:
        return None
    length = (period.at - period.start).total_seconds()
    begin = max(period.start.timestamp(), data.first)
    end = min(period.at.timestamp(), data.last)
    span = max(0.0, end - begin)
    inputs: dict[str, float | int | str] = {
        "period_start": period.start.isoformat(),
        "from": _iso(begin),
        "to": _iso(end),
    }
    if data.interval is None or span <= 0:
        covered = span
    else:
        seen = await samples_seen(client, selector, begin, end)
        expected = math.floor(span / data.interval + 1e-6) + 1
        covered = span * min(1.0, seen / expected)
        inputs |= {"samples_seen": seen, "samples_expected": expected, "interval_s": data.interval}
    return Figure(
        100.0 * covered / length if length > 0 else 100.0,
        "%",
        "100 × (to − from) × min(1, samples seen / samples expected) / (at − period start)",
        inputs,
    )


@dataclass(frozen=True)
class _Now:
    """The last hour at `at`: its traffic and errors (the "current" burn and traffic)."""

    counts: Counts | None

    def traffic(self) -> float | None:
        """Events per second over the last hour; None without traffic."""
        c = self.counts
        return c.total / c.seconds if c is not None and c.seconds > 0 and c.total > 0 else None

    def error_rate(self) -> float:
        """Bad events per second over the last hour."""
        c = self.counts
        return c.bad / c.seconds if c is not None and c.seconds > 0 else 0.0


def _not_before(period: Period) -> str:
    if period.rolling:
        days = round((period.at - period.start).total_seconds() / 86400)
        return f"not within the next {days} days at the 1h burn"
    return f"not before the period ends ({_iso(period.end.timestamp())}) at the 1h burn"


def _outage_minutes(counts: Counts, remaining: float, now: _Now) -> Figure:
    """Clock minutes of full outage `remaining` events afford at the last hour's traffic (the
    period's average traffic when the last hour had none)."""
    traffic = now.traffic()
    basis = "the last hour's traffic"
    if traffic is None:
        traffic, basis = counts.total / counts.seconds, "the period's average traffic"
    return Figure(
        remaining / traffic / 60.0,
        "min",
        f"remaining / events per minute at {basis}: clock minutes of full outage left",
        {"remaining": remaining, "events_per_minute": traffic * 60.0, "basis": basis},
    )


def _exhaustion(period: Period, remaining: float, now: _Now) -> tuple[Figure | None, str]:
    """Seconds until `remaining` is gone at the last hour's burn, or why there is no such time
    (none left, no errors, or not before the period ends)."""
    if remaining <= 0:
        return None, "already exhausted"
    if now.error_rate() <= 0:
        return None, "no errors in the last hour"
    seconds = remaining / now.error_rate()
    if period.at.timestamp() + seconds > period.horizon.timestamp():
        return None, _not_before(period)
    return Figure(
        seconds,
        "s",
        "remaining / bad events per second over the last hour",
        {"remaining": remaining, "bad_per_second": now.error_rate()},
    ), ""


def _reach(data: _Data, at: float) -> float:
    """Where the data ends: `at` when its newest sample is within two scrape intervals of it
    (the counts then run to `at`), else that sample."""
    return at if at - data.last <= 2 * (data.interval or 0.0) else data.last


def _row(
    slo: SloDefinition,
    period: Period,
    counts: Counts | None,
    data: _Data | None,
    coverage: Figure | None,
    now: _Now,
) -> SlaRow:
    target = slo.objective
    ends = _iso(period.end.timestamp())
    if counts is None or data is None:
        return SlaRow(period.label, target, None, None, "No data", coverage, ends=ends)
    first = datetime.fromtimestamp(data.first, tz=UTC)
    last = datetime.fromtimestamp(_reach(data, period.at.timestamp()), tz=UTC)
    begin = period.measured_from(first)
    elapsed = period.elapsed_share(first, last)
    ratio = counts.bad / counts.total
    actual = 100.0 * (1.0 - ratio)
    spent = pace(counts, slo.budget)
    used = spent * elapsed
    budget_events = slo.budget * counts.total / elapsed if elapsed > 0 else math.inf
    remaining = budget_events - counts.bad
    span = {"from": _iso(counts.start), "to": _iso(counts.end)}
    remaining_fig = Figure(
        remaining,
        "samples" if slo.kind == "probe" else "events",
        "(1 − objective) × total / elapsed share − bad",
        {"objective": target, "total": counts.total, "elapsed": elapsed, "bad": counts.bad},
    )
    minutes = _outage_minutes(counts, remaining, now)
    exhaustion, note = _exhaustion(period, remaining, now)
    if used > 100.0:
        status = "Breached"
    elif spent > 100.0 or exhaustion is not None:
        status = "Risk"
    else:
        status = "OK"
    return SlaRow(
        period=period.label,
        target=target,
        actual=Figure(
            actual, "%", _sli_formula(slo), {"bad": counts.bad, "total": counts.total, **span}
        ),
        budget_used=Figure(
            used,
            "%",
            "100 × bad / ((1 − objective) × total / elapsed share): of the whole period's budget",
            {"bad": counts.bad, "total": counts.total, "elapsed": elapsed, "target": target},
        ),
        status=status,
        coverage=coverage,
        pace=Figure(
            spent,
            "%",
            "100 × bad / ((1 − objective) × total): spent by the period's end at this pace",
            {"bad": counts.bad, "total": counts.total, "target": target},
        ),
        remaining=remaining_fig,
        remaining_minutes=minutes,
        exhaustion=exhaustion,
        exhaustion_note=note,
        measured_from=_iso(begin.timestamp()),
        ends=ends,
    )


async def _burn_rates(
    counter: EventCounter, slo: SloDefinition, first: float, at: float
) -> tuple[dict[str, Figure], dict[str, Counts]]:
    rates: dict[str, Figure] = {}
    raw: dict[str, Counts] = {}
    for label, seconds in BURN_WINDOWS:
        # a window reaching back before the data starts at the first sample
        counts = await sli_counts(counter, slo, max(at - seconds, first), at)
        if counts is None:
            continue
        ratio = counts.bad / counts.total
        raw[label] = counts
        rates[label] = Figure(
            ratio / slo.budget,
            "x",
            "error ratio over the window / (1 − objective)",
            {
                "error_ratio": ratio,
                "budget": slo.budget,
                "window": label,
                "bad": counts.bad,
                "total": counts.total,
                "from": _iso(counts.start),
                "to": _iso(counts.end),
            },
        )
    return rates, raw


def _budget_row(slo: SloDefinition, periods: Sequence[Period]) -> int:
    """The index of the row of the SLO's own budget period (the rolling one, or this month)."""
    for i, p in enumerate(periods):
        if p.rolling:
            return i
    return 0


def _projections(
    budget_row: SlaRow, period: Period, burn_counts: Mapping[str, Counts]
) -> dict[str, Figure]:
    """Per burn window, seconds until the budget period's budget is gone at that window's
    burn; a window whose burn does not run it out before the period ends has no entry."""
    out: dict[str, Figure] = {}
    remaining = budget_row.remaining
    if remaining is None or remaining.value <= 0:
        return out
    for label, counts in burn_counts.items():
        per_second = counts.bad / counts.seconds if counts.seconds > 0 else 0.0
        if per_second <= 0:
            continue
        seconds = remaining.value / per_second
        if period.at.timestamp() + seconds <= period.horizon.timestamp():
            out[label] = Figure(
                seconds,
                "s",
                "remaining events / bad events per second over the window",
                {"remaining": remaining.value, "bad_per_second": per_second, "window": label},
            )
    return out


def _notes(
    selector: str,
    rows: Sequence[SlaRow],
    periods: Sequence[Period],
    data: _Data | None,
    earliest: float,
    now: float,
    budget_row: SlaRow,
) -> list[str]:
    """What the reader must know to read the figures: no data, stale data, late data."""
    if data is None:
        return [f"no samples of {selector} between {_iso(earliest)} and {_iso(now)}"]
    notes = []
    if now - data.last > EDGE_PROBE_S:
        notes.append(f"the newest sample is from {_iso(data.last)}: figures end there")
    late = [
        r.period
        for r, p in zip(rows, periods, strict=True)
        if r.measured_from and r.measured_from != _iso(p.start.timestamp())
    ]
    if late:
        names = late[0] if len(late) == 1 else ", ".join(late[:-1]) + " and " + late[-1]
        notes.append(
            f"{names} {'is' if len(late) == 1 else 'are'} measured from {_iso(data.first)},"
            " where the data starts: elapsed shares and budgets count from there"
        )
    if budget_row.actual is None:
        notes.append(f"no traffic counted in {budget_row.period.lower()} by {selector}")
    return notes


async def measure_definitions(
    client: PrometheusClient, slo: SloDefinition, at: datetime
) -> SlaSection:
    """The SLA section of one SLO, measured from Prometheus at `at`."""
    periods = report_periods(at, slo.period)
    earliest = min(p.start for p in periods).timestamp()
    now = at.timestamp()
    selector = _data_selector(slo)
    span = await data_span(client, selector, earliest, now)
    data: _Data | None = None
    if span is not None:
        interval = await scrape_interval(client, selector, span[1])
        data = _Data(span[0], span[1], interval)
    grace = 2 * (data.interval or 60.0) if data else 120.0
    counter = EventCounter(
        client,
        data_start=data.first if data else earliest,
        grace=grace,
        latest=data.last if data else now,
        span=(max(earliest, data.first), now) if data else None,
    )
    burn: dict[str, Figure] = {}
    burn_counts: dict[str, Counts] = {}
    if data is not None:
        burn, burn_counts = await _burn_rates(counter, slo, data.first, now)
    last_hour = _Now(burn_counts.get(BURN_WINDOWS[0][0]))
    rows: list[SlaRow] = []
    for period in periods:
        counts = None
        if data is not None:
            begin = max(period.start.timestamp(), data.first)
            if data.last > begin:
                counts = await sli_counts(counter, slo, begin, now)
        coverage = await _coverage(client, selector, period, data)
        rows.append(_row(slo, period, counts, data, coverage, last_hour))
    budget_index = _budget_row(slo, periods)
    budget_row, budget_period = rows[budget_index], periods[budget_index]
    exhaustion = _projections(budget_row, budget_period, burn_counts)
    notes = _notes(selector, rows, periods, data, earliest, now, budget_row)
    series = None
    if data is not None and budget_row.actual is not None:
        series = await budget_series(
            counter, slo, budget_period, data.first, _reach(data, budget_period.at.timestamp())
        )
    gaps: list[str] = []
    if data is not None and data.interval is not None:
        found = await find_gaps(client, selector, data.first, min(now, data.last), data.interval)
        gaps = [g.describe() for g in found]
    return SlaSection(
        source=client.url,
        measured_at=_iso(now),
        slo=f"{slo.service}/{slo.name}",
        rows=tuple(rows),
        budget_remaining_minutes=budget_row.remaining_minutes,
        burn_rates=burn,
        projected_exhaustion=exhaustion,
        notes=tuple(notes),
        budget_period=budget_row.period,
        gaps=tuple(gaps),
        budget_series=series,
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
