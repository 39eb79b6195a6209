"""What the mechanism rules share: the sizing constants, the per-edge plan the other analyses
read (`EdgePlan`), rounding, policy names and the latency of a call."""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass

from planner.analysis.graph import Edge, Graph
from planner.model import Figure
from planner.perf import fsum_partials

TIMEOUT_HEADROOM = 1.5
MAX_ATTEMPTS = 3
FAILURE_RATE = 0.5
TRIP_WITHIN = 10.0
MIN_CALLS_FLOOR, MIN_CALLS_CEIL = 5, 100
BUDGET_RATIO, BUDGET_MIN_PER_S = 0.2, 3.0
BULKHEAD_HEADROOM = 1.5
BULKHEAD_FLOOR = 10  # slots, so a fast call's few in flight still absorb a burst
TRIP_AT_TRAFFIC = 0.5  # a breaker must still trip when traffic has fallen to half of nominal
CALLS_CEIL = 10**9  # calls per request beyond this are treated as this many (bounded arithmetic)
WINDOW_CEIL = 3600  # seconds: the longest breaker window a low-traffic edge gets

NOT_IDEMPOTENT_KINDS = frozenset({"database", "queue"})
"""Kinds whose calls default to `idempotent: false`: writes (an insert, an enqueue) would repeat."""

Budget = tuple[float, str]
"""A latency budget in seconds and where it comes from."""


@dataclass(frozen=True, slots=True)
class EdgePlan:
    """The derived settings of one edge, for the other analyses (runbooks, recovery, failures)."""

    edge: Edge
    policy: str
    timeout: Figure
    deadline: Figure
    max_attempts: int
    has_breaker: bool
    has_fallback: bool  # the edge degrades instead of failing: a fallback, or a soft edge
    fallback: str | None  # the declared fallback: a component or a free-text answer
    fallback_component: str | None  # the component the fallback calls (None: free text / none)
    rate_limited: bool
    bulkhead: int | None
    trip: Figure  # seconds (or calls, without rps) until a full outage opens the breaker


# ceil_to and floor_to are memoised: round(x, n) is slow, and the rules round a few distinct
# values (p99s, budgets and their remainders) hundreds of thousands of times on a large system
@functools.lru_cache(maxsize=4096, typed=True)
def ceil_to(seconds: float, step: float = 0.01) -> float:
    """`seconds` rounded up to `step` (10 ms), without float artefacts."""
    return round(math.ceil(round(seconds / step, 6)) * step, 6)


@functools.lru_cache(maxsize=4096, typed=True)
def floor_to(seconds: float, step: float = 0.01) -> float:
    """`seconds` rounded down to `step`: a deadline rounded up would overspend its budget."""
    return round(math.floor(round(seconds / step, 6)) * step, 6)


def policy_name(graph: Graph, edge: Edge) -> str:
    """The target's name, or `caller.target` when the target has several callers."""
    return edge.target if len(graph.callers[edge.target]) == 1 else f"{edge.caller}.{edge.target}"


def latency(graph: Graph, name: str) -> tuple[float, float, str]:
    """(p50, p99, p99's source) of one call to a component, from its resolved facts."""
    facts = graph.facts[name]
    return facts.p50.value, facts.p99.value, facts.p99_source


def transient_modes(graph: Graph, name: str) -> list[str]:
    """Names of the target's failure modes a retry can outlast."""
    comp = graph.components[name]
    names = [m.name for m in graph.modes[name] if m.transient]
    declared = {m.name: m.transient for m in comp.failure_modes}
    names = [n for n in names if declared.get(n, True)]
    names += [n for n, t in declared.items() if t and n not in names]
    return sorted(names)


@functools.lru_cache(maxsize=1024)  # a spec has a few distinct calls_per_request; round() is slow
def calls_on_path(calls_per_request: float) -> int:
    """How many times a call is on one request's path: ⌈calls⌉, and at least once however rare
    (a request that makes it waits its whole p99, not calls × p99)."""
    if not calls_per_request < CALLS_CEIL:  # also inf / nan: the spec check reports those
        return CALLS_CEIL
    return max(1, math.ceil(round(calls_per_request, 9)))


def bulkhead_capacity(in_flight: float) -> int:
    """Slots for `in_flight` mean concurrent calls: max(L × 1.5, L + 3√L), at least 1."""
    return max(
        1, math.ceil(max(in_flight * BULKHEAD_HEADROOM, in_flight + 3 * math.sqrt(in_flight)))
    )


def format_count(value: float) -> str:
    """A mean number of calls in flight, readable at any size (1,200, 18, 4.8 — not 1.2e+03)."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def worst_backoff(attempts: int, initial: float, cap: float) -> float:
    """Longest total wait before `attempts` attempts: Σ min(cap, initial × 2^(n−1))."""
    return math.fsum(min(cap, initial * 2 ** (n - 1)) for n in range(1, attempts))


#: Past this many calls a caller's sibling sums come from the partials of all its calls.
_MANY_CALLS = 16


class _CallTerms:
    """One caller's calls: each call's p99 × ⌈calls⌉ in the caller's order and, for a caller of
    many calls, by edge and by target with their sum's exact partials (`fsum_partials`)."""

    def __init__(self, graph: Graph, caller: str, edges: tuple[Edge, ...]) -> None:
        facts = graph.facts
        self.graph = weakref.ref(graph)  # which graph's: a caller's name is not enough
        self.caller = caller
        self.terms = [
            (e, e.target, facts[e.target].p99.value * calls_on_path(e.dep.calls_per_request))
            for e in edges
        ]
        self.term: dict[int, float] = {}
        self.by_target: dict[str, list[Edge]] = {}
        self.partials: list[float] = []
        if len(edges) > _MANY_CALLS:
            for e, target, term in self.terms:
                self.term[id(e)] = term
                self.by_target.setdefault(target, []).append(e)
            self.partials = fsum_partials(list(self.term.values()))


#: The last caller's terms: the rules derive a caller's calls one after the other, so one
#: caller's terms are kept at a time, not tens of thousands of them for the graph's life; and
#: a weak reference to its graph is cheaper to check than a WeakKeyDictionary look-up per call.
_LAST_TERMS: list[_CallTerms | None] = [None]


def other_calls_p99(graph: Graph, edge: Edge, fallback: str | None) -> float:
    """Σ p99 × ⌈calls⌉ over the caller's other calls (not `edge`, not its fallback's).

    From the caller's terms, computed once for its calls in a row (`_CallTerms`); for a caller with
    many calls, from their sum's partials: summing all the others for each call was quadratic
    (a caller of 5,000 dependencies: 25 million terms). The same float either way: fsum is exact
    before its one rounding.
    """
    terms = _LAST_TERMS[0]
    if terms is None or terms.caller != edge.caller or terms.graph() is not graph:
        caller = edge.caller
        terms = _LAST_TERMS[0] = _CallTerms(graph, caller, graph.edges[caller])
    if len(terms.terms) <= _MANY_CALLS:
        return math.fsum(
            term for e, target, term in terms.terms if e is not edge and target != fallback
        )
    excluded = list(terms.by_target.get(fallback, ())) if fallback is not None else []
    if edge.target != fallback:
        excluded.append(edge)
    return math.fsum([*terms.partials, *(-terms.term[id(e)] for e in excluded)])
