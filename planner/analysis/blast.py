"""Blast radius: what each failure takes down, without and with the plan's mechanisms.

Without mechanisms an outage climbs every hard edge (a caller whose hard dependency is down is
down); soft edges only degrade. With the plan, an edge that has a fallback (declared, or a soft
edge) is guarded by a circuit breaker + fallback, so the caller degrades instead of failing —
unless the fallback component is itself down. Users impacted = the traffic share of the affected
entry points (× `users` when the spec gives a user count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from planner.analysis.graph import Edge, Graph
from planner.analysis.mechanisms import Mechanisms
from planner.model import BlastRow, Figure, SinglePointOfFailure


@dataclass(frozen=True)
class Blast:
    """Blast-radius rows plus lookups the other analyses use."""

    rows: tuple[BlastRow, ...]
    by_source: dict[str, BlastRow]
    spofs: tuple[SinglePointOfFailure, ...]


def _hard(edge: Edge) -> bool:
    return edge.hard


def down_without(graph: Graph, sources: Iterable[str]) -> set[str]:
    """The sources and every caller reached backwards over hard edges."""
    return graph.upstream(sources, _hard)


def down_with(mech: Mechanisms, sources: Iterable[str]) -> set[str]:
    """Like `down_without`, but fallback edges stop the outage unless their fallback is down too."""
    graph = mech.graph
    down = set(sources)
    while True:
        current = frozenset(down)

        def propagates(e: Edge, current: frozenset[str] = current) -> bool:
            return e.hard and (not mech.degrades(e) or _fallback_down(mech, e, current))

        grown = graph.upstream(down, propagates)
        if grown == down:
            return down
        down = grown


def _fallback_down(mech: Mechanisms, edge: Edge, down: frozenset[str]) -> bool:
    fallback = mech.fallback_component(edge)
    return fallback is not None and fallback in down


def degraded(graph: Graph, down: set[str]) -> set[str]:
    """Components that stay up but serve degraded answers because something below is down."""
    return graph.upstream(down, lambda e: True) - down


def users_figure(graph: Graph, affected: Iterable[str], formula: str) -> Figure:
    """Share of users (percent) entering at affected entry points."""
    entries = sorted(name for name in affected if name in graph.entry_shares)
    share = graph.users_share(entries)
    inputs: dict[str, float | int | str] = {f"share[{e}]": graph.entry_shares[e] for e in entries}
    if graph.spec.users is not None:
        inputs["users"] = graph.spec.users
        inputs["users_impacted"] = round(share * graph.spec.users)
    return Figure(share * 100.0, "%", formula, inputs)


def row(
    mech: Mechanisms, failure: str, source: str, scope: str, sources: Iterable[str]
) -> BlastRow:
    """The blast-radius row of one failure taking `sources` down."""
    graph = mech.graph
    origin = set(sources)
    without = down_without(graph, origin)
    with_ = down_with(mech, origin)
    return BlastRow(
        failure=failure,
        source=source,
        scope=scope,  # type: ignore[arg-type]
        affected=tuple(sorted(without)),
        affected_with=tuple(sorted(with_)),
        degraded_with=tuple(sorted(degraded(graph, with_))),
        users_impacted=users_figure(graph, without, "Σ traffic share of entry points down"),
        users_impacted_with=users_figure(
            graph, with_, "Σ traffic share of entry points down with breakers + fallbacks"
        ),
    )


def placement_down(graph: Graph, scope: str, place: str) -> set[str]:
    """Components a zone (or region) outage takes down directly.

    Replicas are spread round-robin over the declared places; a component is down when fewer
    than `min_healthy` replicas survive. Components without declared placement are not counted.
    """
    down: set[str] = set()
    for name in graph.names:
        comp = graph.components[name]
        places = comp.zones if scope == "zone" else comp.regions
        if place not in places:
            continue
        ordered = sorted(places)
        lost = sum(1 for i in range(comp.replicas) if ordered[i % len(ordered)] == place)
        if comp.replicas - lost < comp.min_healthy:
            down.add(name)
    return down


def analyse(mech: Mechanisms) -> Blast:
    """One row per component outage, per declared zone and region; and the SPOFs.

    "With the plan" follows the plan's mechanisms: an edge the plan gives a fallback degrades.
    """
    graph = mech.graph
    rows: list[BlastRow] = []
    for name in sorted(graph.names):
        rows.append(row(mech, f"{name} down", name, "component", [name]))
    for scope in ("zone", "region"):
        places = sorted(
            {
                p
                for c in graph.components.values()
                for p in (c.zones if scope == "zone" else c.regions)
            }
        )
        for place in places:
            direct = placement_down(graph, scope, place)
            rows.append(row(mech, f"{scope} {place} outage", f"{scope}:{place}", scope, direct))
    by_source = {r.source: r for r in rows}
    return Blast(tuple(rows), by_source, spofs(mech, by_source))


def _free_text_only(mech: Mechanisms, name: str) -> bool:
    """Whether only free-text fallbacks with no declared `fallback_availability` stand between
    the component's outage and its callers' users (the availability model gives them no credit)."""
    guarded = [e for e in mech.graph.callers[name] if e.hard and mech.degrades(e)]
    return bool(guarded) and all(
        mech.fallback_component(e) is None and e.dep.fallback_availability is None for e in guarded
    )


def spofs(mech: Mechanisms, by_source: dict[str, BlastRow]) -> tuple[SinglePointOfFailure, ...]:
    """Components with no spare instance whose outage still reaches users with the plan — or is
    held off only by a free-text answer nobody declared a success rate for."""
    graph = mech.graph
    found: list[SinglePointOfFailure] = []
    for name in sorted(graph.names):
        comp = graph.components[name]
        blast = by_source[name]
        if blast.users_impacted_with.value <= 0.0:
            if (
                comp.replicas <= comp.min_healthy
                and blast.users_impacted.value > 0.0
                and _free_text_only(mech, name)
            ):
                found.append(
                    SinglePointOfFailure(
                        name,
                        "one replica; its callers answer with free-text fallbacks only (no"
                        " fallback_availability declared)"
                        if comp.replicas == 1
                        else f"{comp.replicas} replicas, all needed; its callers answer with"
                        " free-text fallbacks only (no fallback_availability declared)",
                        blast.users_impacted,
                    )
                )
            continue
        if comp.replicas <= comp.min_healthy:
            spare = (
                "one replica"
                if comp.replicas == 1
                else (f"{comp.replicas} replicas, all needed (min_healthy {comp.min_healthy})")
            )
            why = (
                "no fallback on its callers' edges"
                if graph.callers[name]
                else "users reach it directly (an entry point with no spare)"
            )
            found.append(SinglePointOfFailure(name, f"{spare}; {why}", blast.users_impacted_with))
        elif len(comp.zones) == 1 and len(comp.regions) <= 1:
            found.append(
                SinglePointOfFailure(
                    name,
                    f"{comp.replicas} replicas, all in zone {comp.zones[0]}",
                    blast.users_impacted_with,
                )
            )
    return tuple(found)
