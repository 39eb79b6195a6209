"""The dependency graph as the report draws it: components and edges, read off the indexed spec."""

from __future__ import annotations

from planner.analysis.graph import Graph
from planner.model import DependencyGraph, GraphEdge, GraphNode

__all__ = ["dependency_graph"]


def dependency_graph(graph: Graph) -> DependencyGraph:
    """Every component (kind, entry point, replicas) and every edge (hard/soft, fallback)."""
    nodes = tuple(
        GraphNode(c.name, c.kind, c.entry_point, c.replicas) for c in graph.components.values()
    )
    edges = tuple(
        GraphEdge(
            caller=edge.caller,
            target=edge.target,
            hard=edge.hard,
            fallback=edge.dep.fallback,
            fallback_component=graph.fallback_of(edge) is not None,
        )
        for name in graph.names
        for edge in graph.edges[name]
    )
    return DependencyGraph(nodes, edges)
