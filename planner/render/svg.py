"""The report's pictures as inline SVG, drawn from `planner.render.pictures` (no script needed
to see them; the page's small script only selects matrix cells and flips the graph's colours).

Every text is escaped; every picture carries `role="img"`, a `<title>` and a `<desc>` that is
its text alternative. Colours are CSS classes (`tone-*`, `blast-*`) so the print stylesheet and
the switch can restyle them.
"""

from __future__ import annotations

import math
from html import escape

from planner.render import figures as fmt
from planner.render.graph_layout import layered
from planner.render.pictures import (
    IMPACT_ROWS,
    PROBABILITY_COLUMNS,
    AvailabilityPicture,
    BurnPicture,
    FlowPicture,
    GraphPicture,
    HeatMap,
)

__all__ = [
    "BLAST_BUCKETS",
    "availability_svg",
    "blast_class",
    "burn_svg",
    "flow_svg",
    "graph_svg",
    "heat_map_svg",
]

_LEVEL = {"H": "High", "M": "Med", "L": "Low"}
#: Approximate advance of one character of the 12px UI font, for sizing boxes around labels.
_CHAR = 7.0


def _e(text: str) -> str:
    return escape(text, quote=True)


def _svg(name: str, width: float, height: float, alt: str, body: str) -> str:
    """An <svg> with its text alternative as <title> and <desc>."""
    ident = f"{name}-title"
    return (
        f'<svg class="picture {name}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-labelledby="{ident}">'
        f'<title id="{ident}">{_e(alt)}</title><desc>{_e(alt)}</desc>{body}</svg>'
    )


# ------------------------------------------------------------------------------ risk heat map


def _cell_tone(critical: bool, priority: str, count: int) -> str:
    if critical:
        return "bad" if count else "bad-empty"
    if priority == "P2":
        return "warn"
    return "muted" if count else "empty"


def heat_map_svg(heat: HeatMap, alt: str) -> str:
    """The 3 × 3 risk matrix: cells coloured by priority, the number of modes in each; every
    non-empty cell is a button (`data-cell="H-M"`) the page's script selects."""
    size, left, top = 96, 70, 30
    body = [
        f'<text x="{left + 1.5 * size}" y="18" class="axis" text-anchor="middle">'
        "Probability →</text>"
    ]
    for j, p in enumerate(PROBABILITY_COLUMNS):
        x = left + j * size + size / 2
        body.append(
            f'<text x="{x}" y="{top + 3 * size + 18}" class="axis" text-anchor="middle">'
            f"{_LEVEL[p]}</text>"
        )
    body.append(
        f'<text x="16" y="{top + 1.5 * size}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + 1.5 * size})">Impact</text>'
    )
    for i, impact in enumerate(IMPACT_ROWS):
        y = top + i * size
        body.append(
            f'<text x="{left - 8}" y="{y + size / 2 + 4}" class="axis" text-anchor="end">'
            f"{_LEVEL[impact]}</text>"
        )
    for cell in heat.cells:
        i, j = IMPACT_ROWS.index(cell.impact), PROBABILITY_COLUMNS.index(cell.probability)
        x, y = left + j * size, top + i * size
        tone = _cell_tone(cell.critical, cell.priority, cell.count)
        key = f"{cell.impact}-{cell.probability}"
        label = (
            f"{_LEVEL[cell.impact]} impact, {_LEVEL[cell.probability]} probability: "
            f"{cell.count} failure mode{'s' if cell.count != 1 else ''}"
            + (" (critical: P1)" if cell.critical else "")
        )
        attrs = (
            f' class="cell tone-{tone}" data-cell="{key}" data-count="{cell.count}"'
            f' role="button" tabindex="0" aria-label="{_e(label)}"'
            if cell.count
            else f' class="cell tone-{tone}" data-cell="{key}" data-count="0"'
        )
        mark = "●" if cell.critical else "○"
        count = str(cell.count) if cell.count else "·"
        body.append(
            f"<g{attrs}><title>{_e(label)}</title>"
            f'<rect x="{x + 2}" y="{y + 2}" width="{size - 4}" height="{size - 4}" rx="6"/>'
            f'<text x="{x + size / 2}" y="{y + size / 2 + 10}" class="count" '
            f'text-anchor="middle">{count}</text>'
            f'<text x="{x + 12}" y="{y + 20}" class="mark">{mark if cell.count else ""}</text>'
            "</g>"
        )
    return _svg("risk-matrix", left + 3 * size + 10, top + 3 * size + 30, alt, "".join(body))


