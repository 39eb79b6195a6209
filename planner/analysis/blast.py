"""Blast radius: what each failure takes down, without and with the plan's mechanisms.

Without mechanisms an outage climbs every hard edge (a caller whose hard dependency is down is
down); soft edges only degrade. With the plan, an edge that has a fallback (declared, or a soft
edge) is guarded by a circuit breaker + fallback, so the caller degrades instead of failing —
unless the fallback component is itself down. Users impacted = the traffic share of the affected
entry points (× `users` when the spec gives a user count).

A component row lists at most `LISTED` names per set, with the set's size: in a deep chain every
row would otherwise list the whole chain above it. Rows whose sets may be large (an upper bound,
`_UpperBound`, says more than `SMALL`) are computed from memoised bitsets instead of a walk per
row (`_Reach`), so a 5,000-deep chain costs bit operations, not 12.5 million set insertions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    return edge.dep.type == "hard"  # Edge.hard, without a property call per visit


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


def users_figure(
    graph: Graph,
    affected: Iterable[str],
    formula: str,
    keys: Mapping[str, str] | None = None,
) -> Figure:
    """Share of users (percent) entering at affected entry points (`keys`: each entry's input
    name, `share[entry]`, when the caller has them made)."""
    shares = graph.entry_shares
    entries = sorted(name for name in affected if name in shares)
    share = graph.users_share(entries)
    inputs: dict[str, float | int | str]
    if keys is None:
        inputs = {f"share[{e}]": shares[e] for e in entries}
    else:
        inputs = {keys[e]: shares[e] for e in entries}
    if graph.spec.users is not None:
        inputs["users"] = graph.spec.users
        inputs["users_impacted"] = round(share * graph.spec.users)
    return Figure(share * 100.0, "%", formula, inputs)


#: The most names a component row lists per set (the first in sorted order; the count is whole).
LISTED = 20
#: Rows whose upstream over every edge may exceed this many components use the bitsets.
SMALL = 256

_USERS = "Σ traffic share of entry points down"
_USERS_WITH = "Σ traffic share of entry points down with breakers + fallbacks"


def row(
    mech: Mechanisms,
    failure: str,
    source: str,
    scope: str,
    sources: Iterable[str],
    listed: int | None = None,
) -> BlastRow:
    """The blast-radius row of one failure taking `sources` down, by walking the graph.

    `listed` bounds the names each list holds (None: all of them)."""
    graph = mech.graph
    origin = set(sources)
    without = down_without(graph, origin)
    with_ = down_with(mech, origin)
    slow = degraded(graph, with_)
    return _set_row(graph, (failure, source, scope), without, with_, slow, listed)


def _set_row(
    graph: Graph,
    what: tuple[str, str, str],
    without: set[str],
    with_: set[str],
    slow: set[str],
    listed: int | None,
    keys: Mapping[str, str] | None = None,
) -> BlastRow:
    """A row from the down sets (`what` = failure, source, scope); lists hold the first
    `listed` names in order, the counts all of them."""
    failure, source, scope = what
    affected = tuple(sorted(without)[:listed])
    return BlastRow(
        failure=failure,
        source=source,
        scope=scope,  # type: ignore[arg-type]
        affected=affected,
        affected_with=affected if with_ is without else tuple(sorted(with_)[:listed]),
        degraded_with=tuple(sorted(slow)[:listed]),
        users_impacted=users_figure(graph, without, _USERS, keys),
        users_impacted_with=users_figure(graph, with_, _USERS_WITH, keys),
        affected_count=len(without),
        affected_with_count=len(with_),
        degraded_with_count=len(slow),
    )


class _Reach:
    """Memoised upstream sets as bitsets (bit i: the i-th component in sorted order):
    up(x) = {x} ∪ the up() of each of x's `callers` (those over the class of edge followed)."""

    def __init__(self, callers: Mapping[str, tuple[str, ...]], index: dict[str, int]) -> None:
        self._callers = callers  # the callers over the edges followed
        self._index = index
        self._memo: dict[str, int] = {}

    def of(self, name: str) -> int:
        """up(name), computing it (iteratively: a chain may be deeper than Python's stack)."""
        memo = self._memo
        found = memo.get(name)
        if found is not None:
            return found
        stack = [name]
        while stack:
            top = stack[-1]
            if top in memo:
                stack.pop()
                continue
            followed = self._callers[top]
            pending = [c for c in followed if c not in memo]
            if pending:
                stack.extend(pending)
                continue
            bits = 1 << self._index[top]
            for caller in followed:
                bits |= memo[caller]
            memo[top] = bits
            stack.pop()
        return memo[name]


