"""The dependency graph part of the plan (`Plan.graph`): components and edges as the report
draws them. Re-exported by `planner.model`, the analysis ↔ render contract; its own file keeps
model.py within the size that holds one idea."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DependencyGraph", "GraphEdge", "GraphNode"]


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One component as the dependency graph shows it."""

    component: str
    kind: str
    entry_point: bool
    replicas: int


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """One dependency edge: hard or soft, and what the caller falls back to."""

    caller: str
    target: str
    hard: bool
    fallback: str | None  # a component name or a free-text fallback; None for none
    fallback_component: bool  # `fallback` names a component of the spec


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    """The spec's components and dependency edges, in spec order (for the report's pictures)."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