# --------------------------------------------------------------------------- dependency graph

#: Upper bounds (percent of users) of the blast-radius colour buckets, and their names.
BLAST_BUCKETS = ((0.0, "none"), (10.0, "low"), (50.0, "mid"), (100.0, "high"))


def blast_class(users: float) -> str:
    """The colour class of a blast radius: `blast-none` (0 %) … `blast-high` (over 50 %)."""
    for bound, name in BLAST_BUCKETS:
        if users <= bound:
            return f"blast-{name}"
    return "blast-high"


def _node_width(name: str, sub: str) -> float:
    return max(120.0, len(name) * 8.0 + 28, len(sub) * 6.4 + 24)


def _node_sub(kind: str, replicas: int, share: str) -> str:
    return f"{kind} ×{replicas} · {share} users"


def graph_svg(graph: GraphPicture, alt: str) -> str:
    """Components by layer (entry points on top), hard edges solid, soft dashed, fallbacks as
    green dotted arrows; each node carries both colours (`data-without`, `data-with`) and shows
    the one its figure's switch selects (the class on the <svg>)."""
    names = [n.component for n in graph.nodes]
    pairs = [(e.caller, e.target) for e in graph.edges]
    placed = layered(names, pairs)
    rows: dict[int, list[str]] = {}
    for name in sorted(names, key=lambda n: (placed[n].layer, placed[n].index)):
        rows.setdefault(placed[name].layer, []).append(name)
    gap, row_height, box_height, pad = 36.0, 104.0, 48.0, 24.0
    widths = {
        n.component: _node_width(
            n.component,
            _node_sub(n.kind, n.replicas, fmt.share(max(n.users_without, n.users_with))),
        )
        for n in graph.nodes
    }
    row_width = {d: sum(widths[n] for n in row) + gap * (len(row) - 1) for d, row in rows.items()}
    width = max(row_width.values(), default=200.0) + 2 * pad
    centre: dict[str, tuple[float, float]] = {}
    for d, row in rows.items():
        x = (width - row_width[d]) / 2
        for name in row:
            centre[name] = (x + widths[name] / 2, pad + d * row_height + box_height / 2)
            x += widths[name] + gap
    height = pad + len(rows) * row_height - (row_height - box_height) + pad + 44
    body: list[str] = [
        "<defs>"
        '<marker id="arrow-hard" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'class="head-hard"/></marker>'
        '<marker id="arrow-soft" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'class="head-soft"/></marker>'
        '<marker id="arrow-fallback" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'class="head-fallback"/></marker>'
        "</defs>"
    ]

    # spread the ends of a node's edges along its border, ordered by where the other end is
    ends: dict[tuple[str, bool], list[str]] = {}
    for edge in graph.edges:
        if edge.caller in centre and edge.target in centre:
            ends.setdefault((edge.caller, True), []).append(edge.target)
            ends.setdefault((edge.target, False), []).append(edge.caller)
    for others in ends.values():
        others.sort(key=lambda other: centre[other][0])

    def anchor(name: str, bottom: bool, other: str | None = None) -> tuple[float, float]:
        x, y = centre[name]
        others = ends.get((name, bottom), [])
        if other is not None and other in others and len(others) > 1:
            step = min(18.0, (widths[name] - 30) / (len(others) - 1))
            x += (others.index(other) - (len(others) - 1) / 2) * step
        return x, y + (box_height / 2 if bottom else -box_height / 2)

    edges: list[str] = []
    for edge in graph.edges:
        if edge.caller not in centre or edge.target not in centre:
            continue
        x1, y1 = anchor(edge.caller, True, edge.target)
        x2, y2 = anchor(edge.target, False, edge.caller)
        if y2 <= y1:  # same layer or upwards (a cycle in a hand-built plan): a side curve
            y2 = centre[edge.target][1]
        mid = (y1 + y2) / 2
        kind = "hard" if edge.hard else "soft"
        title = f"{edge.caller} → {edge.target}: {kind}" + (
            f", falls back to {edge.fallback}" if edge.fallback else ""
        )
        edges.append(
            f'<path class="edge edge-{kind}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} '
            f'{x2:.1f},{mid:.1f} {x2:.1f},{y2 - 2:.1f}" marker-end="url(#arrow-{kind})">'
            f"<title>{_e(title)}</title></path>"
        )
        if edge.fallback and edge.fallback_component and edge.fallback in centre:
            fx, fy = anchor(edge.fallback, False)
            tx, ty = centre[edge.target]
            # from the side of the failing target to the top of the fallback
            sx = tx + (widths[edge.target] / 2 if fx >= tx else -widths[edge.target] / 2)
            edges.append(
                f'<path class="edge edge-fallback" d="M{sx:.1f},{ty:.1f} '
                f'Q{(sx + fx) / 2:.1f},{min(ty, fy) - 30:.1f} {fx:.1f},{fy - 2:.1f}" '
                f'marker-end="url(#arrow-fallback)"><title>{_e(edge.caller)} falls back to '
                f"{_e(edge.fallback)} when {_e(edge.target)} fails</title></path>"
            )
        elif edge.fallback:
            # a free-text fallback: its words just above the target, within the target's width
            room = max(8, int((widths[edge.target] - 10) / 6.2))
            text = edge.fallback if len(edge.fallback) <= room else edge.fallback[: room - 1] + "…"
            edges.append(
                f'<text class="fallback-label" x="{x2:.1f}" y="{y2 - 12:.1f}" '
                f'text-anchor="middle">↩ {_e(text)}'
                f"<title>{_e(edge.caller)} falls back to: {_e(edge.fallback)}</title></text>"
            )
    body += edges
    for node in graph.nodes:
        x, y = centre[node.component]
        w = widths[node.component]
        without, with_ = blast_class(node.users_without), blast_class(node.users_with)
        share_without, share_with = fmt.share(node.users_without), fmt.share(node.users_with)
        title = (
            f"{node.component} ({node.kind}, {node.replicas} replica"
            f"{'s' if node.replicas != 1 else ''}): its failure takes down {share_without} of "
            f"users without mechanisms, {share_with} with them"
        )
        body.append(
            f'<g class="node{" entry" if node.entry_point else ""}" '
            f'data-component="{_e(node.component)}" data-without="{without}" '
            f'data-with="{with_}"><title>{_e(title)}</title>'
            f'<rect class="{without}" x="{x - w / 2:.1f}" y="{y - box_height / 2:.1f}" '
            f'width="{w:.1f}" height="{box_height:.0f}" rx="8"/>'
            f'<text class="name" x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{_e(node.component)}</text>"
            f'<text class="kind" x="{x:.1f}" y="{y + 13:.1f}" text-anchor="middle">'
            f"{_e(node.kind)} ×{node.replicas} · "
            f'<tspan class="share" data-without="{share_without}" data-with="{share_with}">'
            f"{share_without}</tspan> users</text></g>"
        )
    # legend
    ly = height - 30
    legend = [
        f'<line x1="{pad}" y1="{ly}" x2="{pad + 30}" y2="{ly}" class="edge edge-hard"/>'
        f'<text class="legend" x="{pad + 36}" y="{ly + 4}">hard</text>',
        f'<line x1="{pad + 80}" y1="{ly}" x2="{pad + 110}" y2="{ly}" class="edge edge-soft"/>'
        f'<text class="legend" x="{pad + 116}" y="{ly + 4}">soft</text>',
        f'<line x1="{pad + 160}" y1="{ly}" x2="{pad + 190}" y2="{ly}" '
        f'class="edge edge-fallback"/><text class="legend" x="{pad + 196}" y="{ly + 4}">'
        "fallback</text>",
    ]
    x = pad + 270
    for (bound, name), label in zip(
        BLAST_BUCKETS, ("0% of users", "≤10%", "≤50%", ">50%"), strict=True
    ):
        del bound
        legend.append(
            f'<rect class="legend-swatch blast-{name}" x="{x}" y="{ly - 8}" width="16" '
            'height="16" rx="3"/>'
            f'<text class="legend" x="{x + 22}" y="{ly + 4}">{label}</text>'
        )
        x += 40 + len(label) * _CHAR
    body += legend
    width = max(width, x + pad)
    return _svg("dependency-graph", width, height, alt, "".join(body))


