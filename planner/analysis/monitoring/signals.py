"""The health signals of the monitoring section, each threshold derived from the plan.

- availability over the period: warning when half the error budget is gone, critical when all is;
- errors over 5 minutes: warning above a burn rate of 1 (the budget lasts exactly the period),
  critical above the fastest page burn rate (the alert set's);
- latency p99 per entry point: warning above its p99 × 1.5 (the headroom the callers' timeouts
  use), critical above its latency budget (callers give up), or 3 × p99 without a budget;
- saturation (CPU): with n replicas, losing one moves its load to n − 1, so each must stay under
  (n − 1)/n to absorb it (critical) with a 20 % margin before that (warning); one replica: 80 %;
- bulkheads: warning above 1/1.5 of capacity (the p99 load Little's law sized them for),
  critical when the smallest bulkhead (n slots) has one free slot left: (n − 1)/n;
- circuit breakers of the entry points' hard dependencies (their outage is the system's): the
  share of the last 5 minutes the breaker was open, warning above 0 (it opened), critical above
  half (the half-open probes keep failing: the dependency is down, not blipping).

Each row names the alert of `reliability rules` that implements it (`Signal.rule`,
planner.slo.detection writes them).
"""

from __future__ import annotations

from planner.analysis.graph import Graph
from planner.analysis.mechanisms import BULKHEAD_HEADROOM, TIMEOUT_HEADROOM, latency
from planner.analysis.monitoring.alerts import Alerts
from planner.model import Figure, Signal
from planner.slo.definition import SloDefinition
from planner.slo.detection import (
    BREAKER_ALERT,
    BULKHEAD_ALERT,
    CPU_ALERT,
    latency_slo_name,
)
from planner.slo.rules import ALERT_NAME
from planner.units import format_percent

__all__ = ["health_signals"]


def _sli(slo: SloDefinition, window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}{slo.selector_labels}"


def health_signals(
    graph: Graph,
    alerts: Alerts,
    smallest_bulkhead: int | None,
    critical_breakers: tuple[str, ...] = (),
) -> tuple[Signal, ...]:
    """Availability, errors, latency and CPU per entry point, the bulkheads' saturation and the
    breakers of the critical dependencies (`critical_breakers`: their policies)."""
    signals = [*_slo_signals(alerts)]
    signals += [_latency_signal(graph, entry) for entry in sorted(graph.entry_shares)]
    signals += [_cpu_signal(graph, entry) for entry in sorted(graph.entry_shares)]
    if smallest_bulkhead is not None:  # nothing to saturate: no row for a metric never exported
        signals.append(_bulkhead_signal(smallest_bulkhead))
    signals += [_breaker_signal(policy) for policy in critical_breakers]
    return tuple(signals)


def _slo_signals(alerts: Alerts) -> tuple[Signal, Signal]:
    """Uptime over the period and the 5-minute error rate, from the alert set."""
    slo = alerts.slo
    target = slo.objective
    budget_pct = 100.0 - target
    period = alerts.period.rule_window
    page = alerts.page_burn_rate
    return (
        Signal(
            "Availability",
            "Uptime %",
            f"100 * (1 - {_sli(slo, period)})",
            "<",
            Figure(100.0 - budget_pct / 2, "%", "100 - budget / 2", {"objective": target}),
            Figure(target, "%", "objective", {"objective": target}),
            "Page",
            f"half the {period} error budget gone warns; all of it is an SLO breach",
            ALERT_NAME,
            (),
            slo.name,
        ),
        Signal(
            "Errors",
            "Rate (5m)",
            f"100 * {_sli(slo, '5m')}",
            ">",
            Figure(budget_pct, "%", "burn rate 1 × (100 - objective)", {"objective": target}),
            Figure(
                page * budget_pct,
                "%",
                "page burn rate × (100 - objective)",
                {"burn_rate": page, "objective": target},
            ),
            "Page",
            f"above {format_percent(budget_pct)}% the budget runs out before the period ends;"
            f" above {page:g}× it is the fast-burn page",
            ALERT_NAME,
            (),
            slo.name,
        ),
    )


