"""Each component's facts, resolved once: p50, p99, MTTR, warm-up, per-replica availability and,
for a replicated store whose primary is replaced by a promotion, the failover time.

Every figure carries where it came from — declared in the spec, derived from other declared
figures, or the kind's catalog default — and every analysis reads it from here (through
`Graph.facts`) instead of consulting the spec and `KIND_DEFAULTS` again, so no two sections can
resolve the same fact differently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from planner.analysis.catalog import KIND_DEFAULTS
from planner.model import Figure
from planner.spec import Component

__all__ = ["HEALTH_CHECK", "PROMOTION", "ComponentFacts", "Source", "promotes", "resolve"]

PROBES, PROBE_INTERVAL = 3, 10.0
HEALTH_CHECK = PROBES * PROBE_INTERVAL  # seconds until failed probes mark an instance down
#: Seconds to promote a replica: the upper end of managed Postgres/MySQL failovers.
PROMOTION = 120.0

Source = Literal["declared", "derived", "catalog default"]


@dataclass(frozen=True, slots=True)
class ComponentFacts:
    """One component's resolved figures, each with its source."""

    name: str
    kind: str
    managed: bool  # operated by a provider: redundancy means a second provider, not replicas
    p50: Figure  # seconds, one call
    p50_source: Source
    p99: Figure  # seconds, one call
    p99_source: Source
    mttr: Figure  # seconds to repair one failure of one instance
    mttr_source: Source
    warm_up: Figure  # seconds from started to serving at full capacity
    warm_up_source: Source
    availability: Figure  # percent, one replica
    availability_source: Source
    # seconds of outage each time the primary fails and a replica is promoted (detect + promote
    # + warm-up); None when a failed instance needs no promotion. The availability model and the
    # recovery section's host-failure RTO both read this one figure.
    failover: Figure | None = None


def promotes(comp: Component) -> bool:
    """Whether losing the component's primary means promoting a replica.

    A replicated database's replicas are standbys (writes need the primary); another replicated
    store without a spare replica has no instance that already serves.
    """
    replicated = comp.data is not None and comp.data.replication != "none"
    spare = comp.replicas > comp.min_healthy
    return replicated and (comp.kind == "database" or not spare)


def _failover(comp: Component, warm_up: Figure) -> Figure | None:
    if not promotes(comp):
        return None
    return Figure(
        HEALTH_CHECK + PROMOTION + warm_up.value,
        "s",
        "health_check + promotion + warm_up",
        {"health_check": HEALTH_CHECK, "promotion": PROMOTION, "warm_up": warm_up.value},
    )


@functools.cache  # one figure per kind and default: every component of a kind shares it
def _default(value: float, unit: str, kind: str) -> Figure:
    return Figure(value, unit, "catalog default", {"kind": kind})


def facts_of(comp: Component) -> ComponentFacts:
    """The facts of one component."""
    defaults = KIND_DEFAULTS[comp.kind]
    kind = comp.kind
    p50: Figure
    p50_source: Source
    p99_source: Source
    if comp.latency is None:
        p50, p50_source = _default(defaults.p50, "s", kind), "catalog default"
        p99, p99_source = _default(defaults.p99, "s", kind), "catalog default"
    else:
        p99, p99_source = (
            Figure(comp.latency.p99, "s", "declared", {"component": comp.name}),
            ("declared"),
        )
        if comp.latency.p50 is not None:
            p50 = Figure(comp.latency.p50, "s", "declared", {"component": comp.name})
            p50_source = "declared"
        else:  # the kind's p50, but never above the declared p99
            p50 = Figure(
                min(defaults.p50, comp.latency.p99),
                "s",
                "min(catalog p50, declared p99)",
                {"kind": kind, "p99": comp.latency.p99},
            )
            p50_source = "derived"
    mttr_source: Source
    if comp.mttr is not None:
        mttr, mttr_source = Figure(comp.mttr, "s", "declared", {"component": comp.name}), "declared"
    else:
        mttr, mttr_source = _default(defaults.mttr, "s", kind), "catalog default"
    availability_source: Source
    if comp.mtbf is not None and comp.mttr is not None:
        availability = Figure(
            comp.mtbf / (comp.mtbf + comp.mttr) * 100.0,
            "%",
            "mtbf / (mtbf + mttr) × 100",
            {"mtbf_s": comp.mtbf, "mttr_s": comp.mttr},
        )
        availability_source = "derived"
    elif comp.availability is not None:
        availability = Figure(comp.availability, "%", "declared", {"component": comp.name})
        availability_source = "declared"
    else:
        availability = _default(defaults.availability, "%", kind)
        availability_source = "catalog default"
    warm_up = _default(defaults.warm_up, "s", kind)
    return ComponentFacts(
        name=comp.name,
        kind=kind,
        managed=defaults.managed,
        p50=p50,
        p50_source=p50_source,
        p99=p99,
        p99_source=p99_source,
        mttr=mttr,
        mttr_source=mttr_source,
        warm_up=warm_up,
        warm_up_source="catalog default",
        availability=availability,
        availability_source=availability_source,
        failover=_failover(comp, warm_up),
    )


def resolve(components: Iterable[Component]) -> dict[str, ComponentFacts]:
    """The facts of every component, by name."""
    return {comp.name: facts_of(comp) for comp in components}