# ------------------------------------------------------------------------------- availability


def _nines(percent: float) -> float:
    """-log10(unavailability): 99.9 % → 3; so 99.9 and 99.99 sit a whole step apart."""
    down = max(1e-7, 1 - percent / 100)
    return -math.log10(down)


def availability_svg(picture: AvailabilityPicture, alt: str) -> str:
    """One bar pair per entry point (as specified, with fallbacks) on a nines scale, the target
    as a line, and under each entry what caps it."""
    left, right, bar, pad = 170.0, 40.0, 16.0, 20.0
    span = 560.0
    values = [_nines(v) for e in picture.entries for v in (e.availability, e.availability_with)]
    goal = _nines(picture.target)
    # at most two nines either side of the target: 99.99997 % beside a 99.95 % target would
    # squeeze everything that matters into the left third
    hi = min(math.ceil(max([goal + 0.5, *values]) * 2) / 2, math.ceil(goal) + 2)
    lo = max(0.0, math.floor(min([goal - 1.0, *values])), math.floor(goal) - 2)

    def x_of(percent: float) -> float:
        return left + span * (min(max(_nines(percent), lo), hi) - lo) / (hi - lo)

    body: list[str] = []
    y = pad + 24
    for entry in picture.entries:
        caps = [c for c in entry.caps if c[2]] or list(entry.caps[:1])
        cap_line = (
            "capped by "
            + ", ".join(f"{name} (≤{fmt.percent(slo)})" for name, slo, _below in caps[:3])
            if caps
            else "no cap below the target"
        )
        body.append(
            f'<text class="label" x="{left - 10}" y="{y + bar - 2}" text-anchor="end">'
            f"{_e(entry.component)}</text>"
            f'<text class="sub" x="{left - 10}" y="{y + 2 * bar + 2}" text-anchor="end">'
            f"{_e(fmt.share(entry.traffic_share * 100))} of traffic</text>"
        )
        for k, (value, label) in enumerate(
            ((entry.availability, "as specified"), (entry.availability_with, "with fallbacks"))
        ):
            by = y + k * (bar + 4)
            tone = "good" if value >= picture.target else "bad"
            w = max(2.0, x_of(value) - left)
            body.append(
                f'<rect class="bar tone-{tone}{" with" if k else ""}" x="{left}" y="{by}" '
                f'width="{w:.1f}" height="{bar}" rx="3"><title>{_e(entry.component)} '
                f"{label}: {fmt.percent(value)}</title></rect>"
                f'<text class="value" x="{left + w + 6:.1f}" y="{by + bar - 4}">'
                f"{fmt.percent(value)} {label}</text>"
            )
        body.append(f'<text class="cap" x="{left}" y="{y + 2 * bar + 20}">{_e(cap_line)}</text>')
        y += 2 * bar + 44
    tx = x_of(picture.target)
    body.append(
        f'<line class="target" x1="{tx:.1f}" y1="{pad + 10}" x2="{tx:.1f}" y2="{y - 20}"/>'
        f'<text class="target-label" x="{tx:.1f}" y="{pad + 4}" text-anchor="middle">'
        f"target {fmt.percent(picture.target)}</text>"
    )
    # nines axis
    axis_y = y - 10
    body.append(
        f'<line class="axis-line" x1="{left}" y1="{axis_y}" x2="{left + span}" y2="{axis_y}"/>'
    )
    # ticks at 99 %, 99.5 %, 99.9 %, 99.95 %, ...: whole nines and the fives between them
    ticks = [
        n
        for k in range(int(lo), math.ceil(hi) + 1)
        for n in (float(k), k + math.log10(2))
        if lo - 1e-9 <= n <= hi + 1e-9 and (hi - lo <= 3 or n == k)
    ]
    for tick in ticks:
        percent = 100 * (1 - 10**-tick)
        tx = left + span * (tick - lo) / (hi - lo)
        body.append(
            f'<line class="tick" x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 5}"/>'
            f'<text class="axis" x="{tx:.1f}" y="{axis_y + 18}" text-anchor="middle">'
            f"{_e(fmt.percent(percent) if tick else '0%')}</text>"
        )
    return _svg("availability", left + span + right + 110, axis_y + 30, alt, "".join(body))


