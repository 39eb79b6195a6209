"""Availability math: downtime budgets per tier and period, and the system's modeled availability.

Formulas (independent failures assumed; correlated failures are what the zone/region failure modes
and the blast radius are for):

- one replica: the declared percentage, or `MTBF / (MTBF + MTTR)`, or the kind's catalog default;
- k-of-n replicas: `Σ_{i=k..n} C(n,i) aⁱ (1−a)ⁿ⁻ⁱ` (k = 1 is `1 − (1−a)ⁿ`);
- a replicated store whose primary is replaced by a promotion: the k-of-n figure × `MTBF / (MTBF
  + failover)`, MTBF = `a × MTTR / (1 − a)` per replica and failover the facts' detect + promote
  + warm-up (the recovery section's host-failure RTO): every primary failure is an outage of
  that length even though a replica survives (the failure modes' occurrences a year use the
  same MTBF, `replica_mtbf`);
- an entry point: the serial product over itself and its hard closure (each component once);
- with the plan's fallbacks: edges with a fallback leave the serial chain; each contributes
  `1 − (1 − A_target)(1 − A_fallback)` over the components not already counted; a free-text
  fallback's A_fallback is the dependency's `fallback_availability` (default 0: no credit until
  the spec declares how often the degraded answer succeeds);
- the system: the lowest entry point (`entry_weighting: every_entry`, the default: the target
  holds for every entry) or the entries weighted by their traffic share (`traffic`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.analysis.facts import ComponentFacts, facts_of
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import Mechanisms
from planner.model import (
    AvailabilitySection,
    Cap,
    ComponentAvailability,
    DowntimeCell,
    DowntimeRow,
    EntryAvailability,
    Figure,
)
from planner.spec import TIERS, Component, Dependency
from planner.units import DAY

#: Periods of the downtime table, each labelled with its convention: one year is 365 days and a
#: quarter is a quarter of it, so four quarters make the year.
PERIODS: tuple[tuple[str, float], ...] = (
    ("day (24 h)", 1.0),
    ("week (7 d)", 7.0),
    ("4 weeks (28 d)", 28.0),
    ("month (30 d)", 30.0),
    ("quarter (365/4 = 91.25 d)", 365.0 / 4),
    ("year (365 d)", 365.0),
)


def downtime_seconds(objective_percent: float, days: float) -> float:
    """Allowed downtime in seconds for an objective over `days` days: (1 − SLO) × period."""
    return (100.0 - objective_percent) / 100.0 * days * DAY


def downtime_figure(objective_percent: float, days: float, period: str) -> Figure:
    """`downtime_seconds` as a traceable Figure."""
    return Figure(
        downtime_seconds(objective_percent, days),
        "s",
        "(1 - objective/100) × period_days × 86400",
        {"objective": objective_percent, "period_days": days, "period": period},
    )


def downtime_table(objective: float, tier: str) -> tuple[DowntimeRow, ...]:
    """One row per tier (and the target when it is not a tier) over every labelled period."""
    rows = [(name, value) for name, value in TIERS.items()]
    if objective not in TIERS.values():
        rows.append((f"target ({tier})", objective))
    rows.sort(key=lambda row: row[1])
    return tuple(
        DowntimeRow(
            label,
            value,
            tuple(
                DowntimeCell(period, days, downtime_figure(value, days, period))
                for period, days in PERIODS
            ),
        )
        for label, value in rows
    )


def k_of_n(a: float, n: int, k: int) -> float:
    """Probability that at least k of n independent units of availability `a` (0–1) are up.

    Computed as 1 − P(fewer than k up) so that high availabilities keep their precision.
    """
    down = math.fsum(math.comb(n, i) * a**i * (1.0 - a) ** (n - i) for i in range(k))
    return 1.0 - down


@dataclass(frozen=True)
class Modeled:
    """The availability model of a spec, reusable with overridden component figures."""

    graph: Graph
    per_replica: Mapping[str, Figure]
    effective: Mapping[str, Figure]
    mttr: Mapping[str, Figure]
    source: Mapping[str, str]
    mtbf: Mapping[str, Figure]  # per replica, `replica_mtbf`


#: A component availability's source as the report names it.
_SOURCE_LABEL = {
    "declared": "declared",
    "derived": "mtbf/mttr",
    "catalog default": "catalog default",
}


def replica_availability(comp: Component) -> tuple[Figure, Figure, str]:
    """(per-replica availability in percent, MTTR in seconds, source of the figure)."""
    facts = facts_of(comp)
    return facts.availability, facts.mttr, _SOURCE_LABEL[facts.availability_source]


def effective_availability(
    per_replica: float,
    replicas: int,
    min_healthy: int,
    failover: Figure | None = None,
    mttr: float = 0.0,
) -> Figure:
    """A component's availability (percent) with k-of-n replicas; with `failover` (seconds of
    outage per primary failure, `ComponentFacts.failover`) and the per-replica `mttr`, each
    primary failure also costs its failover time."""
    a = per_replica / 100.0
    value = k_of_n(a, replicas, min_healthy) * 100.0
    if replicas == 1:
        formula = "a"
    elif min_healthy == 1:
        formula = "1 - (1 - a)^n"
    else:
        formula = "Σ_{i=k..n} C(n,i) a^i (1-a)^(n-i)"
    inputs: dict[str, float | int | str] = {"a": per_replica, "n": replicas, "k": min_healthy}
    if failover is None or replicas == 1:
        return Figure(value, "%", formula, inputs)
    # the primary fails every MTBF on average and each failure is `failover` seconds of outage
    mtbf = replica_mtbf(per_replica, mttr).value
    up = 1.0 if math.isinf(mtbf) else mtbf / (mtbf + failover.value)
    if min_healthy == 1 and value * up < per_replica:
        # a replica that fails about as often as a failover lasts (a below ~50 %): failing over
        # costs more than it saves, and one replica repaired in place does better. k-of-n × up
        # grows with n, so the one-replica figure is the only one that can beat it
        return Figure(
            per_replica,
            "%",
            "a (failing over costs more than it saves: (1 - (1 - a)^n) × MTBF / (MTBF +"
            " failover) < a)",
            {**inputs, "mttr_s": mttr, "failover_s": failover.value},
        )
    return Figure(
        value * up,
        "%",
        f"({formula}) × MTBF / (MTBF + failover), MTBF = a × MTTR / (1 - a)",
        {**inputs, "mttr_s": mttr, "failover_s": failover.value},
    )


def replica_mtbf(per_replica: float, mttr: float) -> Figure:
    """Seconds between failures of one replica of availability `per_replica` (percent) that
    takes `mttr` to repair: `a × MTTR / (1 − a)` (inf at 100 %). The failover term above and
    the failure modes' occurrences a year both use this figure."""
    a = per_replica / 100.0
    value = math.inf if a >= 1.0 else a * mttr / (1.0 - a)
    return Figure(value, "s", "a × MTTR / (1 - a)", {"a": per_replica, "mttr_s": mttr})


