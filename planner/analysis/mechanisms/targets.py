"""What the edge rules read of a call's target, resolved once per target (`target_rules`).

A component with many callers had its transient modes sorted, its attempt timeout, backoff and
breaker open durations computed and their reasons formatted again for every edge to it; these
depend on the target alone, so each is resolved on the first edge and shared by the others.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

from planner.analysis.graph import Graph
from planner.analysis.mechanisms.common import (
    MAX_ATTEMPTS,
    NOT_IDEMPOTENT_KINDS,
    TIMEOUT_HEADROOM,
    ceil_to,
    transient_modes,
    worst_backoff,
)
from planner.analysis.mechanisms.construct import new_figure
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
    if kind in NOT_IDEMPOTENT_KINDS:
        by_kind = (False, f"{kind} calls are writes unless declared idempotent: true")
    else:
        by_kind = (True, f"{kind} calls are reads unless declared idempotent: false")
    timeout = max(0.001, ceil_to(p99 * TIMEOUT_HEADROOM))
    initial = ceil_to(min(max(p50, 0.05), 1.0))
    cap = initial * 8
    mttr, mttr_source = facts.mttr.value, facts.mttr_source
    open_initial = min(max(mttr / 10, 5.0), 60.0)
    open_max = max(open_initial, min(mttr / 2, 300.0))
    return TargetRules(
        name=name,
        kind=kind,
        p50=p50,
        p99=p99,
        latency_source=source,
        transient=tuple(transient_modes(graph, name)),
        by_kind=by_kind,
        rate_limited=comp.quota is not None
        or any(m.category == "rate_limit" for m in graph.modes[name]),
        quota=comp.quota,
        callers_rps=_callers_rps(graph, name) if comp.quota is not None else None,
        timeout=timeout,
        timeout_reason=f"{name} p99 {fmt(p99)} ({source}) × {TIMEOUT_HEADROOM} headroom",
        timeout_figure=_timeout_figure(timeout, p99, source),
        initial=initial,
        cap=cap,
        worst=tuple(worst_backoff(n, initial, cap) for n in range(MAX_ATTEMPTS + 1)),
        backoff_reason=(
            f"; full-jitter exponential backoff from {fmt(initial)} ({name} p50 within"
            f" 50ms–1s), capped at 8× = {fmt(cap)}"
        ),
        mttr=mttr,
        open_initial=open_initial,
        open_max=open_max,
        opens_reason=(
            f"open {fmt(open_initial)} doubling to {fmt(open_max)} from {name}"
            f" MTTR {fmt(mttr)} ({mttr_source})"
        ),
        open_figure=new_figure(open_initial, "s", "clamp(mttr / 10, 5s, 60s)", {"mttr": mttr}),
    )


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