# ---------------------------------------------------------------------------- failover flow


def flow_svg(flow: FlowPicture, alt: str) -> str:
    """The failover plan as a flow: one box per step, arrows between, the detail inside."""
    width, box_w, pad = 720.0, 640.0, 16.0
    x = (width - box_w) / 2
    y = pad
    body = [
        '<defs><marker id="arrow-flow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0L10,5L0,10z" class="head-flow"/>'
        "</marker></defs>"
    ]
    chars = int((box_w - 140) / 6.2)
    for index, (step, action, detail) in enumerate(flow.steps):
        lines = _wrap(detail, chars)[:3]
        h = 34 + 15 * len(lines)
        if index:
            body.append(
                f'<line class="flow-arrow" x1="{width / 2}" y1="{y - 22}" x2="{width / 2}" '
                f'y2="{y - 3}" marker-end="url(#arrow-flow)"/>'
            )
        body.append(
            f'<g class="step step-{index}"><rect x="{x}" y="{y}" width="{box_w}" '
            f'height="{h}" rx="8"/>'
            f'<text class="step-name" x="{x + 14}" y="{y + 22}">{index + 1}. {_e(step)}</text>'
            f'<text class="step-action" x="{x + 150}" y="{y + 22}">{_e(action)}</text>'
            + "".join(
                f'<text class="step-detail" x="{x + 150}" y="{y + 40 + 15 * k}">{_e(part)}</text>'
                for k, part in enumerate(lines)
            )
            + "</g>"
        )
        y += h + 26
    return _svg("failover", width, y - 26 + pad, alt, "".join(body))


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, max(10, width), break_on_hyphens=False) if text else []


