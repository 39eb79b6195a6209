"""Redundancy and isolation design.

A serial chain of m components meets a target T only if each does better than T; the plan asks
each component on an entry's hard path for `1 − (1 − T)/m` (the error budget split evenly over the
m components of the largest chain it sits in) and proposes the fewest replicas — keeping its k —
that reach it, spread over the declared zones. Managed kinds (model and external APIs, DNS, CDN,
object storage, load balancers) cannot be replicated by us: the proposal is independent providers
behind a fallback. A component whose callers declare a fallback that already lifts every entry
using it to the target gets no proposal: that fallback is its redundancy, and the plan says so.
Isolation: a bulkhead per dependency of every caller with two or more, so one
saturated dependency cannot hold every worker of the caller.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from planner.analysis.availability import (
    Modeled,
    combine_entries,
    component_availability,
    entry_availability,
    entry_availability_with,
    system_availability,
)
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import Mechanisms, latency
from planner.model import (
    FallbackRedundancy,
    Figure,
    IsolationProposal,
    RedundancyProposal,
    RedundancySection,
)
from planner.perf import fsum_partials
from planner.units import format_percent
from planner.units import format_spec_duration as fmt

MAX_REPLICAS = 9


@dataclass
class _Chains:
    """Where each component sits on the entries' hard paths, and the availability it needs."""

    graph: Graph
    modeled: Modeled
    mech: Mechanisms
    target: float
    eff: dict[str, float]  # effective availability, fraction
    chain: dict[str, int] = field(default_factory=dict)  # longest serial chain it is in
    reach: dict[str, list[str]] = field(default_factory=dict)  # entries whose path holds it
    base: dict[str, float] = field(default_factory=dict)  # each entry's availability now
    zones: list[str] = field(default_factory=list)

    with_plan: dict[str, float] = field(default_factory=dict)  # entry → % with the fallbacks
    combined: _Combined | None = None  # combine_entries over `base`, a few entries changed

    def entry_with(self, entry: str) -> float:
        """The entry's availability (percent) with the plan's fallbacks, computed once."""
        found = self.with_plan.get(entry)
        if found is None:
            found = self.with_plan[entry] = 100.0 * entry_availability_with(
                self.mech, self.eff, entry
            )
        return found

    def need(self, name: str) -> float:
        """`1 − (1 − T)/m`: the target's error budget split over its longest chain, percent."""
        return 100.0 - (100.0 - self.target) / self.chain[name]

    @property
    def system_now(self) -> float:
        """The system's availability (fraction) as specified."""
        return combine_entries(self.graph, self.base)


def _chains(graph: Graph, modeled: Modeled, mech: Mechanisms) -> _Chains:
    eff = {n: f.value / 100.0 for n, f in modeled.effective.items()}
    ctx = _Chains(graph, modeled, mech, graph.spec.objective, eff)
    for entry in sorted(graph.entry_shares):
        members = (entry, *graph.hard_closure(entry))
        ctx.base[entry] = entry_availability(graph, eff, entry)
        for name in members:
            ctx.chain[name] = max(ctx.chain.get(name, 0), len(members))
            ctx.reach.setdefault(name, []).append(entry)
    ctx.zones = sorted({z for c in graph.components.values() for z in c.zones})
    return ctx