def _latency_signal(graph: Graph, entry: str) -> Signal:
    """An entry point's p99: warning at the callers' timeout headroom, critical at its budget."""
    comp = graph.components[entry]
    _p50, p99, src = latency(graph, entry)
    warn = p99 * TIMEOUT_HEADROOM
    crit = comp.latency_budget if comp.latency_budget is not None else 3 * p99
    return Signal(
        "Latency",
        f"p99 ({entry})",
        "histogram_quantile(0.99, sum by (le) (rate("
        f'http_server_request_duration_seconds_bucket{{job="{entry}"}}[5m])))',
        ">",
        Figure(
            warn,
            "s",
            "p99 × headroom",
            {"p99": p99, "headroom": TIMEOUT_HEADROOM, "p99_source": src},
        ),
        Figure(crit, "s", "latency_budget", {"latency_budget": crit})
        if comp.latency_budget is not None
        else Figure(crit, "s", "3 × p99", {"p99": p99, "p99_source": src}),
        "Page",
        "beyond p99 × 1.5 callers' timeouts start to fire; beyond the budget callers give up",
        ALERT_NAME,
        (entry,),
        latency_slo_name(entry),
    )


def _cpu_signal(graph: Graph, entry: str) -> Signal:
    """An entry point's CPU: with n replicas each must absorb a lost one's load (N+1)."""
    n = graph.components[entry].replicas
    crit = (n - 1) / n * 100.0 if n > 1 else 80.0
    return Signal(
        "Saturation",
        f"CPU ({entry})",
        f'100 * max(rate(process_cpu_seconds_total{{job="{entry}"}}[5m]))',
        ">",
        Figure(crit * 0.8, "%", "0.8 × critical", {"critical": crit}),
        Figure(
            crit,
            "%",
            "(n - 1) / n × 100 (N+1)" if n > 1 else "single replica: 80 %",
            {"replicas": n},
        ),
        "Scale",
        f"{n} replicas: losing one must not overload the rest"
        if n > 1
        else "one replica: keep 20 % for spikes",
        CPU_ALERT,
        (entry,),
    )


def _bulkhead_signal(smallest_bulkhead: int) -> Signal:
    """The busiest bulkhead's share of its capacity."""
    warn = 100.0 / BULKHEAD_HEADROOM
    # critical: the smallest bulkhead has at most one free slot, so the next burst waits or is
    # rejected (never below the warning, which a one- or two-slot bulkhead would put it under)
    crit = max(warn, (smallest_bulkhead - 1) / smallest_bulkhead * 100.0)
    return Signal(
        "Saturation",
        "Bulkheads",
        "100 * max by (policy) (resilience_bulkhead_in_flight / resilience_bulkhead_capacity)",
        ">",
        Figure(warn, "%", "1 / headroom", {"headroom": BULKHEAD_HEADROOM}),
        Figure(
            crit,
            "%",
            "max(1 / headroom, (n - 1) / n) × 100, n = the smallest bulkhead: one free slot",
            {"smallest_bulkhead": smallest_bulkhead},
        ),
        "Scale",
        "bulkheads are sized for a slowdown (each call holding its slot up to the attempt"
        " timeout) with headroom; above that share the dependency is slower or busier than"
        " planned",
        BULKHEAD_ALERT,
    )


def _breaker_signal(policy: str) -> Signal:
    """The share of the last 5 minutes a critical dependency's breaker was open."""
    return Signal(
        "Breaker",
        f"open ({policy})",
        "100 * max(avg_over_time(resilience_circuit_breaker_state"
        f'{{policy="{policy}",state="open"}}[5m]))',
        ">",
        Figure(0.0, "%", "open at any time of the window", {"window_s": 300}),
        Figure(
            50.0,
            "%",
            "open over half of the window: the half-open probes keep failing",
            {"window_s": 300, "share": 0.5},
        ),
        "Page",
        "a hard dependency of an entry point: while its breaker is open its callers fail fast",
        BREAKER_ALERT,
        (policy,),
    )
