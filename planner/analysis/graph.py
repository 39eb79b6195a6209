"""The dependency graph of a spec, indexed once and shared by every analysis, with each
component's resolved facts (`planner.analysis.facts`).

Closures are computed on demand, one walk per component asked for (entry points and fallback
targets), and memoised, so planning stays near-linear in the size of what the analyses read.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from planner.analysis.applicable import State, modes_of, state_of
from planner.analysis.catalog import CatalogMode
from planner.analysis.facts import ComponentFacts, resolve
from planner.spec import Component, Dependency, SystemSpec


@dataclass(frozen=True, slots=True)
class Edge:
    """One dependency edge with its caller.

    `target` and `hard` are read off `dep` once, when the edge is made: the analyses read them
    hundreds of thousands of times on a large spec, and a slot is cheaper than a property call.
    """

    caller: str
    dep: Dependency
    #: the called component
    target: str = field(init=False, repr=False, compare=False)
    #: True for a hard dependency (the target's outage is the caller's)
    hard: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", self.dep.target)
        object.__setattr__(self, "hard", self.dep.type == "hard")

    @property
    def degrades(self) -> bool:
        """True when the spec declares a fallback or a soft edge; the analyses read what the plan
        does with it from `Mechanisms` (EdgePlan.has_fallback), which is derived from this."""
        return self.dep.type == "soft" or self.dep.fallback is not None


_EdgePredicate = Callable[[Edge], bool]


def _hard(edge: Edge) -> bool:
    return edge.dep.type == "hard"


class Graph:
    """Indexes, topological order, callers, traffic and memoised hard closures of a spec."""

    def __init__(self, spec: SystemSpec) -> None:
        """Index `spec` once; closures are built on first use."""
        self.spec = spec
        self.names: tuple[str, ...] = tuple(c.name for c in spec.components)
        self.components: dict[str, Component] = {c.name: c for c in spec.components}
        #: each component's p50, p99, MTTR, warm-up and availability, resolved once
        self.facts: dict[str, ComponentFacts] = resolve(spec.components)
        self.edges: dict[str, tuple[Edge, ...]] = {
            c.name: tuple(Edge(c.name, d) for d in c.dependencies) for c in spec.components
        }
        callers: dict[str, list[Edge]] = {name: [] for name in self.names}
        for name in self.names:
            for edge in self.edges[name]:
                callers[edge.target].append(edge)
        self.callers: dict[str, tuple[Edge, ...]] = {k: tuple(v) for k, v in callers.items()}
        self.entry_shares: dict[str, float] = spec.entry_shares()
        self.order: tuple[str, ...] = self._topological()  # dependencies before their callers
        self.rps: dict[str, float | None] = self._traffic()
        #: whether each component keeps data ("undeclared": a stateful kind without `data:`)
        self.state: dict[str, State] = {c.name: state_of(c) for c in spec.components}
        #: each component's catalog modes, as far as its spec makes them possible
        workers = {c.name for c in spec.components if c.kind == "worker"}
        self.modes: dict[str, tuple[CatalogMode, ...]] = {
            c.name: modes_of(c, any(e.caller in workers for e in self.callers[c.name]))
            for c in spec.components
        }
        self._closure: dict[str, frozenset[str]] = {}

    # -- structure -----------------------------------------------------------------------------

    def _topological(self) -> tuple[str, ...]:
        """Kahn's algorithm on "depends on" edges: every target comes before its callers."""
        pending = {name: len(self.edges[name]) for name in self.names}
        ready = deque(name for name in self.names if pending[name] == 0)
        order: list[str] = []
        while ready:
            name = ready.popleft()
            order.append(name)
            for edge in self.callers[name]:
                pending[edge.caller] -= 1
                if pending[edge.caller] == 0:
                    ready.append(edge.caller)
        return tuple(order)  # the spec validator already refused cycles

    def fallback_of(self, edge: Edge) -> str | None:
        """The component an edge falls back to, or None for none / a free-text fallback."""
        fallback = edge.dep.fallback
        return fallback if fallback is not None and fallback in self.components else None

    def _traffic(self) -> dict[str, float | None]:
        """Requests per second per component: declared, else summed from callers × calls."""
        rps: dict[str, float | None] = {}
        for name in reversed(self.order):  # callers before their targets
            comp = self.components[name]
            if comp.rps is not None:
                rps[name] = comp.rps
                continue
            incoming = [(rps[e.caller], e.dep.calls_per_request) for e in self.callers[name]]
            known = [r * calls for r, calls in incoming if r is not None]
            rps[name] = sum(known) if known else None
        return rps

    def edge_rps(self, edge: Edge) -> float | None:
        """Calls per second over one edge.

        The caller's rps × calls per request; when the target declares its own rps (it knows
        what really reaches it, after caches), that rps split over its callers in that proportion.
        """
        caller = self.rps[edge.caller]
        offered = None if caller is None else caller * edge.dep.calls_per_request
        declared = self.components[edge.target].rps
        if declared is None:
            return offered
        flows = [self.rps[e.caller] for e in self.callers[edge.target]]
        if offered is None or any(f is None for f in flows):
            return declared / len(flows)
        total = math.fsum(
            (f or 0.0) * e.dep.calls_per_request
            for f, e in zip(flows, self.callers[edge.target], strict=True)
        )
        return declared * offered / total if total > 0 else declared / len(flows)

    # -- closures ------------------------------------------------------------------------------

    def hard_closure(self, name: str) -> frozenset[str]:
        """Every component `name` transitively needs over hard edges (itself excluded)."""
        found = self._closure.get(name)
        if found is None:
            found = self._closure[name] = self.closure(name, _hard)
        return found

    def closure(self, name: str, follow: _EdgePredicate) -> frozenset[str]:
        """`name`'s transitive targets over the edges where `follow` holds (itself excluded).

        One walk from `name`: the analyses ask for the closures of a few components (entry
        points, fallback targets), so building every component's closure would cost the sum of
        all their sizes — quadratic on a deep chain — for the few that are read.
        """
        seen: set[str] = set()
        stack = [name]
        edges = self.edges
        while stack:
            for edge in edges[stack.pop()]:
                target = edge.dep.target
                if target not in seen and follow(edge):
                    seen.add(target)
                    stack.append(target)
        return frozenset(seen)

    def upstream(self, sources: Iterable[str], propagates: _EdgePredicate) -> set[str]:
        """`sources` and every caller reached backwards over edges where `propagates` holds."""
        seen = set(sources)
        queue = deque(seen)
        while queue:
            name = queue.popleft()
            for edge in self.callers[name]:
                if edge.caller not in seen and propagates(edge):
                    seen.add(edge.caller)
                    queue.append(edge.caller)
        return seen

    def users_share(self, affected: Iterable[str]) -> float:
        """Share of user traffic (0–1) entering at an affected entry point."""
        return math.fsum(self.entry_shares.get(name, 0.0) for name in affected)
