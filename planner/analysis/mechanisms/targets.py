"""What the edge rules read of a call's target, resolved once per target (`target_rules`).

A component with many callers had its transient modes sorted, its attempt timeout, backoff and
breaker open durations computed and their reasons formatted again for every edge to it; these
depend on the target alone, so each is resolved on the first edge and shared by the others.
"""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass
from typing import NamedTuple

from planner.analysis.catalog import CatalogMode
from planner.analysis.graph import Graph
from planner.analysis.mechanisms.common import (
    MAX_ATTEMPTS,
    NOT_IDEMPOTENT_KINDS,
    TIMEOUT_HEADROOM,
    ceil_to,
    transient_modes,
    worst_backoff,
)
from planner.analysis.mechanisms.construct import new_figure, slot_constructor
from planner.analysis.mechanisms.limits import ejectable
from planner.model import Figure
from planner.spec import Quota
from planner.units import format_spec_duration as fmt

__all__ = ["TargetRules", "target_rules", "timeout_figure"]


@dataclass(frozen=True, slots=True)
class TargetRules:
    """The inputs and reason fragments of the edge rules that depend on the target alone."""

    name: str
    kind: str
    p50: float
    p99: float
    latency_source: str
    transient: tuple[str, ...]  # failure modes a retry can outlast, sorted
    by_kind: tuple[bool, str]  # idempotent by the kind (an edge may declare otherwise), and why
    rate_limited: bool  # a quota or a rate-limit failure mode: retries honour Retry-After
    quota: Quota | None
    callers_rps: float | None  # Σ the callers' edge rps (a quota split between callers)
    timeout: float  # ceil_10ms(p99 × headroom), before any deadline clips it
    timeout_reason: str
    timeout_figure: Figure  # the attempt timeout when no deadline clips it
    initial: float  # the retry backoff's first wait, from the p50
    cap: float  # its longest wait
    worst: tuple[float, ...]  # worst-case backoff before n attempts, by n (0…MAX_ATTEMPTS)
    backoff_reason: str  # the retry reason's backoff clause
    mttr: float
    open_initial: float
    open_max: float
    opens_reason: str  # the breaker reason's open-duration clause (with the MTTR's source)
    open_figure: Figure
    # read here, where the edge rules read the target anyway, not again off the component
    declared_rps: float | None  # the target's own rps (`Graph.edge_rps` splits it)
    ejectable: bool  # its replicas may get outlier detection (`limits.ejectable`)


_CACHE: weakref.WeakKeyDictionary[Graph, dict[str, TargetRules]] = weakref.WeakKeyDictionary()


def target_rules(graph: Graph, name: str) -> TargetRules:
    """The target-only inputs of the rules for calls to `name`, resolved once per graph."""
    per_graph = _CACHE.get(graph)
    if per_graph is None:
        per_graph = _CACHE[graph] = {}
    found = per_graph.get(name)
    if found is None:
        found = per_graph[name] = _resolve(graph, name)
    return found


def _resolve(graph: Graph, name: str) -> TargetRules:
    comp, facts = graph.components[name], graph.facts[name]
    kind = comp.kind
    p50, p99, source = facts.p50.value, facts.p99.value, facts.p99_source
    mttr, mttr_source = facts.mttr.value, facts.mttr_source
    shape = _shape(kind, p50, p99, source, mttr, mttr_source)
    modes = graph.modes[name]
    return _RULES(  # TargetRules(...), every field in order
        name,
        kind,
        p50,
        p99,
        source,
        _transient(graph, name, modes),
        shape.by_kind,
        comp.quota is not None or any(m.category == "rate_limit" for m in modes),
        comp.quota,
        _callers_rps(graph, name) if comp.quota is not None else None,
        shape.timeout,
        name + shape.timeout_tail,
        shape.timeout_figure,
        shape.initial,
        shape.cap,
        shape.worst,
        shape.backoff_head + name + shape.backoff_tail,
        mttr,
        shape.open_initial,
        shape.open_max,
        shape.opens_head + name + shape.opens_tail,
        shape.open_figure,
        comp.rps,
        ejectable(comp),
    )


_RULES = slot_constructor(TargetRules)