def component_availability(facts: ComponentFacts, replicas: int, min_healthy: int) -> Figure:
    """`effective_availability` of a component's facts with `replicas` of which `min_healthy`
    must be up."""
    return effective_availability(
        facts.availability.value, replicas, min_healthy, facts.failover, facts.mttr.value
    )


def model(graph: Graph) -> Modeled:
    """Per-component figures of a spec."""
    per: dict[str, Figure] = {}
    eff: dict[str, Figure] = {}
    mttr: dict[str, Figure] = {}
    source: dict[str, str] = {}
    for name in graph.names:
        comp = graph.components[name]
        facts = graph.facts[name]
        per[name], mttr[name] = facts.availability, facts.mttr
        source[name] = _SOURCE_LABEL[facts.availability_source]
        eff[name] = component_availability(facts, comp.replicas, comp.min_healthy)
    mtbf = {name: replica_mtbf(per[name].value, mttr[name].value) for name in graph.names}
    return Modeled(graph, per, eff, mttr, source, mtbf)


def _product(values: list[float]) -> float:
    # a sum of logs keeps the product of thousands of near-1 factors accurate
    if any(v <= 0.0 for v in values):
        return 0.0
    return math.exp(math.fsum(math.log(v) for v in values))


def entry_availability(graph: Graph, effective: Mapping[str, float], entry: str) -> float:
    """Serial product (fraction) over the entry and its hard closure, each component once."""
    members = [entry, *graph.hard_closure(entry)]
    return _product([effective[name] for name in members])


