"""The inbound policy of each entry point: what it does with the requests it receives.

The policy is named after the entry component (the example gateway wraps every request in
``plan.policy("gateway")``), or ``<entry>.inbound`` when a dependency policy already has that
name (an entry point that other components call too). Each setting comes from the spec:

- bulkhead by Little's law, the same rule and burst margin as the dependency bulkheads
  (`edge_rules.bulkhead_capacity`): L = the entry's rps × its own p99 requests in flight,
  max concurrent = max(L × 1.5, L + 3√L); a request beyond it is refused at once (no queue), so
  an overload sheds the excess instead of slowing every request down. A request is in flight as
  long as its calls are, so L is at least Σ over its dependency edges of calls/s × the target's
  p99 (what the dependency bulkheads count): a declared p99 too low for the calls would
  otherwise size a bulkhead that sheds normal traffic (the reason says so);
- deadline = the entry's ``latency_budget``: past it the client has given up, and finishing the
  work would only hold a slot (the dependency deadlines are derived inside the same budget);
- rate limiter only where the spec declares what the entry point can take: ``capacity.rps``
  (from a load test) or a ``quota`` on the entry point, the lower of the two; above it requests
  are shed (load shedding), burst = the declared burst, else one second's worth.

- adaptive limit (and criticality shares where the spec declares ``request_criticality``)
  bounded above by that bulkhead: see planner.analysis.mechanisms.limits.

An entry point with none of rps, latency budget or capacity gets no inbound policy.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from planner.analysis.graph import Graph
from planner.analysis.mechanisms.common import (
    BULKHEAD_HEADROOM,
    bulkhead_capacity,
    format_count,
    latency,
)
from planner.analysis.mechanisms.limits import adaptive_limit
from planner.errors import PlannerError
from planner.model import Figure, MechanismRow
from planner.units import format_spec_duration as fmt

__all__ = ["InboundPlan", "derive_inbound", "inbound_policy_name"]


@dataclass(frozen=True)
class InboundPlan:
    """The derived inbound settings of one entry point."""

    entry: str
    policy: str
    deadline: float | None
    bulkhead: int | None
    rate_per_second: float | None


def inbound_policy_name(entry: str, taken: Container[str]) -> str:
    """The entry's name, or `<entry>.inbound` when a dependency policy already uses it."""
    for name in (entry, f"{entry}.inbound"):
        if name not in taken:
            return name
    raise PlannerError(
        f"inbound policy of entry point {entry!r}: the names {entry!r} and {entry + '.inbound'!r}"
        " are both taken by dependency policies (rename a component)"
    )


def derive_inbound(
    graph: Graph, names: Mapping[str, str]
) -> tuple[list[InboundPlan], dict[str, dict[str, Any]], list[MechanismRow]]:
    """(plans, mechanism-table entries, report rows) of every entry point, in name order;
    `names`: each entry point's policy (`inbound_policy_name`, given by `policy_names`)."""
    plans: list[InboundPlan] = []
    table: dict[str, dict[str, Any]] = {}
    rows: list[MechanismRow] = []
    for entry in sorted(graph.entry_shares):
        rules = _Inbound(graph, entry, names[entry])
        plan, section = rules.run()
        if not section:
            continue
        plans.append(plan)
        table[plan.policy] = section
        rows.extend(rules.rows)
    return plans, table, rows