class _Shape(NamedTuple):
    """What a target's rules take from its kind, latency and MTTR, not from its name: the
    reasons' clauses are split around the name (`_resolve` puts it in)."""

    by_kind: tuple[bool, str]
    timeout: float
    timeout_tail: str
    timeout_figure: Figure
    initial: float
    cap: float
    worst: tuple[float, ...]
    backoff_head: str
    backoff_tail: str
    open_initial: float
    open_max: float
    opens_head: str
    opens_tail: str
    open_figure: Figure


# A large system has thousands of targets and few distinct kinds, p99s and MTTRs: each
# combination is worked out and formatted once (`typed`: an int shows as 50, not 50.0).
@functools.lru_cache(maxsize=4096, typed=True)
def _shape(kind: str, p50: float, p99: float, source: str, mttr: float, mttr_source: str) -> _Shape:
    """The name-free part of a target's rules."""
    if kind in NOT_IDEMPOTENT_KINDS:
        by_kind = (False, f"{kind} calls are writes unless declared idempotent: true")
    else:
        by_kind = (True, f"{kind} calls are reads unless declared idempotent: false")
    timeout = max(0.001, ceil_to(p99 * TIMEOUT_HEADROOM))
    initial = ceil_to(min(max(p50, 0.05), 1.0))
    cap = initial * 8
    open_initial = min(max(mttr / 10, 5.0), 60.0)
    open_max = max(open_initial, min(mttr / 2, 300.0))
    return _Shape(
        by_kind=by_kind,
        timeout=timeout,
        timeout_tail=f" p99 {fmt(p99)} ({source}) × {TIMEOUT_HEADROOM} headroom",
        timeout_figure=_timeout_figure(timeout, p99, source),
        initial=initial,
        cap=cap,
        worst=tuple(worst_backoff(n, initial, cap) for n in range(MAX_ATTEMPTS + 1)),
        backoff_head=f"; full-jitter exponential backoff from {fmt(initial)} (",
        backoff_tail=f" p50 within 50ms–1s), capped at 8× = {fmt(cap)}",
        open_initial=open_initial,
        open_max=open_max,
        opens_head=f"open {fmt(open_initial)} doubling to {fmt(open_max)} from ",
        opens_tail=f" MTTR {fmt(mttr)} ({mttr_source})",
        open_figure=new_figure(open_initial, "s", "clamp(mttr / 10, 5s, 60s)", {"mttr": mttr}),
    )


_TRANSIENT: weakref.WeakKeyDictionary[Graph, dict[int, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def _transient(graph: Graph, name: str, modes: tuple[CatalogMode, ...]) -> tuple[str, ...]:
    """`transient_modes`, once per graph for each tuple of catalog modes of the components that
    declare no failure modes of their own: components share a few such tuples, which the graph
    keeps alive (`Graph.modes`), so an id stays theirs while the graph lives."""
    if graph.components[name].failure_modes:
        return tuple(transient_modes(graph, name))
    per_graph = _TRANSIENT.get(graph)
    if per_graph is None:
        per_graph = _TRANSIENT[graph] = {}
    found = per_graph.get(id(modes))
    if found is None:
        found = per_graph[id(modes)] = tuple(transient_modes(graph, name))
    return found


def _callers_rps(graph: Graph, name: str) -> float | None:
    """Σ the rps of the edges calling `name`; None when one of them has no known rps."""
    known = [graph.edge_rps(e) for e in graph.callers[name]]
    if any(k is None for k in known):
        return None
    return math.fsum(k for k in known if k is not None)


def _timeout_figure(value: float, p99: float, source: str) -> Figure:
    """The attempt timeout's figure: `value` is the timeout, clipped to a deadline or not."""
    return new_figure(
        value,
        "s",
        "min(ceil_10ms(p99 × headroom), deadline)",
        {"p99": p99, "headroom": TIMEOUT_HEADROOM, "p99_source": source},
    )


def timeout_figure(rules: TargetRules, value: float) -> Figure:
    """The attempt timeout's figure, shared by the target's edges when no deadline clips it."""
    if value == rules.timeout:
        return rules.timeout_figure
    return _timeout_figure(value, rules.p99, rules.latency_source)
