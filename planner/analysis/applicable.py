"""What of the catalog applies to one component, given what its spec declares.

A catalog mode that needs a feature the spec does not declare (replication, a quota, a consumer)
cannot happen and is left out; a kind that usually keeps data but has no `data:` section is
"undeclared", so recovery asks for the section instead of assuming the component is stateless.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Literal

from planner.analysis.catalog import CATALOG, CatalogMode
from planner.spec import Component

STATEFUL_KINDS = frozenset({"database", "queue", "object_storage", "vector_db", "search"})
"""Kinds that keep data: without a `data:` section the planner asks for one instead of assuming
the component is stateless (RPO 0)."""

State = Literal["stateful", "stateless", "undeclared"]


def state_of(comp: Component) -> State:
    """Whether `comp` keeps data: as declared, else "undeclared" for a kind that usually does."""
    if comp.data is not None:
        return "stateful" if comp.data.stateful else "stateless"
    return "undeclared" if comp.kind in STATEFUL_KINDS else "stateless"


def modes_of(comp: Component, consumed: bool) -> tuple[CatalogMode, ...]:
    """The kind's catalog modes that `comp`'s spec makes possible, their weights renormalised.

    Replication lag needs replication (data.replication async or sync), a provider's rate limit
    a declared quota, a backlog or poison message a consumer (`consumed`: a worker calls it).
    The remaining modes share all of the component's failures, so their weights sum to 1 again.
    """
    replication = comp.data is not None and comp.data.replication != "none"
    return _possible(comp.kind, replication, comp.quota is not None, consumed)


@functools.cache
def _possible(kind: str, replication: bool, quota: bool, consumer: bool) -> tuple[CatalogMode, ...]:
    """`modes_of` for a kind and its features, made once per combination: a large spec has few
    combinations and many components, and every component of one shares the same modes."""
    features = {"replication": replication, "quota": quota, "consumer": consumer}
    kept = [m for m in CATALOG[kind] if m.requires is None or features[m.requires]]
    total = sum(m.weight for m in kept)
    if not kept or abs(total - 1.0) < 1e-9:
        return tuple(kept)
    return tuple(replace(m, weight=m.weight / total) for m in kept)
