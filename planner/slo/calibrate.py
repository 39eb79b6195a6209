"""Declared against measured: what the runtime's metrics say about each dependency and entry point.

`measure` reads, over a window ending at `at`, per dependency (the policies of the plan that
call it, summed): calls and their rate, p50/p99 from `resilience_call_duration_seconds` (the
histogram's buckets, interpolated as `histogram_quantile` does), the failure ratio and the
availability it implies, breaker open time, retries per call and rejections; per entry point the
SLI-measured availability. A figure needs `MIN_CALLS` calls behind it: with fewer it is said to
be missing, never guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from planner.model import Figure, Plan
from planner.sla_model import MeasuredAvailability
from planner.slo.definition import SloDefinition
from planner.slo.prometheus import PrometheusClient
from planner.spec import SystemSpec

__all__ = [
    "MIN_CALLS",
    "Calibration",
    "DependencyMeasure",
    "EntryMeasure",
    "measure",
    "measured_availability",
    "quantile",
]

#: Calls a percentile or a ratio needs behind it: a p99 from fewer than 100 calls is one call.
MIN_CALLS = 100
#: Relative change of a latency percentile that counts as drift.
LATENCY_DRIFT = 0.25
#: Factor between measured and declared unavailability that counts as drift.
AVAILABILITY_DRIFT = 2.0


@dataclass(frozen=True, slots=True)
class DependencyMeasure:
    """What the runtime measured for one dependency over the window, beside what the spec says."""

    target: str
    policies: tuple[str, ...]
    calls: float
    rate_per_second: float
    p50: float | None  # seconds; None: too little data
    p99: float | None
    p99_bucket: tuple[float, float] | None  # the histogram bucket holding the p99 (upper inf:
    # past the last bucket, p99 is None)
    failure_ratio: float | None
    open_seconds: float | None  # breaker open time over the window; None: no breaker series
    retries_per_call: float | None
    rejections: float
    declared_p50: float | None
    declared_p99: float | None
    declared_availability: float | None  # percent

    @property
    def availability(self) -> float | None:
        """The availability the failure ratio implies, in percent."""
        return None if self.failure_ratio is None else 100.0 * (1.0 - self.failure_ratio)

    @property
    def enough(self) -> bool:
        """Whether the window holds enough calls for percentiles and ratios."""
        return self.calls >= MIN_CALLS

    @property
    def p99_drift(self) -> bool:
        """Measured p99 more than LATENCY_DRIFT away from the declared one."""
        return _drift(self.p99, self.declared_p99)

    @property
    def p50_drift(self) -> bool:
        """Measured p50 more than LATENCY_DRIFT away from the declared one."""
        return _drift(self.p50, self.declared_p50)

    @property
    def availability_drift(self) -> bool:
        """Measured unavailability more than AVAILABILITY_DRIFT times off the declared one."""
        if self.failure_ratio is None or self.declared_availability is None:
            return False
        measured = self.failure_ratio
        declared = 1.0 - self.declared_availability / 100.0
        if measured == 0.0:
            # no failure in n calls only bounds it: below 3/n (the rule of three, 95 %)
            return declared > AVAILABILITY_DRIFT * 3.0 / self.calls
        if declared <= 0.0:
            return True
        ratio = measured / declared
        return ratio > AVAILABILITY_DRIFT or ratio < 1.0 / AVAILABILITY_DRIFT


def _drift(measured: float | None, declared: float | None) -> bool:
    if measured is None or declared is None or declared <= 0:
        return False
    return abs(measured - declared) / declared > LATENCY_DRIFT


@dataclass(frozen=True, slots=True)
class EntryMeasure:
    """The SLI-measured availability of one entry point, beside the modelled one."""

    component: str
    slo: str
    requests: float | None
    errors: float | None
    modelled: float  # percent

    @property
    def availability(self) -> float | None:
        """Percent; None with fewer than MIN_CALLS requests."""
        if self.requests is None or self.errors is None or self.requests < MIN_CALLS:
            return None
        return 100.0 * (1.0 - self.errors / self.requests)


@dataclass(frozen=True, slots=True)
class Calibration:
    """All measurements of one window."""

    window_s: float
    at: float
    dependencies: tuple[DependencyMeasure, ...]
    entries: tuple[EntryMeasure, ...]


def quantile(q: float, buckets: Mapping[float, float]) -> tuple[float, tuple[float, float]] | None:
    """The q-quantile of cumulative bucket counts (upper bound → count), interpolated linearly
    inside its bucket as PromQL's `histogram_quantile` does, and that bucket's bounds."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if math.isinf(upper):  # beyond the last finite bucket: its bound is all we know
                return lower, (lower, upper)
            inside = count - below
            fraction = (rank - below) / inside if inside > 0 else 1.0
            return lower + (upper - lower) * fraction, (lower, upper)
        lower, below = upper, count
    return None


