"""A fallback's reason in the plan: the policy that guards the call it makes, and whether what it
calls can take the load moved onto it when the primary fails."""

from __future__ import annotations

from planner.analysis.graph import Edge, Graph
from planner.analysis.mechanisms.common import format_count, policy_name
from planner.model import Figure


def fallback_reason(graph: Graph, edge: Edge, rps: float | None) -> tuple[str, dict[str, Figure]]:
    """(the fallback row's reason, its figures) for an edge that degrades."""
    what = edge.dep.fallback or "a degraded answer without it (soft dependency)"
    reason = f"{edge.dep.type} dependency with fallback {what!r}: the handler is supplied in code"
    fallback = graph.fallback_of(edge)
    if fallback is None:
        return reason, {}
    guard = next((e for e in graph.edges[edge.caller] if e.target == fallback), None)
    if guard is not None:
        reason += f" and calls {fallback} through policy {policy_name(graph, guard)!r}"
    else:
        reason += (
            f" and calls {fallback} through policy {fallback_call_policy(edge.caller, fallback)!r},"
            f" derived for the fallback call ({fallback} is not among {edge.caller}'s"
            " dependencies)"
        )
    text, figure = capacity_check(graph, edge.target, fallback, rps)
    return reason + text, ({"fallback_capacity": figure} if figure is not None else {})


def fallback_call_policy(caller: str, fallback: str) -> str:
    """The policy of a call that only a fallback makes (its target is not a declared dependency
    of the caller): `caller.fallback`."""
    return f"{caller}.{fallback}"


def fallback_limit(graph: Graph, fallback: str) -> tuple[float, str] | None:
    """(the calls/s a fallback component is shown to hold, "quota" or "capacity"): the lower of
    its declared quota and capacity; None when it declares neither."""
    comp = graph.components[fallback]
    limits = [
        (limit.rps, label)
        for limit, label in ((comp.quota, "quota"), (comp.capacity, "capacity"))
        if limit is not None
    ]
    return min(limits) if limits else None


def capacity_check(
    graph: Graph, primary: str, fallback: str, rps: float | None
) -> tuple[str, Figure | None]:
    """Whether the fallback component can take `rps` moved onto it when `primary` fails, on top
    of its own traffic: (the reason's text, the share it holds)."""
    if rps is None:
        return "", None
    found = fallback_limit(graph, fallback)
    own = graph.rps[fallback] or 0.0
    peak = own + rps
    if found is None:
        return (
            f"; {fallback} declares no capacity or quota: when {primary} fails it takes"
            f" {rps:g}/s more ({format_count(peak)}/s in all), so load-test it for that",
            None,
        )
    limit, label = found
    holds = min(1.0, limit / peak)
    text = (
        f"; when {primary} fails, {fallback} takes {rps:g}/s on top of its {own:g}/s"
        f" = {format_count(peak)}/s against its {label} {limit:g}/s"
    )
    text += (
        ": it holds all of it"
        if holds >= 1.0
        else f": it holds only {holds:.0%}, the rest is rejected (raise its {label} or shed)"
    )
    return text, Figure(
        holds,
        "ratio",
        "min(1, fallback limit / (fallback rps + edge rps))",
        {"limit": limit, "fallback_rps": own, "edge_rps": rps},
    )