def free_text_fallback(dep: Dependency) -> float:
    """How often (fraction) a free-text fallback's degraded answer succeeds: the declared
    `fallback_availability`, else 0 — the spec cannot show that text answers, so it earns no
    credit until declared (100 % would erase the target from the model)."""
    return 0.0 if dep.fallback_availability is None else dep.fallback_availability / 100.0


def entry_availability_with(mech: Mechanisms, effective: Mapping[str, float], entry: str) -> float:
    """The entry's availability (fraction) once the plan's fallbacks are wired.

    The mandatory part (edges without a fallback) is a serial product. Each hard edge with a
    fallback component then contributes `1 − (1 − P)(1 − B)`, where P and B are the products
    over the target's and the fallback's closures *without* the components already counted —
    given those are up — so a shared dependency is never counted twice and wiring a fallback
    can only raise the figure. A free-text fallback answers with the dependency's declared
    `fallback_availability` as B (default 0: the edge counts as if it had no fallback).
    """
    graph = mech.graph
    members = {entry, *mech.mandatory_closure(entry)}
    factors = [effective[name] for name in members]
    counted = set(members)
    for name in sorted(members):
        for edge in graph.edges[name]:
            if not edge.hard or not mech.degrades(edge):
                continue
            fallback = mech.fallback_component(edge)
            primary_set = ({edge.target} | graph.hard_closure(edge.target)) - counted
            counted |= primary_set
            primary = _product([effective[n] for n in sorted(primary_set)])
            if fallback is None:  # a free-text answer, as often as the spec says it works
                backup = free_text_fallback(edge.dep)
            else:
                backup_set = ({fallback} | graph.hard_closure(fallback)) - members
                backup = _product([effective[n] for n in sorted(backup_set)])
            factors.append(1.0 - (1.0 - primary) * (1.0 - backup))
    return _product(factors)


def combine_entries(graph: Graph, entries: Mapping[str, float]) -> float:
    """The system's availability (fraction) from its entries': the lowest (`entry_weighting:
    every_entry`) or the traffic-weighted mean (`traffic`)."""
    if graph.spec.entry_weighting != "traffic":
        return min(entries.values())
    return math.fsum(graph.entry_shares[e] * a for e, a in entries.items())


def system_availability(
    graph: Graph, effective: Mapping[str, float], with_: Mechanisms | None = None
) -> float:
    """The system's availability (fraction) over the entry points (with the plan's fallbacks
    when `with_` gives the plan's mechanisms), combined as the spec's `entry_weighting` says."""
    if with_ is None:
        entries = {e: entry_availability(graph, effective, e) for e in graph.entry_shares}
    else:
        entries = {e: entry_availability_with(with_, effective, e) for e in graph.entry_shares}
    return combine_entries(graph, entries)


def _fractions(figures: Mapping[str, Figure]) -> dict[str, float]:
    return {name: fig.value / 100.0 for name, fig in figures.items()}