def _regex(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n).replace("\\", "\\\\") for n in names)


async def _by_policy(client: PrometheusClient, expr: str, at: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for sample in await client.vector(expr, at):
        policy = sample.labels.get("policy", "")
        out[policy] = out.get(policy, 0.0) + sample.value
    return out


_Figures = tuple[
    dict[tuple[str, str], float],
    dict[tuple[str, float], float],
    dict[str, float],
    dict[str, float],
    dict[str, float],
]


async def _queries(client: PrometheusClient, sel: str, w: str, at: float) -> _Figures:
    """Outcomes, duration buckets, open share, retries and rejections by policy."""
    outcomes: dict[tuple[str, str], float] = {}
    expr = f"sum by (policy, outcome) (increase(resilience_calls_total{{{sel}}}[{w}]))"
    for sample in await client.vector(expr, at):
        key = (sample.labels.get("policy", ""), sample.labels.get("outcome", ""))
        outcomes[key] = sample.value
    buckets: dict[tuple[str, float], float] = {}
    expr = f"sum by (policy, le) (increase(resilience_call_duration_seconds_bucket{{{sel}}}[{w}]))"
    for sample in await client.vector(expr, at):
        le = float(sample.labels.get("le", "nan"))
        if not math.isnan(le):
            buckets[(sample.labels.get("policy", ""), le)] = sample.value
    opened = await _by_policy(
        client,
        "sum by (policy) (avg_over_time("
        f'resilience_circuit_breaker_state{{{sel},state="open"}}[{w}]))',
        at,
    )
    retries = await _by_policy(
        client, f"sum by (policy) (increase(resilience_retries_total{{{sel}}}[{w}]))", at
    )
    rejections = await _by_policy(
        client, f"sum by (policy) (increase(resilience_rejections_total{{{sel}}}[{w}]))", at
    )
    return outcomes, buckets, opened, retries, rejections


async def measure(
    spec: SystemSpec,
    plan: Plan,
    slos: tuple[SloDefinition, ...],
    client: PrometheusClient,
    *,
    at: float,
    window_s: float,
) -> Calibration:
    """Measure every dependency the plan has a policy for, and every entry point's SLI."""
    targets: dict[str, list[str]] = {}
    for row in plan.mechanisms:
        if not row.inbound and row.policy not in targets.get(row.target, []):
            targets.setdefault(row.target, []).append(row.policy)
    w = f"{max(1, round(window_s))}s"
    every = tuple(p for policies in targets.values() for p in policies)
    sel = f'policy=~"{_regex(every)}"'
    outcomes, buckets, opened, retries, rejections = await _queries(client, sel, w, at)
    components = {c.name: c for c in spec.components}
    deps = []
    for target, policies in targets.items():
        count = {
            o: sum(outcomes.get((p, o), 0.0) for p in policies)
            for o in ("success", "failure", "rejected", "fallback")
        }
        # calls that reached the dependency and came back: what its availability is measured on
        reached = count["success"] + count["failure"]
        merged: dict[float, float] = {}
        for (policy, le), value in buckets.items():
            if policy in policies:
                merged[le] = merged.get(le, 0.0) + value
        enough = reached >= MIN_CALLS and merged.get(math.inf, 0.0) >= MIN_CALLS
        p50 = quantile(0.5, merged) if enough else None
        p99 = quantile(0.99, merged) if enough else None
        # past the last finite bucket the histogram only bounds it below: no figure
        p50_value = p50[0] if p50 and not math.isinf(p50[1][1]) else None
        p99_value = p99[0] if p99 and not math.isinf(p99[1][1]) else None
        component = components.get(target)
        latency = component.latency if component is not None else None
        has_breaker = any(p in opened for p in policies)
        deps.append(
            DependencyMeasure(
                target=target,
                policies=tuple(policies),
                calls=reached,
                rate_per_second=reached / window_s,
                p50=p50_value,
                p99=p99_value,
                p99_bucket=p99[1] if p99 else None,
                failure_ratio=count["failure"] / reached if reached >= MIN_CALLS else None,
                open_seconds=sum(opened.get(p, 0.0) for p in policies) * window_s
                if has_breaker
                else None,
                retries_per_call=sum(retries.get(p, 0.0) for p in policies) / reached
                if reached >= MIN_CALLS
                else None,
                rejections=sum(rejections.get(p, 0.0) for p in policies),
                declared_p50=latency.p50 if latency is not None else None,
                declared_p99=latency.p99 if latency is not None else None,
                declared_availability=component.availability if component is not None else None,
            )
        )
    entries = await _entries(plan, slos, client, at, w)
    return Calibration(window_s, at, tuple(deps), tuple(entries))


async def _entries(
    plan: Plan, slos: tuple[SloDefinition, ...], client: PrometheusClient, at: float, w: str
) -> list[EntryMeasure]:
    """Each entry point's SLI (the first SLO's), as requests and errors over the window."""
    slo = slos[0] if slos else None
    if slo is None or slo.total is None or slo.errors is None:
        return []
    requests = await client.total(f"sum(increase({slo.total.render()}[{w}]))", at)
    errors = await client.total(f"sum(increase({slo.errors.render()}[{w}]))", at)
    if requests is not None and errors is None:
        errors = 0.0  # the error series is born with the first error
    return [
        EntryMeasure(e.component, slo.name, requests, errors, e.availability.value)
        for e in plan.availability.entry_points
    ]


def measured_availability(plan: Plan, calibration: Calibration) -> tuple[MeasuredAvailability, ...]:
    """Per entry point (its SLI) and per dependency (its policies' calls): measured beside the
    plan's modelled availability; without enough calls the basis says so, no figure is given."""
    days = f"{calibration.window_s / 86400:g}d"
    out = []
    for entry in calibration.entries:
        model = next(e for e in plan.availability.entry_points if e.component == entry.component)
        value = entry.availability
        if entry.requests is None:
            basis, figure = "no data: no series matches its SLI", None
        elif value is None:
            basis = f"too little data: {entry.requests:.0f} requests, {MIN_CALLS} needed"
            figure = None
        else:
            basis = f"SLI {entry.slo}, {entry.requests:.0f} requests over {days}"
            inputs = {"errors": entry.errors or 0.0, "requests": entry.requests or 0.0}
            figure = Figure(value, "%", "measured: 1 − errors / requests", inputs)
        out.append(
            MeasuredAvailability(
                "entry point", entry.component, model.availability_with, figure, basis
            )
        )
    components = {c.component: c for c in plan.availability.components}
    for dep in calibration.dependencies:
        component = components.get(dep.target)
        if component is None:
            continue
        value = dep.availability
        if value is None:
            basis = f"too little data: {dep.calls:.0f} calls, {MIN_CALLS} needed"
            figure = None
        else:
            basis = f"{dep.calls:.0f} calls over {days}"
            if dep.policies != (dep.target,):
                basis += f" ({', '.join(dep.policies)})"
            if dep.failure_ratio == 0.0:
                # no failure in n calls bounds it below only: 1 − 3/n (the rule of three, 95 %)
                value = 100.0 * (1.0 - 3.0 / dep.calls)
                basis = f"none of {dep.calls:.0f} failed: a lower bound"
            inputs = {"failure_ratio": dep.failure_ratio or 0.0, "calls": dep.calls}
            figure = Figure(value, "%", "measured: 1 − failures / calls", inputs)
        out.append(
            MeasuredAvailability("component", dep.target, component.effective, figure, basis)
        )
    return tuple(out)