class _Inbound:
    def __init__(self, graph: Graph, entry: str, policy: str) -> None:
        self.graph = graph
        self.entry = entry
        self.policy = policy
        self.comp = graph.components[entry]
        self.rps = graph.rps[entry]
        self.rows: list[MechanismRow] = []
        self.in_flight = 0.0  # L of the bulkhead, once derived

    def add(
        self, mech: str, kind: str, config: str, trigger: str, reason: str, **figs: Figure
    ) -> None:
        self.rows.append(
            MechanismRow(
                self.policy, "", self.entry, mech, kind, config, trigger, reason, figs, True
            )
        )

    def run(self) -> tuple[InboundPlan, dict[str, Any]]:
        section: dict[str, Any] = {}
        deadline = self.deadline()
        if deadline is not None:
            section["deadline"] = deadline
        bulkhead = self.bulkhead()
        if bulkhead is not None:
            section["bulkhead"] = {"max_concurrent": bulkhead}
            section["adaptive_limiter"], rows = adaptive_limit(
                self.entry, self.policy, self.in_flight, bulkhead, self.comp.request_criticality
            )
            self.rows.extend(rows)
        limiter = self.rate_limiter()
        if limiter is not None:
            section["rate_limiter"] = limiter
        rate = limiter["rate_per_second"] if limiter is not None else None
        return InboundPlan(self.entry, self.policy, deadline, bulkhead, rate), section

    def deadline(self) -> float | None:
        budget = self.comp.latency_budget
        if budget is None:
            return None
        self.add(
            "deadline",
            "Containment",
            f"{fmt(budget)} total",
            f"Request latency >{fmt(budget)}",
            f"{self.entry}.latency_budget {fmt(budget)}: past it the client has given up, so the"
            " request is cut short and frees its slot"
            + (
                " (its dependency deadlines are derived inside it)"
                if self.graph.edges[self.entry]
                else ""
            ),
            deadline=Figure(
                budget,
                "s",
                "entry latency_budget",
                {"budget": budget, "budget_from": f"{self.entry}.latency_budget"},
            ),
        )
        return budget

    def bulkhead(self) -> int | None:
        if self.rps is None:
            return None
        _, p99, source = latency(self.graph, self.entry)
        own = self.rps * p99
        # a request stays in flight while its calls do: Little's law over the calls (calls/s ×
        # the target's p99, as the dependency bulkheads count them) is a floor for the entry's
        calls = math.fsum(
            rate * latency(self.graph, edge.target)[1]
            for edge in self.graph.edges[self.entry]
            if (rate := self.graph.edge_rps(edge)) is not None
        )
        in_flight = self.in_flight = max(own, calls)
        size = bulkhead_capacity(in_flight)
        reason = (
            f"Little's law: {self.rps:g} requests/s × {self.entry} p99 {fmt(p99)} ({source})"
            f" = {format_count(own)} in flight"
        )
        if calls > own:
            reason += (
                f", but its dependency calls alone keep {format_count(calls)} in flight"
                f" (Σ calls/s × the target's p99, as their bulkheads count them): the larger"
                f" counts, or this bulkhead would shed normal traffic ({self.entry}'s declared"
                " p99 looks too low for its calls)"
            )
        reason += (
            f"; × {BULKHEAD_HEADROOM:g} headroom, at least + 3√ of it for bursts; a request"
            " beyond it is refused at once (BulkheadFullError: answer 503), not queued"
        )
        self.add(
            "bulkhead",
            "Isolation",
            f"{size:,} concurrent",
            f"Load >{size:,} in flight",
            reason,
            max_concurrent=Figure(
                size,
                "count",
                "ceil(max(L × headroom, L + 3√L)), L = max(rps × p99, Σ call rps × target p99)",
                {
                    "rps": self.rps,
                    "p99": p99,
                    "p99_source": source,
                    "calls_in_flight": round(calls, 6),
                    "headroom": BULKHEAD_HEADROOM,
                },
            ),
        )
        return size

    def rate_limiter(self) -> dict[str, Any] | None:
        declared = [
            (limit.rps, limit.burst, f"{self.entry}.{field}.rps")
            for field, limit in (("capacity", self.comp.capacity), ("quota", self.comp.quota))
            if limit is not None
        ]
        if not declared:
            return None
        rate, burst_declared, source = min(declared, key=lambda d: d[0])
        burst = burst_declared if burst_declared is not None else max(1, math.floor(rate))
        over = (
            f"; normal traffic {self.rps:g}/s already exceeds it: expect shedding (add capacity)"
            if self.rps is not None and self.rps > rate
            else ""
        )
        self.add(
            "rate_limiter",
            "Prevention",
            f"{rate:g}/s, burst {burst}",
            f">{rate:g} requests/s",
            f"declared capacity {rate:g}/s ({source}): requests above it are shed"
            f" (RateLimitedError: answer 503 with Retry-After), so the admitted ones keep their"
            f" latency{over}",
            rate_per_second=Figure(rate, "1/s", "declared capacity", {"rps": rate, "from": source}),
        )
        return {"rate_per_second": rate, "burst": burst}
