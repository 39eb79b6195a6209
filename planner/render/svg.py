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
from planner.render.pictures import (
    IMPACT_ROWS,
    PROBABILITY_COLUMNS,
    AvailabilityPicture,
    BurnPicture,
    FlowPicture,
    HeatMap,
)

__all__ = ["availability_svg", "burn_svg", "flow_svg", "heat_map_svg", "svg"]

_LEVEL = {"H": "High", "M": "Med", "L": "Low"}
#: Approximate advance of one character of the 12px UI font, for sizing boxes around labels.
_CHAR = 7.0


def e(text: str) -> str:
    """Text escaped for an SVG text node or a quoted attribute."""
    return escape(text, quote=True)


def svg(name: str, width: float, height: float, alt: str, body: str) -> str:
    """An <svg> with its text alternative as <title> and <desc>."""
    ident = f"{name}-title"
    return (
        f'<svg class="picture {name}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-labelledby="{ident}">'
        f'<title id="{ident}">{e(alt)}</title><desc>{e(alt)}</desc>{body}</svg>'
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
            f' role="button" tabindex="0" aria-label="{e(label)}"'
            if cell.count
            else f' class="cell tone-{tone}" data-cell="{key}" data-count="0"'
        )
        mark = "●" if cell.critical else "○"
        count = str(cell.count) if cell.count else "·"
        body.append(
            f"<g{attrs}><title>{e(label)}</title>"
            f'<rect x="{x + 2}" y="{y + 2}" width="{size - 4}" height="{size - 4}" rx="6"/>'
            f'<text x="{x + size / 2}" y="{y + size / 2 + 10}" class="count" '
            f'text-anchor="middle">{count}</text>'
            f'<text x="{x + 12}" y="{y + 20}" class="mark">{mark if cell.count else ""}</text>'
            "</g>"
        )
    return svg("risk-matrix", left + 3 * size + 10, top + 3 * size + 30, alt, "".join(body))


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
        below = [c for c in entry.caps if c[2]]
        if below:
            cap_line = "capped below the target by " + ", ".join(
                f"{name} (≤{fmt.percent(slo)})" for name, slo, _ in below[:3]
            )
        elif entry.caps:
            name, slo, _ = entry.caps[0]
            cap_line = f"highest it allows: {fmt.percent(slo)} ({name}), above the target"
        else:
            cap_line = "nothing caps it"
        body.append(
            f'<text class="label" x="{left - 10}" y="{y + bar - 2}" text-anchor="end">'
            f"{e(entry.component)}</text>"
            f'<text class="sub" x="{left - 10}" y="{y + 2 * bar + 2}" text-anchor="end">'
            f"{e(fmt.share(entry.traffic_share * 100))} of traffic</text>"
        )
        for k, (value, label) in enumerate(
            ((entry.availability, "as specified"), (entry.availability_with, "with fallbacks"))
        ):
            by = y + k * (bar + 4)
            tone = "good" if value >= picture.target else "bad"
            w = max(2.0, x_of(value) - left)
            body.append(
                f'<rect class="bar tone-{tone}{" with" if k else ""}" x="{left}" y="{by}" '
                f'width="{w:.1f}" height="{bar}" rx="3"><title>{e(entry.component)} '
                f"{label}: {fmt.percent(value)}</title></rect>"
                f'<text class="value" x="{left + w + 6:.1f}" y="{by + bar - 4}">'
                f"{fmt.percent(value)} {label}</text>"
            )
        body.append(f'<text class="cap" x="{left}" y="{y + 2 * bar + 20}">{e(cap_line)}</text>')
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
            f"{e(fmt.percent(percent) if tick else '0%')}</text>"
        )
    return svg("availability", left + span + right + 170, axis_y + 30, alt, "".join(body))


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
            f'<text class="step-name" x="{x + 14}" y="{y + 22}">{index + 1}. {e(step)}</text>'
            f'<text class="step-action" x="{x + 150}" y="{y + 22}">{e(action)}</text>'
            + "".join(
                f'<text class="step-detail" x="{x + 150}" y="{y + 40 + 15 * k}">{e(part)}</text>'
                for k, part in enumerate(lines)
            )
            + "</g>"
        )
        y += h + 26
    return svg("failover", width, y - 26 + pad, alt, "".join(body))


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
            f"{e(period)}</text>"
        )
        if used is None:
            body.append(f'<text class="sub" x="{left}" y="{y + bar - 4}">no data</text>')
        else:
            w = max(2.0, min(used, 400.0) * scale)
            body.append(
                f'<rect class="bar tone-{tone}" x="{left}" y="{y}" width="{w:.1f}" '
                f'height="{bar}" rx="3"><title>{e(period)}: {fmt.share(used)} of the budget '
                f"used ({e(status)})</title></rect>"
                f'<text class="value" x="{left + w + 6:.1f}" y="{y + bar - 4}">'
                f"{fmt.share(used)} · {e(status)}</text>"
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
                f"{e(window)}</text>"
                f'<rect class="bar tone-{tone}" x="{left}" y="{y}" width="{w:.1f}" '
                f'height="{bar}" rx="3"><title>{e(window)} burn rate {rate:g}×</title></rect>'
                f'<text class="value" x="{left + w + 6:.1f}" y="{y + bar - 4}">{rate:g}×</text>'
            )
            y += bar + 10
        for name, rate in ((("1× (budget lasts the period)"), 1.0), *burn.alert_rates):
            rx = left + rate * rate_scale
            body.append(
                f'<line class="threshold" x1="{rx:.1f}" y1="{start - 4}" x2="{rx:.1f}" '
                f'y2="{y}"><title>{e(name)}: {rate:g}×</title></line>'
            )
        labels = sorted({round(r, 3): n for n, r in burn.alert_rates}.items())
        ly = y + 14
        for rate, name in labels:
            body.append(
                f'<text class="sub" x="{left + rate * rate_scale:.1f}" y="{ly}" '
                f'text-anchor="middle">{rate:g}× {e(name.split(" ")[0])}</text>'
            )
            ly += 12
        y = ly + 10
    return svg("burn", left + span + 170, y + pad, alt, "".join(body))
