"""The rules behind every row of the plan's MONITORING & ALERTS table (`reliability rules`).

Each `Signal` names its rule (`Signal.rule`), and this module writes it from the row itself, so
the table and the rule file cannot disagree:

- Availability and Errors: the SLO's `ErrorBudgetBurn` alerts (planner.slo.rules).
- Latency p99 of an entry point: a latency SLO, `latency-<entry>`, from the server histogram:
  good = requests in the bucket `le` = the largest boundary at or under the row's critical
  threshold, objective 99 % (p99 above the threshold ⟺ more than 1 % of requests slower), through
  the same burn-rate rules and low-traffic guard as the availability SLO; its alerts are
  `ErrorBudgetBurn{slo="latency-<entry>"}`.
- Saturation (CPU per entry point, bulkheads) and breakers open on critical (hard, entry-point)
  dependencies: threshold alerts on the row's own PromQL, sustained for `for`, severity
  `warning` at the warning threshold and the row's action (page, or ticket for Scale) at the
  critical one. They carry the main SLO's `service` and `slo` labels and `derived: "true"`, so
  Alertmanager silences them while that SLO's page fires (`alertmanager_inhibition`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.model import Runbook, Signal
from planner.render.runbooks import runbook_names
from planner.slo.definition import SloDefinition
from planner.slo.rules import ALERT_NAME, AlertLinks
from planner.slo.selector import parse_selector

__all__ = [
    "BREAKER_ALERT",
    "BULKHEAD_ALERT",
    "CPU_ALERT",
    "HTTP_DURATION_BUCKETS",
    "LATENCY_OBJECTIVE",
    "SUSTAINED",
    "detection_groups",
    "detection_warnings",
    "latency_bucket",
    "latency_links",
    "latency_slo_name",
    "latency_slos",
]

CPU_ALERT = "CpuSaturation"
BULKHEAD_ALERT = "BulkheadSaturation"
BREAKER_ALERT = "CircuitBreakerOpen"

#: The exporters' histogram boundaries (exporters.prometheus.DURATION_BUCKETS; a test keeps the
#: two equal: the planner does not import the exporters).
HTTP_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

#: A p99 row: 99 % of requests under the threshold.
LATENCY_OBJECTIVE = 99.0

#: How long a threshold alert's condition must hold: a 5-minute rate crossing once is a spike.
SUSTAINED = {CPU_ALERT: "5m", BULKHEAD_ALERT: "5m", BREAKER_ALERT: "1m"}

_SEVERITY = {"Page": "page", "Scale": "ticket", "Ticket": "ticket"}

_HISTOGRAM = "http_server_request_duration_seconds"


def latency_slo_name(entry: str) -> str:
    """The latency SLO of an entry point: `latency-<entry>`."""
    return f"latency-{entry}"


def latency_bucket(threshold_s: float) -> float:
    """The largest histogram boundary at or under `threshold_s` (the smallest one if none is)."""
    under = [b for b in HTTP_DURATION_BUCKETS if b <= threshold_s + 1e-12]
    return under[-1] if under else HTTP_DURATION_BUCKETS[0]


def latency_slos(signals: Sequence[Signal], main: SloDefinition) -> list[SloDefinition]:
    """One latency SLO per Latency row (good = requests under its bucket), as the rules need."""
    out = []
    for row in signals:
        if row.signal != "Latency" or not row.scope:
            continue
        entry = row.scope[0]
        le = latency_bucket(row.critical.value)
        job = f'job="{entry}"'
        out.append(
            SloDefinition(
                service=main.service,
                name=latency_slo_name(entry),
                objective=LATENCY_OBJECTIVE,
                period=main.period,
                kind="good",
                total=parse_selector(f"{_HISTOGRAM}_count{{{job}}}"),
                good=parse_selector(f'{_HISTOGRAM}_bucket{{{job},le="{le!r}"}}'),
                description=f"Share of {entry}'s HTTP requests answered within {le:g} s",
            )
        )
    return out


def detection_warnings(signals: Sequence[Signal], service: str) -> list[str]:
    """Latency rows beyond the histogram's largest boundary: the SLO is stricter than the row."""
    out = []
    for row in signals:
        if row.signal == "Latency" and row.scope and row.critical.value > HTTP_DURATION_BUCKETS[-1]:
            out.append(
                f"{service}/{latency_slo_name(row.scope[0])}: the p99 threshold"
                f" {row.critical.value:g} s is above the largest bucket of {_HISTOGRAM}"
                f" ({HTTP_DURATION_BUCKETS[-1]:g} s); the latency SLO counts requests within"
                f" {HTTP_DURATION_BUCKETS[-1]:g} s"
            )
    return out


