"""What contains each failure mode: the callers' planned mechanisms, the entry's own inbound
policy, or — when no runtime mechanism does — the reason, which the plan states in its place.

Returns the "policy: mechanism" entries and the sentence; a mode is contained exactly when the
entries are not empty (`FailureMode.contained`).
"""

from __future__ import annotations

import functools

from planner.analysis.catalog import CatalogMode
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import EdgePlan, InboundPlan

__all__ = ["containment"]


def containment(
    graph: Graph,
    mode: CatalogMode,
    plans: tuple[EdgePlan, ...],
    name: str,
    inbound: InboundPlan | None = None,
) -> tuple[tuple[str, ...], str]:
    """The callers' mechanisms that contain this mode (or the entry's own), or why none does."""
    return Containment(graph, plans, name, inbound).of(mode)


class Containment:
    """What contains each failure mode of one component: made once per component, asked once
    per mode (the reasons that do not depend on the mode are worked out once)."""

    def __init__(
        self,
        graph: Graph,
        plans: tuple[EdgePlan, ...],
        name: str,
        inbound: InboundPlan | None = None,
    ) -> None:
        self._graph = graph
        self._plans = plans
        self._name = name
        self._inbound = inbound
        self._uncalled: dict[bool, str] = {}
        self._callers: list[tuple[str, _Has]] | None = None  # read on the first mode that asks

    def of(self, mode: CatalogMode) -> tuple[tuple[str, ...], str]:
        """The callers' mechanisms that contain `mode` (or the entry's own), or why none does."""
        plans, name = self._plans, self._name
        if mode.category == "overload" and self._inbound is not None:
            own = _inbound_containment(self._inbound)
            if own is not None:
                return own
        if mode.silent and mode.category != "data":
            return (), _silent_reason(plans)
        if mode.category == "data":
            return (), _data_reason(self._graph, mode, name)
        if not plans:  # the same reason for every mode but a deploy's
            deploy = mode.category == "deploy"
            reason = self._uncalled.get(deploy)
            if reason is None:
                reason = self._uncalled[deploy] = _uncalled_reason(self._graph, mode, name)
            return (), reason
        if self._callers is None:
            self._callers = [(p.policy, _has(p)) for p in plans]
        return _caller_containment(mode, plans, self._callers)


def _inbound_containment(inbound: InboundPlan) -> tuple[tuple[str, ...], str] | None:
    """An entry point's own overload is contained by its inbound policy: it sheds the excess."""
    own: list[tuple[str, str]] = []
    if inbound.rate_per_second is not None:
        own.append(("rate_limiter", f"sheds above {inbound.rate_per_second:g} requests/s"))
    if inbound.bulkhead is not None:
        own.append(("bulkhead", f"refuses beyond {inbound.bulkhead:,} requests in flight"))
    if not own:
        return None
    return (
        tuple(f"{inbound.policy}: {m}" for m, _ in own),
        f"{inbound.policy} (inbound): "
        + ", ".join(f"{m.replace('_', ' ')} {why}" for m, why in own),
    )


def _silent_reason(plans: tuple[EdgePlan, ...]) -> str:
    """Wrong answers at HTTP 200: no mechanism sees them; what a person can do instead."""
    fallbacks = sorted({p.fallback or "a degraded answer" for p in plans if p.has_fallback})
    policies = ", ".join(sorted(p.policy for p in plans))
    contain = (
        f"switch the callers to their fallback ({', '.join(fallbacks)}) by forcing {policies}"
        " open, or map a failed validation to an error (failure_if_result) so the breakers"
        " open and the fallback serves"
        if fallbacks
        else "no fallback is declared: pin a known-good version or take the feature offline"
    )
    return (
        "answers succeed at the transport level (HTTP 200), so no breaker,"
        " retry or fallback sees them; detect them by answer validation (a quality SLI);"
        f" {contain}"
    )


