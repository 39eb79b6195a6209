"""What Prometheus recorded between two times: the incident's timeline and impact.

Read from the raw samples in (from, to]: the ErrorBudgetBurn alerts (Prometheus's own `ALERTS`
series, one sample per rule evaluation while firing), each policy's breaker state, fallbacks and
failures (`resilience_*`), and the SLI's requests and errors. A change seen at a sample happened
in the scrape interval before it: every time here is the sample that first shows it, so it is
at most one scrape interval (one evaluation interval for alerts) after the real one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from planner.slo.definition import SloDefinition
from planner.slo.prometheus import PrometheusClient, Series
from planner.slo.rules import ALERT_NAME

__all__ = ["Event", "Incident", "read_incident"]

#: Events at the same second, in causal order: the failure, then what reacts to it.
_ORDER = {
    k: i
    for i, k in enumerate(
        (
            "failures_start",
            "fallback_start",
            "breaker_open",
            "page_fired",
            "ticket_fired",
            "breaker_closed",
            "fallback_stop",
            "page_resolved",
            "ticket_resolved",
        )
    )
}

#: Samples before `from` read too, so a change at the first sample inside is seen as one.
_LOOKBACK = 300.0


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline."""

    at: float  # unix seconds
    kind: str  # page_fired | page_resolved | breaker_open | breaker_closed | fallback_start
    # | fallback_stop | failures_start | sli_errors_start | sli_errors_stop
    policy: str  # the policy, or the alert's severity for alerts
    text: str


@dataclass(frozen=True, slots=True)
class Incident:
    """The timeline and impact of (from, to]."""

    start: float
    end: float
    events: tuple[Event, ...]
    first_failing: str | None  # the policy whose failures rose first
    attempt_timeouts: float  # of that policy in the range: latency, not errors, when > 0
    requests: float | None  # SLI requests in the range; None: no SLI series
    failed: float | None
    still_firing: bool  # a page alert still firing at `to`
    breaker_open_at_end: tuple[str, ...]

    def first(self, kind: str, policy: str | None = None) -> Event | None:
        """The earliest event of `kind` (of `policy`)."""
        for event in self.events:
            if event.kind == kind and (policy is None or event.policy == policy):
                return event
        return None

    def last(self, kind: str, policy: str | None = None) -> Event | None:
        """The latest event of `kind` (of `policy`)."""
        found = None
        for event in self.events:
            if event.kind == kind and (policy is None or event.policy == policy):
                found = event
        return found


def _inside(series: Series, start: float) -> list[tuple[float, float]]:
    return [(t, v) for t, v in series.samples if t > start]


def _rises(series: Series, start: float) -> list[float]:
    """Times of the samples in the range where the counter rose (a reset counts as a rise).

    A series first seen inside the range with a value was born there (prometheus-client creates
    a labelled child on first use: a breaker's first transition, a policy's first failure)."""
    out = []
    previous: float | None = None
    for t, value in series.samples:
        if (value != previous if previous is not None else value > 0) and t > start:
            out.append(t)
        previous = value
    return out