class _Runbooks:
    """The plan's runbooks (highest priority first) by component, indexed once: each alert
    asks which of them it links, and a search of the list per alert was quadratic."""

    def __init__(self, runbooks: Sequence[Runbook], base: str) -> None:
        names = runbook_names(tuple(runbooks))
        #: component → (position, failure-mode ID, URL) of each of its runbooks, in order
        self.of: dict[str, list[tuple[int, str, str]]] = {}
        for i, (r, name) in enumerate(zip(runbooks, names, strict=True)):
            self.of.setdefault(r.component, []).append((i, r.failure_mode_id, base + name))

    def _mine(self, components: Sequence[str]) -> list[tuple[int, str, str]]:
        found = [book for c in set(components) for book in self.of.get(c, ())]
        return sorted(found) if len(components) > 1 else found

    def link(self, components: Sequence[str], fallback: str) -> str:
        """The highest-priority runbook of a failure mode of `components`, else `fallback`."""
        firsts = [books[0] for c in set(components) if (books := self.of.get(c))]
        return min(firsts)[2] if firsts else fallback

    def ids(self, components: Sequence[str]) -> tuple[str, ...]:
        """The failure-mode IDs of the runbooks of `components`, highest priority first."""
        return tuple(fm for _, fm, _ in self._mine(components))


def _threshold_alerts(row: Signal, main: SloDefinition, url: str) -> list[dict[str, Any]]:
    """Warning and critical alerts on the row's own PromQL."""
    name = row.rule
    target = ", ".join(row.scope) or "bulkheads"
    out = []
    for severity, figure in (("warning", row.warning), (_SEVERITY[row.action], row.critical)):
        value = f"{round(figure.value, 6):g}"
        unit = "%" if figure.unit == "%" else f" {figure.unit}"
        above = "above" if row.comparison == ">" else "below"
        out.append(
            {
                "alert": name,
                "expr": f"{row.promql} {row.comparison} {value}",
                "for": SUSTAINED[name],
                "labels": {
                    "service": main.service,
                    "slo": main.name,
                    "severity": severity,
                    "derived": "true",
                    "target": target,
                },
                "annotations": {
                    "summary": f"{main.service}: {row.signal} {row.metric} {above}"
                    f" {figure.value:.4g}{unit} for {SUSTAINED[name]} ({severity})",
                    "description": f'Now {{{{ $value | printf "%.4g" }}}}{unit}; threshold'
                    f" {figure.formula}: {row.reason}.",
                    "runbook_url": url,
                },
            }
        )
    return out


def latency_links(
    signals: Sequence[Signal], main: SloDefinition, runbooks: Sequence[Runbook], base_url: str
) -> dict[tuple[str, str], AlertLinks]:
    """What each latency SLO's alerts link: the highest-priority runbook of its entry point."""
    out = {}
    books = _Runbooks(runbooks, base_url)
    for row in signals:
        if row.signal == "Latency" and row.scope:
            url = books.link(row.scope, base_url)
            out[(main.service, latency_slo_name(row.scope[0]))] = AlertLinks(
                url, books.ids(row.scope)
            )
    return out


def detection_groups(
    signals: Sequence[Signal],
    main: SloDefinition,
    runbooks: Sequence[Runbook],
    links: Mapping[tuple[str, str], AlertLinks],
    base_url: str,
) -> list[dict[str, Any]]:
    """The threshold alerts of the rows whose rule is not a burn-rate alert, in one group.

    Each links the highest-priority runbook of a failure mode of what the row watches (a
    breaker's target, an entry point), else the main SLO's runbook.
    """
    main_link = links.get((main.service, main.name), AlertLinks(base_url)).runbook_url
    rules: list[dict[str, Any]] = []
    books = _Runbooks(runbooks, base_url)
    for row in signals:
        if row.rule == ALERT_NAME:
            continue
        # a policy is named after its target, or caller.target
        components = [name.rsplit(".", 1)[-1] for name in row.scope]
        rules += _threshold_alerts(row, main, books.link(components, main_link))
    return [{"name": f"detection-{main.service}", "rules": rules}] if rules else []
