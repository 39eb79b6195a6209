"""The dependency graph as inline SVG: components by layer (`planner.render.graph_layout`),
hard edges solid, soft dashed, fallbacks as green dotted arrows, each component coloured by its
blast radius; every node carries both colours so the page's switch can flip them."""

from __future__ import annotations

from planner.render import figures as fmt
from planner.render.graph_layout import layered
from planner.render.pictures import GraphPicture, PictureEdge, PictureNode
from planner.render.svg import e, svg

__all__ = ["BLAST_BUCKETS", "blast_class", "graph_svg"]

#: Upper bounds (percent of users) of the blast-radius colour buckets, and their names.
BLAST_BUCKETS = ((0.0, "none"), (10.0, "low"), (50.0, "mid"), (100.0, "high"))
_BUCKET_LABELS = ("0% of users", "≤10%", "≤50%", ">50%")

_GAP, _ROW_HEIGHT, _BOX_HEIGHT, _PAD = 36.0, 104.0, 48.0, 24.0
#: The legend's width (edge kinds, then the colour buckets): a narrow graph is centred over it.
_LEGEND_WIDTH = _PAD + 270 + sum(40 + len(label) * 7.0 for label in _BUCKET_LABELS) + _PAD

_MARKERS = (
    "<defs>"
    + "".join(
        f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        f'class="head-{kind}"/></marker>'
        for kind in ("hard", "soft", "fallback")
    )
    + "</defs>"
)


def blast_class(users: float) -> str:
    """The colour class of a blast radius: `blast-none` (0 %) … `blast-high` (over 50 %)."""
    for bound, name in BLAST_BUCKETS:
        if users <= bound:
            return f"blast-{name}"
    return "blast-high"


def _sub(node: PictureNode, share: str) -> str:
    return f"{node.kind} ×{node.replicas} · {share} users"