def _data_reason(graph: Graph, mode: CatalogMode, name: str) -> str:
    """A data failure: no call-path mechanism undoes it; replication and backups do."""
    data = graph.components[name].data
    how = (
        f"replication {data.replication}, backups every {data.backup_interval:g}s"
        if data is not None and data.backup_interval is not None
        else "replication and backups"
    )
    seen = (
        "stale results succeed at the transport level, so no breaker or fallback sees them;"
        " detect them by comparing a sample with the source of truth"
        if mode.silent
        else "a data failure that no call-path mechanism undoes"
    )
    return f"{seen}; contained by {how} (see recovery)"


def _uncalled_reason(graph: Graph, mode: CatalogMode, name: str) -> str:
    """Nothing calls it through a policy: only its own replicas (or a rollback) contain it."""
    comp = graph.components[name]
    spare = comp.replicas - comp.min_healthy
    who = "entry point" if name in graph.entry_shares else "nothing in the spec calls it"
    redundancy = (
        f"{spare} spare replica(s) behind health checks"
        if spare > 0
        else "no spare replica: restart within its MTTR (see the redundancy proposals)"
    )
    deploy = "; canary + automatic rollback" if mode.category == "deploy" else ""
    return f"{who}, no caller-side mechanism contains it; {redundancy}{deploy}"


#: The mechanisms that contain a failure of each category, in the order the report names them.
_CONTAINS = {
    "crash": ("circuit_breaker", "fallback", "retry"),
    "errors": ("circuit_breaker", "fallback", "retry"),
    "deploy": ("circuit_breaker", "fallback"),
    "latency": ("timeout", "bulkhead", "circuit_breaker", "fallback"),
    "overload": ("bulkhead", "rate_limiter", "circuit_breaker", "fallback"),
    "rate_limit": ("rate_limiter", "retry", "circuit_breaker", "fallback"),
}


#: What a caller's plan has, as containment reads it: (breaker, fallback, retries, bulkhead,
#: rate limiter, how the report names the fallback).
_Has = tuple[bool, bool, bool, bool, bool, str]


def _has(plan: EdgePlan) -> _Has:
    return (
        plan.has_breaker,
        plan.has_fallback,
        plan.max_attempts > 1,
        plan.bulkhead is not None,
        plan.rate_limited,
        plan.fallback or "degraded answer",
    )


@functools.lru_cache(maxsize=4096)
def _said(category: str, transient: bool, has: _Has) -> tuple[tuple[str, ...], str]:
    """The mechanisms among those that contain a failure of `category` that a plan that `has`
    them plans, in the report's order, and how the sentence names them; remembered: a large
    plan has few combinations, asked once per failure mode and caller."""
    breaker, fallback, retries, bulkhead, rate_limiter, fallback_is = has
    have = {
        "circuit_breaker": breaker,
        "fallback": fallback,
        "retry": retries and transient,
        "timeout": True,
        "bulkhead": bulkhead,
        "rate_limiter": rate_limiter,
    }
    wanted = _CONTAINS.get(category, ("circuit_breaker", "fallback"))
    mine = tuple(m for m in wanted if have[m])
    spoken = ", ".join(f"fallback → {fallback_is}" if m == "fallback" else _SPOKEN[m] for m in mine)
    return mine, spoken


def _caller_containment(
    mode: CatalogMode, plans: tuple[EdgePlan, ...], callers: list[tuple[str, _Has]]
) -> tuple[tuple[str, ...], str]:
    """The callers' planned mechanisms among those that contain the mode's category
    (`callers`: each plan's policy and what it has)."""
    found: list[str] = []
    parts: list[str] = []
    category, transient = mode.category, mode.transient
    for policy, has in callers:
        mine, spoken = _said(category, transient, has)
        if mine:
            found.extend([f"{policy}: {m}" for m in mine])
            parts.append(f"{policy}: {spoken}")
    if not found:
        wanted = _CONTAINS.get(mode.category, ("circuit_breaker", "fallback"))
        policies = ", ".join(sorted(p.policy for p in plans))
        wants = ", ".join(m.replace("_", " ") for m in wanted)
        return (), f"{policies} plan none of what contains it ({wants})"
    return tuple(found), "; ".join(parts)


#: How the sentence names each mechanism.
_SPOKEN = {
    m: m.replace("_", " ")
    for m in ("circuit_breaker", "retry", "timeout", "bulkhead", "rate_limiter")
}