def design(graph: Graph, modeled: Modeled, mech: Mechanisms) -> RedundancySection:
    """Replica proposals for components below their share of the target, and bulkheads."""
    ctx = _chains(graph, modeled, mech)
    proposals: list[RedundancyProposal] = []
    covered: list[FallbackRedundancy] = []
    improved = dict(ctx.eff)
    for name in sorted(ctx.chain):
        if modeled.effective[name].value >= ctx.need(name):
            continue
        # what the users entering through it get with the plan's fallbacks, the worst entry first
        reach = ctx.reach[name]
        with_plan = {e: ctx.entry_with(e) for e in reach}
        worst = min(reach, key=lambda e: (with_plan[e], e))
        plans = mech.by_target.get(name, ())
        fallbacks = tuple(sorted({p.fallback for p in plans if p.fallback}))
        bypassed = all(name not in mech.mandatory_closure(e) for e in reach)
        if fallbacks and bypassed and with_plan[worst] >= ctx.target:
            covered.append(_covered(name, fallbacks, worst, with_plan[worst], modeled, ctx.target))
            continue
        proposal = _proposal(ctx, name, improved)
        note = (
            f"; with its fallback {', '.join(fallbacks)} {worst} reaches only"
            f" {format_percent(with_plan[worst])}% (target {format_percent(ctx.target)}%)"
            if fallbacks and bypassed
            else f"; {worst}'s users get {format_percent(with_plan[worst])}% with the plan"
        )
        if not proposal.placement and not graph.facts[name].managed and not ctx.zones:
            note += "; declare zones to spread the replicas over failure domains"
        proposals.append(dataclasses.replace(proposal, reason=proposal.reason + note))
    # a fallback standing in for replicas only counts with the fallbacks wired
    achievable = system_availability(graph, improved, mech if covered else None) * 100.0
    return RedundancySection(
        tuple(proposals),
        _isolation(graph, mech),
        Figure(
            achievable,
            "%",
            "system availability (entry_weighting) with every proposal"
            + (" and the planned fallbacks" if covered else ""),
            {"proposals": len(proposals), "covered_by_fallback": len(covered)},
        ),
        tuple(covered),
    )


def _proposal(ctx: _Chains, name: str, improved: dict[str, float]) -> RedundancyProposal:
    """The fewest replicas (keeping k) that reach the component's need; `improved` records it."""
    graph, modeled = ctx.graph, ctx.modeled
    comp = graph.components[name]
    need = ctx.need(name)
    facts = graph.facts[name]
    k = comp.min_healthy
    chosen: Figure | None = None
    n = comp.replicas
    for n in range(comp.replicas + 1, max(MAX_REPLICAS, k + 1) + 1):
        candidate = component_availability(facts, n, k)
        if candidate.value >= need:
            chosen = candidate
            break
    if chosen is None:
        chosen = component_availability(facts, n, k)
    improved[name] = chosen.value / 100.0
    # only the entries whose hard closure holds this component change, by new/old
    eff = ctx.eff
    ratio = improved[name] / eff[name] if eff[name] > 0 else math.inf
    if ctx.combined is None:
        ctx.combined = _Combined(graph, ctx.base)
    changed = {e: _scaled(ctx.base[e], ratio, graph, improved, e) for e in ctx.reach[name]}
    after = 100.0 * ctx.combined.replacing(changed)
    managed = graph.facts[name].managed
    placement = _placement(comp.zones, ctx.zones, n) if not managed else ()
    how = (
        f"{n - 1} independent provider(s) behind a fallback"
        if managed
        else f"{n} replicas (k = {k})"
        + (f" across zones {', '.join(placement)}" if placement else "")
    )
    reason = (
        f"{name} allows at most {format_percent(modeled.effective[name].value)}%; as one of"
        f" {ctx.chain[name]} serial components it needs ≥ {format_percent(need, 5)}%"
        f" (1 - (1 - {format_percent(ctx.target)}%)/{ctx.chain[name]}); {how} give"
        f" {format_percent(chosen.value, 5)}%"
    )
    if chosen.value < need:
        reason += f" — still short with {MAX_REPLICAS} replicas: raise the per-replica figure"
    return RedundancyProposal(
        component=name,
        current_replicas=comp.replicas,
        current_min_healthy=k,
        proposed_replicas=n,
        proposed_min_healthy=k,
        placement=placement,
        current=modeled.effective[name],
        resulting=chosen,
        system_after=Figure(
            after,
            "%",
            "system availability (entry_weighting) with this proposal",
            {"component": name, "replicas": n, "k": k},
        ),
        reason=reason,
    )