class _Drawing:
    """Where each node sits, and how its edges leave and enter it."""

    def __init__(self, graph: GraphPicture) -> None:
        names = [n.component for n in graph.nodes]
        placed = layered(names, [(edge.caller, edge.target) for edge in graph.edges])
        rows: dict[int, list[str]] = {}
        for name in sorted(names, key=lambda n: (placed[n].layer, placed[n].index)):
            rows.setdefault(placed[name].layer, []).append(name)
        widest = {n.component: fmt.share(max(n.users_without, n.users_with)) for n in graph.nodes}
        self.widths = {
            n.component: max(
                120.0, len(n.component) * 8.0 + 28, len(_sub(n, widest[n.component])) * 6.4 + 24
            )
            for n in graph.nodes
        }
        row_width = {
            d: sum(self.widths[n] for n in row) + _GAP * (len(row) - 1) for d, row in rows.items()
        }
        self.width = max(max(row_width.values(), default=200.0) + 2 * _PAD, _LEGEND_WIDTH)
        self.height = _PAD + len(rows) * _ROW_HEIGHT - (_ROW_HEIGHT - _BOX_HEIGHT) + _PAD + 44
        self.centre: dict[str, tuple[float, float]] = {}
        for d, row in rows.items():
            x = (self.width - row_width[d]) / 2
            for name in row:
                y = _PAD + d * _ROW_HEIGHT + _BOX_HEIGHT / 2
                self.centre[name] = (x + self.widths[name] / 2, y)
                x += self.widths[name] + _GAP
        # spread the ends of a node's edges along its border, ordered by where the other end is
        self.ends: dict[tuple[str, bool], list[str]] = {}
        for edge in graph.edges:
            if edge.caller in self.centre and edge.target in self.centre:
                self.ends.setdefault((edge.caller, True), []).append(edge.target)
                self.ends.setdefault((edge.target, False), []).append(edge.caller)
        for others in self.ends.values():
            others.sort(key=lambda other: self.centre[other][0])

    def anchor(self, name: str, bottom: bool, other: str | None = None) -> tuple[float, float]:
        """Where an edge to or from `other` meets `name`'s bottom (or top) border."""
        x, y = self.centre[name]
        others = self.ends.get((name, bottom), [])
        if other is not None and other in others and len(others) > 1:
            step = min(18.0, (self.widths[name] - 30) / (len(others) - 1))
            x += (others.index(other) - (len(others) - 1) / 2) * step
        return x, y + (_BOX_HEIGHT / 2 if bottom else -_BOX_HEIGHT / 2)

    def edge(self, edge: PictureEdge) -> str:
        """The edge's curve, and its fallback: an arrow to a component, or a label."""
        x1, y1 = self.anchor(edge.caller, True, edge.target)
        x2, y2 = self.anchor(edge.target, False, edge.caller)
        if y2 <= y1:  # same layer or upwards (a cycle in a hand-built plan): a side curve
            y2 = self.centre[edge.target][1]
        mid = (y1 + y2) / 2
        kind = "hard" if edge.hard else "soft"
        title = f"{edge.caller} → {edge.target}: {kind}" + (
            f", falls back to {edge.fallback}" if edge.fallback else ""
        )
        out = (
            f'<path class="edge edge-{kind}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} '
            f'{x2:.1f},{mid:.1f} {x2:.1f},{y2 - 2:.1f}" marker-end="url(#arrow-{kind})">'
            f"<title>{e(title)}</title></path>"
        )
        if edge.fallback and edge.fallback_component and edge.fallback in self.centre:
            fx, fy = self.anchor(edge.fallback, False)
            tx, ty = self.centre[edge.target]
            # from the side of the failing target to the top of the fallback
            half = self.widths[edge.target] / 2
            sx = tx + (half if fx >= tx else -half)
            out += (
                f'<path class="edge edge-fallback" d="M{sx:.1f},{ty:.1f} '
                f'Q{(sx + fx) / 2:.1f},{min(ty, fy) - 30:.1f} {fx:.1f},{fy - 2:.1f}" '
                f'marker-end="url(#arrow-fallback)"><title>{e(edge.caller)} falls back to '
                f"{e(edge.fallback)} when {e(edge.target)} fails</title></path>"
            )
        elif edge.fallback:
            # a free-text fallback: its words just above the target, within the target's width
            room = max(8, int((self.widths[edge.target] - 10) / 6.2))
            text = edge.fallback if len(edge.fallback) <= room else edge.fallback[: room - 1] + "…"
            out += (
                f'<text class="fallback-label" x="{x2:.1f}" y="{y2 - 12:.1f}" '
                f'text-anchor="middle">↩ {e(text)}'
                f"<title>{e(edge.caller)} falls back to: {e(edge.fallback)}</title></text>"
            )
        return out

    def node(self, node: PictureNode) -> str:
        """The component's box, drawn in its without-mechanisms colour, carrying both."""
        x, y = self.centre[node.component]
        w = self.widths[node.component]
        without, with_ = blast_class(node.users_without), blast_class(node.users_with)
        share_without, share_with = fmt.share(node.users_without), fmt.share(node.users_with)
        title = (
            f"{node.component} ({node.kind}, {node.replicas} replica"
            f"{'s' if node.replicas != 1 else ''}): its failure takes down {share_without} of "
            f"users without mechanisms, {share_with} with them"
        )
        return (
            f'<g class="node{" entry" if node.entry_point else ""}" '
            f'data-component="{e(node.component)}" data-without="{without}" '
            f'data-with="{with_}"><title>{e(title)}</title>'
            f'<rect class="{without}" x="{x - w / 2:.1f}" y="{y - _BOX_HEIGHT / 2:.1f}" '
            f'width="{w:.1f}" height="{_BOX_HEIGHT:.0f}" rx="8"/>'
            f'<text class="name" x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{e(node.component)}</text>"
            f'<text class="kind" x="{x:.1f}" y="{y + 13:.1f}" text-anchor="middle">'
            f"{e(node.kind)} ×{node.replicas} · "
            f'<tspan class="share" data-without="{share_without}" data-with="{share_with}">'
            f"{share_without}</tspan> users</text></g>"
        )

    def legend(self) -> tuple[str, float]:
        """The edge kinds and colour buckets, and the width they need."""
        ly, pad = self.height - 30, _PAD
        parts = [
            f'<line x1="{pad}" y1="{ly}" x2="{pad + 30}" y2="{ly}" class="edge edge-hard"/>'
            f'<text class="legend" x="{pad + 36}" y="{ly + 4}">hard</text>'
            f'<line x1="{pad + 80}" y1="{ly}" x2="{pad + 110}" y2="{ly}" class="edge edge-soft"/>'
            f'<text class="legend" x="{pad + 116}" y="{ly + 4}">soft</text>'
            f'<line x1="{pad + 160}" y1="{ly}" x2="{pad + 190}" y2="{ly}" '
            f'class="edge edge-fallback"/><text class="legend" x="{pad + 196}" y="{ly + 4}">'
            "fallback</text>"
        ]
        x = pad + 270
        for (_bound, name), label in zip(BLAST_BUCKETS, _BUCKET_LABELS, strict=True):
            parts.append(
                f'<rect class="legend-swatch blast-{name}" x="{x}" y="{ly - 8}" width="16" '
                f'height="16" rx="3"/><text class="legend" x="{x + 22}" y="{ly + 4}">{label}</text>'
            )
            x += 40 + len(label) * 7.0
        return "".join(parts), x + pad


def graph_svg(graph: GraphPicture, alt: str) -> str:
    """The dependency graph by layer, entry points on top, coloured by blast radius."""
    drawing = _Drawing(graph)
    edges = "".join(
        drawing.edge(edge)
        for edge in graph.edges
        if edge.caller in drawing.centre and edge.target in drawing.centre
    )
    nodes = "".join(drawing.node(node) for node in graph.nodes)
    legend, legend_width = drawing.legend()
    width = max(drawing.width, legend_width)
    return svg("dependency-graph", width, drawing.height, alt, _MARKERS + edges + nodes + legend)