def _episodes(times: Iterable[float], gap: float) -> list[tuple[float, float]]:
    """Runs of times no more than `gap` apart: (first, last)."""
    runs: list[tuple[float, float]] = []
    for t in sorted(times):
        if runs and t - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def _step(series: list[Series]) -> float:
    diffs = sorted(
        b[0] - a[0] for s in series for a, b in zip(s.samples, s.samples[1:], strict=False)
    )
    return diffs[len(diffs) // 2] if diffs else 0.0


class _Reader:
    """Reads the events of (start, end] into `events`, one signal at a time."""

    def __init__(self, client: PrometheusClient, start: float, end: float, pol: str) -> None:
        self.client = client
        self.end = end
        self.lo = start
        self.window = end - start + _LOOKBACK
        self.pol = pol
        self.scrape = 0.0
        self.events: list[Event] = []

    async def alerts(self, slo: SloDefinition) -> bool:
        """The burn-rate alerts' firing and resolving; whether a page still fires at the end."""
        client, window, end, lo, events = self.client, self.window, self.end, self.lo, self.events
        # -- the burn-rate alerts: Prometheus writes ALERTS at every evaluation while one fires
        alerts = await client.series(
            f'ALERTS{{alertname="{ALERT_NAME}",alertstate="firing",slo="{slo.name}"}}', window, end
        )
        evaluation = _step(alerts)
        still_firing = False
        by_severity: dict[str, list[float]] = {}
        for series in alerts:
            severity = series.labels.get("severity", "")
            by_severity.setdefault(severity, []).extend(t for t, _ in _inside(series, lo))
        for severity, times in sorted(by_severity.items()):
            for first, last in _episodes(times, 2.5 * evaluation if evaluation else 60.0):
                events.append(
                    Event(first, f"{severity}_fired", severity, f"{ALERT_NAME} {severity} fires")
                )
                if end - last <= 1.5 * (evaluation or 60.0):
                    if severity == "page":
                        still_firing = True
                    continue
                resolved = last + (evaluation or 0.0)
                events.append(
                    Event(
                        resolved,
                        f"{severity}_resolved",
                        severity,
                        f"{ALERT_NAME} {severity} resolves",
                    )
                )
        return still_firing

    async def breakers(self) -> list[str]:
        """Breaker transitions; the policies whose breaker is open at the end."""
        client, window, end, lo, events = self.client, self.window, self.end, self.lo, self.events
        pol = self.pol
        # -- breakers: the transitions counter (a gauge read at scrapes misses a short open)
        last_move: dict[str, tuple[float, str]] = {}
        for series in await client.series(
            f'resilience_circuit_breaker_transitions_total{{policy=~"{pol}"}}', window, end
        ):
            policy = series.labels.get("policy", "")
            to_state = series.labels.get("to_state", "")
            for t in _rises(series, lo):
                kind = {"open": "breaker_open", "closed": "breaker_closed"}.get(to_state)
                if kind is not None:
                    verb = "opens" if to_state == "open" else "closes"
                    if to_state == "open" and series.labels.get("from_state") == "half_open":
                        verb = "opens again (its half-open probe failed)"
                    events.append(Event(t, kind, policy, f"circuit breaker of {policy} {verb}"))
                if kind is not None and (policy not in last_move or t >= last_move[policy][0]):
                    last_move[policy] = (t, to_state)
        # open at the end: its last move was to open (half-open probes in between do not close it)
        open_at_end = [p for p, (_, state) in last_move.items() if state == "open"]
        return open_at_end

    async def calls(self) -> str | None:
        """Fallbacks starting and stopping, failures starting; the first failing policy."""
        client, window, end, lo, events = self.client, self.window, self.end, self.lo, self.events
        pol = self.pol
        # -- fallbacks and failures: counters that rise while they happen
        calls = await client.series(
            f'resilience_calls_total{{outcome=~"fallback|failure",policy=~"{pol}"}}', window, end
        )
        failing: dict[str, list[float]] = {}
        scrape = _step(calls)
        first_failure: tuple[float, str] | None = None
        for series in calls:
            policy = series.labels.get("policy", "")
            outcome = series.labels.get("outcome", "")
            for first, last in _episodes(_rises(series, lo), 2.5 * scrape if scrape else 60.0):
                if outcome == "fallback":
                    events.append(
                        Event(first, "fallback_start", policy, f"fallback of {policy} starts")
                    )
                    if end - last > 1.5 * (scrape or 60.0):
                        events.append(
                            Event(last, "fallback_stop", policy, f"fallback of {policy} stops")
                        )
            # a call that failed, whether a fallback then served it or not
            failing.setdefault(policy, []).extend(_rises(series, lo))
        for policy, times in sorted(failing.items()):
            for first, _ in _episodes(times, 2.5 * scrape if scrape else 60.0):
                events.append(Event(first, "failures_start", policy, f"{policy} starts failing"))
                if first_failure is None or first < first_failure[0]:
                    first_failure = (first, policy)
        first_failing = first_failure[1] if first_failure else None
        self.scrape = scrape
        return first_failing

    async def users(self, slo: SloDefinition) -> None:
        """The users' failing requests starting and stopping (the SLI's error series)."""
        client, window, end, lo, events = self.client, self.window, self.end, self.lo, self.events
        scrape = self.scrape
        # -- users' requests failing: the SLI's error series (born with the first error)
        if slo.errors is not None:
            errors = await client.series(slo.errors.render(), window, end)
            step = _step(errors) or scrape
            rises = [t for series in errors for t in _rises(series, lo)]
            for first, last in _episodes(rises, 2.5 * step if step else 60.0):
                events.append(
                    Event(first, "sli_errors_start", slo.name, "users' requests start failing")
                )
                if end - last > 1.5 * (step or 60.0):
                    events.append(
                        Event(last, "sli_errors_stop", slo.name, "users' requests stop failing")
                    )


async def read_incident(
    client: PrometheusClient,
    slo: SloDefinition,
    policies: tuple[str, ...],
    start: float,
    end: float,
) -> Incident:
    """The timeline and impact of (start, end] for `slo` and the plan's `policies`."""
    pol = "|".join(re.escape(p).replace("\\", "\\\\") for p in policies) or "^$"
    r = _Reader(client, start, end, pol)
    still_firing = await r.alerts(slo)
    open_at_end = await r.breakers()
    first_failing = await r.calls()
    await r.users(slo)
    events = r.events
    timeouts = 0.0
    if first_failing is not None:
        found = await client.total(
            f'sum(increase(resilience_timeouts_total{{policy="{first_failing}",kind="attempt"}}'
            f"[{round(end - start)}s]))",
            end,
        )
        timeouts = found or 0.0
    requests = failed = None
    if slo.total is not None and slo.errors is not None:
        span = f"{round(end - start)}s"
        requests = await client.total(f"sum(increase({slo.total.render()}[{span}]))", end)
        failed = await client.total(f"sum(increase({slo.errors.render()}[{span}]))", end)
        if requests is not None and failed is None:
            failed = 0.0
    events.sort(key=lambda e: (e.at, _ORDER.get(e.kind, len(_ORDER))))
    return Incident(
        start,
        end,
        tuple(events),
        first_failing,
        timeouts,
        requests,
        failed,
        still_firing,
        tuple(open_at_end),
    )
