"""The call a fallback makes to a component its caller does not declare as a dependency.

When `web → cache` falls back to `db` and `web` does not list `db` among its dependencies, the
call web → db still happens — during the cache's outage — so it gets a policy of its own,
`web.db` (`fallback_call_policy`), derived by the rules of a declared edge
(planner.analysis.mechanisms.edge_rules) except where a fallback call differs:

- load: the primary edges' rps, summed over every primary of that caller with this fallback
  (during their outage their whole load moves here), not a steady-state figure; the bulkhead is
  sized from it and its row carries the capacity check (the moved load on top of the fallback's
  own traffic against its quota or capacity, `capacity_check`);
- deadline: the fallback timeout (fallback p99 × 1.5, rounded up to 10 ms) that the primary's
  deadline reserves, so the fallback never spends budget the primary did not set aside — one
  attempt; a caller without a latency budget gets attempts × timeout + backoff as on any edge;
- retries: the operation decides: the primary's declared `idempotent` (any false wins), else the
  fallback's kind (database and queue calls are writes);
- rate limiter: the fallback's quota split by traffic between its own load and the moved load;
- critical when a primary is hard; a soft primary's fallback call still degrades when it fails.

Availability and the blast radius already count such an edge as primary OR fallback path
(planner.analysis.availability, planner.analysis.blast): they read the fallback component from
the primary's EdgePlan, declared edge or not.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from planner.analysis.graph import Edge, Graph
from planner.analysis.mechanisms.common import TIMEOUT_HEADROOM, Budget, EdgePlan, ceil_to
from planner.analysis.mechanisms.edge_rules import EdgeRules
from planner.analysis.mechanisms.fallback import capacity_check, fallback_call_policy
from planner.model import Figure, MechanismRow
from planner.spec import Dependency
from planner.units import format_spec_duration as fmt

__all__ = ["FallbackCall", "derive_fallback_call", "fallback_calls"]


@dataclass(frozen=True)
class FallbackCall:
    """caller → fallback, made only when one of `primaries` fails."""

    edge: Edge  # caller → fallback, not one of the graph's edges
    primaries: tuple[Edge, ...]  # the caller's edges that fall back to it
    primary_policies: tuple[str, ...]
    rps: float | None  # the primaries' load, moved onto the fallback while they are down

    @property
    def policy(self) -> str:
        """`caller.fallback`."""
        return fallback_call_policy(self.edge.caller, self.edge.target)

    @property
    def primary_names(self) -> str:
        """The primaries' names, for reasons: `cache` or `cache and search`."""
        return " and ".join(e.target for e in self.primaries)


def _idempotent(primaries: list[Edge]) -> bool | None:
    """The operation's declared idempotency: false if any primary says so, true if all do."""
    declared = [e.dep.idempotent for e in primaries]
    if any(d is False for d in declared):
        return False
    return True if all(d is True for d in declared) else None


def fallback_calls(graph: Graph, policies: dict[int, str]) -> list[FallbackCall]:
    """Every caller → fallback call whose target the caller does not declare, by caller name;
    `policies` maps id(edge) of the graph's edges to their policy names."""
    calls: list[FallbackCall] = []
    for caller in sorted(_calling_fallbacks(graph)):
        declared = {e.target for e in graph.edges[caller]}
        grouped: dict[str, list[Edge]] = {}
        for edge in graph.edges[caller]:
            fallback = graph.fallback_of(edge)
            if fallback is not None and fallback not in declared:
                grouped.setdefault(fallback, []).append(edge)
        for fallback in sorted(grouped):
            primaries = grouped[fallback]
            loads = [graph.edge_rps(e) for e in primaries]
            dep = Dependency(
                target=fallback,
                type="hard" if any(e.hard for e in primaries) else "soft",
                calls_per_request=max(e.dep.calls_per_request for e in primaries),
                idempotent=_idempotent(primaries),
            )
            calls.append(
                FallbackCall(
                    Edge(caller, dep),
                    tuple(primaries),
                    tuple(policies[id(e)] for e in primaries),
                    None if any(r is None for r in loads) else math.fsum(r or 0.0 for r in loads),
                )
            )
    return calls


def _calling_fallbacks(graph: Graph) -> list[str]:
    """The components with an edge whose fallback is a component: few, on a large system."""
    fallback_of, edges = graph.fallback_of, graph.edges
    return [name for name in graph.names if any(fallback_of(e) is not None for e in edges[name])]


def derive_fallback_call(
    graph: Graph, call: FallbackCall, budget: Budget | None
) -> tuple[EdgePlan, dict[str, Any], list[MechanismRow]]:
    """(the fallback call's plan, its mechanism-table entry, its report rows)."""
    return _FallbackCallRules(graph, call, budget).run()


class _FallbackCallRules(EdgeRules):
    def __init__(self, graph: Graph, call: FallbackCall, budget: Budget | None) -> None:
        super().__init__(graph, call.edge, budget, call.policy, call.rps)
        self.call = call
        self.load_label = f"the load moved from {call.primary_names}"

    def deadline_from_budget(self) -> tuple[float | None, Figure | None]:
        """The fallback timeout the primaries' deadlines reserve; None without a budget."""
        if self.budget is None:
            return None, None
        value = ceil_to(self.p99 * TIMEOUT_HEADROOM)
        return value, Figure(
            value,
            "s",
            "fallback timeout reserved by the primary's deadline: ceil_10ms(p99 × headroom)",
            {
                "p99": self.p99,
                "headroom": TIMEOUT_HEADROOM,
                "reserved_by": ", ".join(self.call.primary_policies),
            },
        )

    def _deadline_reason(self, deadline: float, fig: Figure) -> str:
        if not fig.formula.startswith("fallback timeout"):
            return super()._deadline_reason(deadline, fig)
        return (
            f"the {fmt(deadline)} that the deadline of {', '.join(self.call.primary_policies)}"
            f" reserves for its fallback ({self.target} p99 {fmt(self.p99)} × {TIMEOUT_HEADROOM}):"
            f" the fallback call spends no budget the primary did not set aside"
        )

    def quota_share(self) -> tuple[float, str]:
        """The moved load's share of the fallback's quota, next to the fallback's own traffic."""
        own = self.graph.rps[self.target] or 0.0
        if self.rps is None:
            share = 1.0 / (len(self.graph.callers[self.target]) + 1)
            return share, f" × an equal share {share:.2f} (no rps for {self.caller})"
        share = self.rps / (own + self.rps)
        return share, (
            f" × the moved load's share {share:.2f} ({self.rps:g}/s from {self.caller} next to"
            f" {self.target}'s own {own:g}/s during a {self.call.primary_names} outage)"
        )

    def bulkhead(self) -> int | None:
        """Sized as on any edge from the moved load; its row also checks the fallback's capacity."""
        size = super().bulkhead()
        text, figure = capacity_check(
            self.graph, self.call.primary_names, self.target, self.call.rps
        )
        lead = (
            f"only while {self.call.primary_names} is down does {self.caller} call"
            f" {self.target}, with {self.call.primary_names}'s load"
        )
        if size is None:  # no rps: neither can be sized, as on any edge
            return None
        row = self.rows[-1]
        figs = dict(row.figures)
        if figure is not None:
            figs["fallback_capacity"] = figure
        self.rows[-1] = dataclasses.replace(row, reason=f"{lead}: {row.reason}{text}", figures=figs)
        return size