# ------------------------------------------------------------------------------ budget burn


def burn_svg(burn: BurnPicture, alt: str) -> str:
    """Budget used per period (100 % = the period's budget) and the burn rate per window against
    the burn rates the plan's alerts fire at."""
    left, span, bar, pad = 130.0, 480.0, 18.0, 20.0
    body: list[str] = [f'<text class="heading" x="{pad}" y="{pad + 4}">Error budget used</text>']
    y = pad + 20
    top = max([100.0, *(u for _p, u, _s in burn.periods if u is not None)])
    scale = span / min(top, 400.0)
    for period, used, status in burn.periods:
        tone = {"OK": "good", "Risk": "warn", "Breached": "bad"}.get(status, "muted")
        body.append(
            f'<text class="label" x="{left - 10}" y="{y + bar - 4}" text-anchor="end">'
            f"{_e(period)}</text>"
        )
        if used is None:
            body.append(f'<text class="sub" x="{left}" y="{y + bar - 4}">no data</text>')
        else:
            w = max(2.0, min(used, 400.0) * scale)
            body.append(
                f'<rect class="bar tone-{tone}" x="{left}" y="{y}" width="{w:.1f}" '
                f'height="{bar}" rx="3"><title>{_e(period)}: {fmt.share(used)} of the budget '
                f"used ({_e(status)})</title></rect>"
                f'<text class="value" x="{left + w + 6:.1f}" y="{y + bar - 4}">'
                f"{fmt.share(used)} · {_e(status)}</text>"
            )
        y += bar + 10
    full = left + 100.0 * scale
    body.append(
        f'<line class="target" x1="{full:.1f}" y1="{pad + 14}" x2="{full:.1f}" y2="{y}"/>'
        f'<text class="target-label" x="{full:.1f}" y="{y + 14}" text-anchor="middle">'
        "100% of the budget</text>"
    )
    y += 40
    if burn.burn_rates:
        body.append(
            f'<text class="heading" x="{pad}" y="{y}">Burn rate now (× the budget pace)</text>'
        )
        y += 16
        peak = max([1.0, *(r for _w, r in burn.burn_rates), *(r for _n, r in burn.alert_rates)])
        rate_scale = span / (peak * 1.1)
        start = y
        for window, rate in burn.burn_rates:
            tone = "bad" if rate > 1 else "good"
            w = max(2.0, rate * rate_scale)
            body.append(
                f'<text class="label" x="{left - 10}" y="{y + bar - 4}" text-anchor="end">'
                f"{_e(window)}</text>"
                f'<rect class="bar tone-{tone}" x="{left}" y="{y}" width="{w:.1f}" '
                f'height="{bar}" rx="3"><title>{_e(window)} burn rate {rate:g}×</title></rect>'
                f'<text class="value" x="{left + w + 6:.1f}" y="{y + bar - 4}">{rate:g}×</text>'
            )
            y += bar + 10
        for name, rate in ((("1× (budget lasts the period)"), 1.0), *burn.alert_rates):
            rx = left + rate * rate_scale
            body.append(
                f'<line class="threshold" x1="{rx:.1f}" y1="{start - 4}" x2="{rx:.1f}" '
                f'y2="{y}"><title>{_e(name)}: {rate:g}×</title></line>'
            )
        labels = sorted({round(r, 3): n for n, r in burn.alert_rates}.items())
        ly = y + 14
        for rate, name in labels:
            body.append(
                f'<text class="sub" x="{left + rate * rate_scale:.1f}" y="{ly}" '
                f'text-anchor="middle">{rate:g}× {_e(name.split(" ")[0])}</text>'
            )
            ly += 12
        y = ly + 10
    return _svg("burn", left + span + 170, y + pad, alt, "".join(body))