class ComponentRows:
    """Component rows: a walk for small upstreams, memoised bitsets for large ones."""

    def __init__(self, mech: Mechanisms) -> None:
        graph = self.graph = mech.graph
        self.mech = mech
        self.ordered = sorted(graph.names)
        # Bit positions, not the bits: `1 << i` for every component would be n ints of up to n
        # bits (100,000 components: ~600 MB and 2 s), where only the rows' upstreams need them.
        index = {name: i for i, name in enumerate(self.ordered)}
        self.entries = 0
        for name in graph.entry_shares:
            if name in index:
                self.entries |= 1 << index[name]
        self.share_keys = {e: f"share[{e}]" for e in graph.entry_shares}
        self.bound = _upper_bound(graph)
        # The callers over each class of edge (hard; hard and not degraded by the plan: the
        # mandatory ones; every edge), for the walks, and the hard edges with a fallback
        # component, which carry the outage only when that is down too: one pass over the edges.
        hard: dict[str, list[str]] = {name: [] for name in graph.names}
        mandatory: dict[str, list[str]] = {name: [] for name in graph.names}
        every: dict[str, list[str]] = {name: [] for name in graph.names}
        self.conditional: list[tuple[int, int, int, str]] = []
        self.conditional_by_target: dict[str, list[tuple[str, str]]] = {}
        for name in self.ordered:
            for e in graph.edges[name]:
                every[e.target].append(name)
                if not e.hard:
                    continue
                hard[e.target].append(name)
                if not mech.degrades(e):
                    mandatory[e.target].append(name)
                    continue
                fallback = mech.fallback_component(e)
                if fallback is not None:
                    bits = (1 << index[e.target], 1 << index[fallback], 1 << index[name])
                    self.conditional.append((*bits, name))
                    self.conditional_by_target.setdefault(e.target, []).append((fallback, name))
        self.hard_callers = {name: tuple(callers) for name, callers in hard.items()}
        self.mandatory_callers = {name: tuple(callers) for name, callers in mandatory.items()}
        self.all_callers = {name: tuple(callers) for name, callers in every.items()}
        self.hard = _Reach(self.hard_callers, index)
        self.mandatory = _Reach(self.mandatory_callers, index)
        self.every = _Reach(self.all_callers, index)
        # Components with a hard caller whose edge degrades: an outage that reaches none of them
        # is down with the plan exactly where it is down without (one walk instead of two).
        self.guarded = frozenset(
            name for name in graph.names if len(mandatory[name]) != len(hard[name])
        )

    def row(self, name: str) -> BlastRow:
        """The row of `name`'s outage: walked when its upstream is small, else from bitsets."""
        if self.bound[name] <= SMALL:
            return self.walked(name)
        return self.from_bits(name)

    def walked(self, name: str) -> BlastRow:
        """The row of `name`'s outage by walking the callers (the same row as `row`)."""
        without = _walk(self.hard_callers, {name})
        if self.guarded.isdisjoint(without):
            return self._set_rows(name, without, without)
        with_ = _walk(self.mandatory_callers, {name})
        grown = bool(self.conditional_by_target)
        while grown:  # hard edges with a fallback component carry it when that is down too
            grown = False
            for target in [t for t in with_ if t in self.conditional_by_target]:
                for fallback, caller in self.conditional_by_target[target]:
                    if fallback in with_ and caller not in with_:
                        with_ = _walk(self.mandatory_callers, with_ | {caller})
                        grown = True
        return self._set_rows(name, without, with_)

    def _set_rows(self, name: str, without: set[str], with_: set[str]) -> BlastRow:
        slow = _walk(self.all_callers, with_) - with_
        what = (f"{name} down", name, "component")
        return _set_row(self.graph, what, without, with_, slow, LISTED, self.share_keys)

    def from_bits(self, name: str) -> BlastRow:
        """The row of `name`'s outage from the memoised bitsets (the same row as the walk)."""
        without = self.hard.of(name)
        with_ = self._down_with(name)
        slow = self.every.of(name) & ~with_  # all upstream of the down set is upstream of name
        return BlastRow(
            failure=f"{name} down",
            source=name,
            scope="component",
            affected=self._names(without, LISTED),
            affected_with=self._names(with_, LISTED),
            degraded_with=self._names(slow, LISTED),
            users_impacted=users_figure(
                self.graph, self._names(without & self.entries), _USERS, self.share_keys
            ),
            users_impacted_with=users_figure(
                self.graph, self._names(with_ & self.entries), _USERS_WITH, self.share_keys
            ),
            affected_count=without.bit_count(),
            affected_with_count=with_.bit_count(),
            degraded_with_count=slow.bit_count(),
        )

    def _down_with(self, name: str) -> int:
        """`down_with(mech, [name])` on bitsets: the mandatory upstream, grown over conditional
        edges whose target and fallback are both down, to the fixpoint."""
        down = self.mandatory.of(name)
        grown = True
        while grown:
            grown = False
            for target, fallback, caller_bit, caller in self.conditional:
                if down & target and down & fallback and not down & caller_bit:
                    down |= self.mandatory.of(caller)
                    grown = True
        return down

    def _names(self, bits: int, limit: int | None = None) -> tuple[str, ...]:
        """The names of the lowest set bits (at most `limit`), in sorted order."""
        out: list[str] = []
        while bits and (limit is None or len(out) < limit):
            low = bits & -bits
            out.append(self.ordered[low.bit_length() - 1])
            bits ^= low
        return tuple(out)