def analyse(graph: Graph, modeled: Modeled, mech: Mechanisms) -> AvailabilitySection:
    """Downtime table, modeled availability as specified and with the plan, and the caps."""
    spec = graph.spec
    target_value = spec.objective
    target = Figure(
        target_value,
        "%",
        "declared slo" if spec.slo is not None else "tier objective",
        {"tier": spec.tier_label},
    )
    eff = _fractions(modeled.effective)
    entries = []
    for entry, share in sorted(graph.entry_shares.items()):
        members = sorted({entry, *graph.hard_closure(entry)})
        now = entry_availability(graph, eff, entry) * 100.0
        later = entry_availability_with(mech, eff, entry) * 100.0
        inputs: dict[str, float | int | str] = {
            f"A[{m}]": modeled.effective[m].value for m in members
        }
        entries.append(
            EntryAvailability(
                entry,
                share,
                Figure(now, "%", "Π A over the entry and its hard closure", inputs),
                Figure(
                    later,
                    "%",
                    "Π A over the mandatory closure × Π (1 - (1-A_t)(1-A_fallback))",
                    {"entry": entry},
                ),
            )
        )
    current, with_mechanisms = _system(spec.entry_weighting, entries)
    # the tier holds only where every entry holds it, unless the spec weighs them by traffic
    meets = (
        current.value >= target_value
        if spec.entry_weighting == "traffic"
        else all(e.availability.value >= target_value for e in entries)
    )
    return AvailabilitySection(
        target=target,
        downtime=downtime_table(target_value, spec.tier_label),
        current=current,
        with_mechanisms=with_mechanisms,
        meets_target=meets,
        components=tuple(
            ComponentAvailability(
                name,
                modeled.source[name],  # type: ignore[arg-type]
                modeled.per_replica[name],
                modeled.effective[name],
                modeled.mttr[name],
            )
            for name in sorted(graph.names)
        ),
        entry_points=tuple(entries),
        caps=caps(graph, modeled, target_value),
        entry_weighting=spec.entry_weighting,
    )


def _system(weighting: str, entries: list[EntryAvailability]) -> tuple[Figure, Figure]:
    """The system's availability as specified and with the plan: the lowest entry point
    (`every_entry`), or the traffic-weighted mean (`traffic`)."""
    now = {f"A[{e.component}]": e.availability.value for e in entries}
    later = {f"A[{e.component}]": e.availability_with.value for e in entries}
    if weighting != "traffic":
        return (
            Figure(min(now.values()), "%", "min over entry points of A_entry", now),
            Figure(
                min(later.values()), "%", "min over entry points of A_entry with fallbacks", later
            ),
        )
    shares: dict[str, float | int | str] = {
        f"share[{e.component}]": e.traffic_share for e in entries
    }
    return (
        Figure(
            math.fsum(e.traffic_share * e.availability.value for e in entries),
            "%",
            "Σ share × A_entry",
            {**shares, **now},
        ),
        Figure(
            math.fsum(e.traffic_share * e.availability_with.value for e in entries),
            "%",
            "Σ share × A_entry with fallbacks",
            {**shares, **later},
        ),
    )


def caps(graph: Graph, modeled: Modeled, target: float) -> tuple[Cap, ...]:
    """Components on an entry's hard path whose availability is the highest SLO they allow.

    Listed: every component below the target, or, when none is, the three lowest.
    """
    reach: dict[str, list[str]] = {}
    for entry in sorted(graph.entry_shares):
        for name in (entry, *graph.hard_closure(entry)):
            reach.setdefault(name, []).append(entry)
    ranked = sorted(reach, key=lambda n: (modeled.effective[n].value, n))
    below = [n for n in ranked if modeled.effective[n].value < target]
    chosen = below if below else ranked[:3]
    return tuple(
        Cap(
            name,
            Figure(
                modeled.effective[name].value,
                "%",
                "max SLO = A of a serial component",
                {"A": modeled.effective[name].value},
            ),
            modeled.effective[name].value < target,
            tuple(sorted(reach[name])),
        )
        for name in chosen
    )