class _Combined:
    """`combine_entries` over every entry's base availability with a few entries replaced, in
    time proportional to the few: copying every entry per proposal was quadratic (5,000 entries
    × 24,000 proposals at 100,000 components). Exact: the same fsum terms, the same minimum."""

    def __init__(self, graph: Graph, base: dict[str, float]) -> None:
        self._traffic = graph.spec.entry_weighting == "traffic"
        self._shares = graph.entry_shares
        self._base = base
        self._partials = fsum_partials([self._shares[e] * a for e, a in base.items()])
        self._ranked = sorted(base.items(), key=lambda item: item[1])

    def replacing(self, changed: dict[str, float]) -> float:
        """combine_entries(graph, base | changed)."""
        if self._traffic:
            terms = list(self._partials)
            for entry, value in changed.items():
                share = self._shares[entry]
                terms += (-(share * self._base[entry]), share * value)
            return math.fsum(terms)
        lowest = min(changed.values(), default=math.inf)
        for entry, value in self._ranked:  # the lowest entry not replaced
            if entry not in changed:
                return min(lowest, value)
        return lowest


def _covered(
    name: str,
    fallbacks: tuple[str, ...],
    worst: str,
    worst_with: float,
    modeled: Modeled,
    target: float,
) -> FallbackRedundancy:
    return FallbackRedundancy(
        component=name,
        fallbacks=fallbacks,
        entry_with=Figure(
            worst_with,
            "%",
            "lowest Π A with fallbacks over the entries using it",
            {"entry": worst, "target": target},
        ),
        reason=(
            f"no replica proposal — its declared fallback {', '.join(fallbacks)} is its"
            f" redundancy: {worst} reaches {format_percent(worst_with)}% with it (target"
            f" {format_percent(target)}%), although {name} alone allows at most"
            f" {format_percent(modeled.effective[name].value)}%"
        ),
    )


def _scaled(
    base: float, ratio: float, graph: Graph, improved: dict[str, float], entry: str
) -> float:
    if math.isinf(ratio):  # the component was at 0 %: recompute the entry outright
        return entry_availability(graph, improved, entry)
    return base * ratio


def _placement(own: tuple[str, ...], zones: list[str], replicas: int) -> tuple[str, ...]:
    if not zones:
        return ()
    ordered = list(own) + [z for z in zones if z not in own]
    return tuple(sorted(ordered[: max(len(own), min(replicas, len(ordered)))]))


def _isolation(graph: Graph, mech: Mechanisms) -> tuple[IsolationProposal, ...]:
    out: list[IsolationProposal] = []
    plans_by_caller: dict[str, list[tuple[str, str, int, float]]] = {}
    for plan in mech.edges:
        if plan.bulkhead is not None:
            plans_by_caller.setdefault(plan.edge.caller, []).append(
                (plan.edge.target, plan.policy, plan.bulkhead, graph.edge_rps(plan.edge) or 0.0)
            )
    for caller in sorted(plans_by_caller):
        deps = sorted(plans_by_caller[caller])
        if len(deps) < 2:
            continue
        p99s = {d[0]: latency(graph, d[0])[1] for d in deps}
        slowest = max(deps, key=lambda d: (p99s[d[0]], d[0]))[0]
        p99 = fmt(p99s[slowest])
        for target, policy, size, rps in deps:
            out.append(
                IsolationProposal(
                    caller=caller,
                    target=target,
                    max_concurrent=size,
                    reason=(
                        f"the slowest of {caller}'s {len(deps)} dependencies (p99 {p99}):"
                        f" a saturated {target} holds at most these, never all of {caller}'s"
                        " workers"
                        if target == slowest
                        else f"reserved for {target}, so a saturated {slowest}"
                        f" (p99 {p99}) cannot starve it of {caller}'s workers"
                    ),
                    figure=Figure(
                        size,
                        "count",
                        "ceil(max(L × headroom, L + 3√L)), L = rps × p99",
                        {"rps": rps, "p99": p99s[target], "policy": policy},
                    ),
                )
            )
    return tuple(out)