def _walk(callers: dict[str, tuple[str, ...]], start: set[str]) -> set[str]:
    """`start` and every component reached backwards over `callers`."""
    seen = set(start)
    stack = list(seen)
    while stack:
        for caller in callers[stack.pop()]:
            if caller not in seen:
                seen.add(caller)
                stack.append(caller)
    return seen


def _upper_bound(graph: Graph) -> dict[str, int]:
    """An upper bound of each component's upstream size over every edge (1 + its callers' bounds,
    overlaps counted twice; capped past SMALL), in one pass over the callers-first order."""
    bound: dict[str, int] = {}
    for name in reversed(graph.order):
        bound[name] = min(SMALL + 1, 1 + sum(bound[e.caller] for e in graph.callers[name]))
    return bound


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


#: The placements whose outage gets a row of its own, one per zone or region a replica is in.
PLACEMENT_SCOPES = ("zone", "region")


def places(graph: Graph, scope: str) -> list[str]:
    """The zones (or regions) any component is placed in, sorted."""
    return sorted(
        {p for c in graph.components.values() for p in (c.zones if scope == "zone" else c.regions)}
    )


def analyse(mech: Mechanisms) -> Blast:
    """One row per component outage, per declared zone and region; and the SPOFs.

    "With the plan" follows the plan's mechanisms: an edge the plan gives a fallback degrades.
    """
    graph = mech.graph
    rows: list[BlastRow] = []
    component_rows = ComponentRows(mech)
    rows.extend(component_rows.row(name) for name in component_rows.ordered)
    for scope in PLACEMENT_SCOPES:
        for place in places(graph, scope):
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
