"""The report as one self-contained HTML page: inline CSS, inline SVG pictures drawn from the
plan, a table of contents after the seed's sections, folding per-policy sections, coloured
statuses, a print stylesheet and one small inline script; no network, every text escaped.

No template engine: the page is the report's blocks (`planner.render.sections`) drawn one by one,
each text escaped at the one place it is written, so a dependency would buy nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from planner.model import Plan
from planner.perf import no_cyclic_gc
from planner.render import figures as fmt
from planner.render.blocks import (
    Block,
    Bullets,
    Diagram,
    Fold,
    Heading,
    Paragraph,
    Picture,
    Section,
    Table,
    Title,
)
from planner.render.html_style import SCRIPT, STYLE
from planner.render.pictures import (
    AvailabilityPicture,
    BudgetPicture,
    BurnPicture,
    FlowPicture,
    GraphPicture,
    HeatMap,
    LayersPicture,
    budget_left,
)
from planner.render.sections import document
from planner.render.svg import (
    availability_svg,
    burn_svg,
    flow_svg,
    heat_map_svg,
)
from planner.render.svg_budget import budget_svg
from planner.render.svg_graph import graph_svg

__all__ = ["render_blocks", "render_html"]

_LEVEL = {"H": "High", "M": "Medium", "L": "Low"}

_CAPTIONS = {
    "risk-matrix": "Risk matrix: failure modes by impact and probability; ● cells are critical "
    "(P1). Select a cell to list its modes.",
    "dependency-graph": "Dependency graph by layer, entry points on top (thick border); each "
    "component coloured by the share of users its failure takes down.",
    "availability": "Modeled availability per entry point on a nines scale (each step is ten "
    "times less downtime); the dashed line is the target.",
    "failover": "Failover plan, step by step.",
    "burn": "Error budget used per period, and the burn rate now against the rates the "
    "plan's alerts fire at.",
    "budget-series": "Error budget left over the SLO's budget period, measured: below the "
    "dashed even-burn line the budget is going faster than the period; below 0% it is spent.",
}


#: Words the contents keep in capitals.
_ACRONYMS = frozenset({"SLA", "SLO", "RTO", "RPO", "DR"})


def _title_case(title: str) -> str:
    """`SLA TRACKING` → `SLA Tracking`, `MONITORING & ALERTS` → `Monitoring & Alerts`."""
    return " ".join(w if w in _ACRONYMS else w.capitalize() for w in title.split())


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


class _Page:
    """Draws blocks into HTML, collecting the table of contents on the way."""

    def __init__(self, plan: Plan | None, runbooks: str | None) -> None:
        self.plan = plan
        self.runbooks = runbooks
        self.toc: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.ids: set[str] = set()
        self.hero = ""
        self.open_section = False

    # -- blocks --------------------------------------------------------------------------

    def block(self, block: Block) -> str:
        if isinstance(block, Title):
            self.hero = self.title(block)
            return ""
        if isinstance(block, Section):
            slug = _slug(block.title, self.ids)
            self.toc.append((slug, _title_case(block.title), []))
            close = "</section>\n" if self.open_section else ""
            self.open_section = True
            return f'{close}<section class="report" id="{slug}"><h2>{escape(block.title)}</h2>'
        if isinstance(block, Heading):
            text = block.text.rstrip(":")
            slug = _slug(text, self.ids)
            if self.toc:
                self.toc[-1][2].append((slug, text))
            return f'<h3 id="{slug}">{escape(text)}</h3>'
        if isinstance(block, Fold):
            summary = escape(block.heading.text.rstrip(":"))
            body = "\n".join(self.block(b) for b in block.blocks)
            return f'<details class="fold"><summary>{summary}</summary>\n{body}\n</details>'
        if isinstance(block, Table):
            return _table(block)
        if isinstance(block, Picture):
            return self.picture(block)
        if isinstance(block, Diagram):
            return f'<pre class="{escape(block.name)}">' + escape("\n".join(block.lines)) + "</pre>"
        if isinstance(block, Paragraph):
            return f"<p>{escape(block.text)}</p>"
        return self.bullets(block)

    def bullets(self, block: Bullets) -> str:
        items = []
        for i, item in enumerate(block.items):
            link = block.links[i] if i < len(block.links) else ""
            if link and self.runbooks is not None:
                href = escape(self.runbooks + link, quote=True)
                name, _, rest = item.partition(" ")
                text = f'<a href="{href}">{escape(name)}</a> {escape(rest)}'
            else:
                text = escape(item)
            items.append(f"<li>{text}</li>\n")
        return "<ul>\n" + "".join(items) + "</ul>"

    def title(self, block: Title) -> str:
        fields = dict(block.fields)
        plan = self.plan
        cards = ""
        if plan is not None:
            target = plan.header.target.value
            current = plan.current.value
            planned = plan.availability.with_mechanisms.value
            p1 = sum(1 for m in plan.failure_modes if m.priority == "P1")
            breached = sum(1 for s in plan.recovery.scenarios if s.status == "breached")
            card = [
                ("Tier", plan.header.tier, f"{plan.header.period_label} SLO period", ""),
                ("SLA target", fmt.percent(target), "", ""),
                (
                    "Current",
                    fmt.percent(current),
                    "measured" if plan.current.formula.startswith("measured") else "modeled",
                    "good" if current >= target else "bad",
                ),
                (
                    "With fallbacks",
                    fmt.percent(planned),
                    "modeled",
                    "good" if planned >= target else "bad",
                ),
                (
                    "P1 failure modes",
                    str(p1),
                    f"of {len(plan.failure_modes)}",
                    "bad" if p1 else "good",
                ),
                (
                    "RTO/RPO breached",
                    str(breached),
                    f"of {len(plan.recovery.scenarios)} scenarios",
                    "bad" if breached else "good",
                ),
            ]
            cards = (
                '<div class="cards">'
                + "".join(
                    f'<div class="card{f" tone-{t}" if t else ""}"><div class="k">{escape(k)}</div>'
                    f'<div class="v">{escape(v)}</div><div class="n">{escape(n)}</div></div>'
                    for k, v, n, t in card
                )
                + "</div>"
            )
        # the cards show system, tier and target; the fields say the rest (how Current was got)
        shown = ("System", "Tier", "SLA Target") if plan is not None else ()
        dl = "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in block.fields if k not in shown
        )
        system = fields.get("System", "")
        description = plan.header.description if plan is not None else ""
        subtitle = f"{system} — {description}" if description else system
        return (
            f'<header class="hero"><h1>{escape(block.title.capitalize())}</h1>'
            f'<p class="subtitle">{escape(subtitle)}</p>{cards}'
            f'<dl class="fields">{dl}</dl></header>'
        )

    # -- pictures ------------------------------------------------------------------------

    def picture(self, block: Picture) -> str:
        data = block.data
        caption = f"<figcaption>{escape(_CAPTIONS.get(block.name, block.alt))}</figcaption>"
        if isinstance(data, LayersPicture):
            cards = "".join(
                f'<div class="layer layer-{i}"><h4>{escape(name)}</h4><ul>'
                + "".join(
                    f"<li><strong>{escape(label)}</strong>"
                    + "".join(f' <span class="chip">{escape(v)}</span>' for v in values)
                    + "</li>"
                    for label, values, _separator in items
                )
                + "</ul></div>"
                for i, (name, items) in enumerate(data.groups, 1)
            )
            return f'<div class="layers" role="group" aria-label="Resilience layers">{cards}</div>'
        if isinstance(data, HeatMap):
            return (
                f'<figure class="figure-risk-matrix"><div class="risk-wrap">'
                f"{heat_map_svg(data, block.alt)}{_cell_modes(data)}</div>{caption}</figure>"
            )
        if isinstance(data, GraphPicture):
            switch = (
                '<div class="blast-switch" role="group" aria-label="Colour components by">'
                '<button type="button" data-mode="without" aria-pressed="true">'
                "Without mechanisms</button>"
                '<button type="button" data-mode="with" aria-pressed="false">'
                "With mechanisms</button></div>"
            )
            return (
                f'<figure class="figure-dependency-graph">{switch}'
                f"{graph_svg(data, block.alt)}{caption}</figure>"
            )
        if isinstance(data, AvailabilityPicture):
            svg = availability_svg(data, block.alt)
        elif isinstance(data, FlowPicture):
            svg = flow_svg(data, block.alt)
        elif isinstance(data, BurnPicture):
            svg = burn_svg(data, block.alt)
        elif isinstance(data, BudgetPicture):
            svg = budget_svg(data, block.alt) + _budget_table(data)
        elif block.lines:
            return f'<pre class="{escape(block.name)}">' + escape("\n".join(block.lines)) + "</pre>"
        else:
            return f"<p>{escape(block.alt)}</p>"
        return f'<figure class="figure-{escape(block.name)}">{svg}{caption}</figure>'

    # -- page ----------------------------------------------------------------------------

    def toc_html(self) -> str:
        items = []
        for slug, title, subs in self.toc:
            inner = "".join(f'<li><a href="#{s}">{escape(t)}</a></li>' for s, t in subs)
            inner = f"<ol>{inner}</ol>" if inner else ""
            items.append(f'<li><a href="#{slug}">{escape(title)}</a>{inner}</li>')
        return (
            '<nav class="toc" aria-label="Contents"><p class="toc-title">Contents</p>'
            f"<ol>{''.join(items)}</ol></nav>"
        )


def _cell_modes(heat: HeatMap) -> str:
    """Per non-empty cell, the list of its modes (hidden until the cell is selected)."""
    lists = []
    for cell in heat.cells:
        if not cell.count:
            continue
        items = "".join(
            f'<li><span class="pill tone-{_PRIORITY_TONE.get(m.priority, "muted")}">'
            f"{escape(m.priority)}</span> <strong>{escape(m.id)}</strong> "
            f"{escape(m.component)}: {escape(m.failure)}</li>"
            for m in cell.modes
        )
        heading = (
            f"{_LEVEL[cell.impact]} impact × {_LEVEL[cell.probability]} probability — "
            f"{cell.count} mode{'s' if cell.count != 1 else ''}"
        )
        lists.append(
            f'<div data-cell="{cell.impact}-{cell.probability}" hidden>'
            f"<h4>{escape(heading)}</h4><ul>{items}</ul></div>"
        )
    hint = '<p class="cell-hint">Select a cell to list its failure modes.</p>'
    return f'<div class="cell-modes" aria-live="polite">{hint}{"".join(lists)}</div>'


def _budget_table(picture: BudgetPicture) -> str:
    """The chart's figures as a table (its text alternative, folded under the chart)."""
    rows = "".join(
        f"<tr><td>{escape(fmt.iso_time(t))}</td><td>{escape(budget_left(v))}</td>"
        f"<td>{escape(budget_left(picture.ideal(t)))}</td></tr>"
        for t, v in picture.points
    )
    return (
        '<details class="chart-data"><summary>The chart\'s figures</summary>'
        '<div class="table-wrap"><table><thead><tr><th>Time (UTC)</th><th>Budget left</th>'
        f"<th>Even burn</th></tr></thead><tbody>{rows}</tbody></table></div></details>"
    )


_PRIORITY_TONE = {"P1": "bad", "P2": "warn", "P3": "muted"}


def _table(block: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
    rows = []
    for r, row in enumerate(block.rows):
        tones = block.tones[r] if r < len(block.tones) else ()
        cells = []
        for c, cell in enumerate(row):
            tone = tones[c] if c < len(tones) else ""
            if tone:
                cells.append(
                    f'<td class="tone-{tone}"><span class="pill">{escape(cell)}</span></td>'
                )
            else:
                cells.append(f"<td>{escape(cell)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>\n")
    return (
        f'<div class="table-wrap"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        f"{''.join(rows)}</tbody>\n</table></div>"
    )


def render_blocks(
    blocks: Sequence[Block],
    title: str,
    plan: Plan | None = None,
    runbooks: str | None = None,
) -> str:
    """A complete HTML document holding the blocks; `runbooks` is the relative directory the
    runbook files were written to (links to them), None when they were not written."""
    page = _Page(plan, runbooks)
    body = "\n".join(part for part in (page.block(b) for b in blocks) if part)
    if page.open_section:
        body += "\n</section>"
    tools = (
        '<p class="fold-tools"><button type="button" data-open="true">Expand all policies'
        '</button> <button type="button" data-open="false">Collapse all</button></p>'
    )
    if "details" in body:
        body = body.replace('<details class="fold">', tools + '<details class="fold">', 1)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{STYLE}\n</style>\n"
        "<noscript><style>.cell-modes [hidden] { display: block; } .cell-hint, .blast-switch,"
        " .fold-tools { display: none; }</style></noscript>\n</head>\n"
        f'<body>\n{page.hero}\n<div class="layout">\n{page.toc_html()}\n<main>\n{body}\n</main>\n'
        f"</div>\n<script>\n{SCRIPT}\n</script>\n</body>\n</html>\n"
    )


def render_html(
    plan: Plan, sections: Sequence[str] | None = None, runbooks: str | None = None
) -> str:
    """The report (or some of its sections) as a self-contained HTML page; with `runbooks`
    (the directory the runbooks were written to, relative to the page) it links them."""
    title = f"Reliability engineering plan — {plan.header.system}"
    # The page's blocks and parts are many small objects and no cycles: left on, the collector
    # scanned the whole plan again and again (10,000 components: 5.9 s to write, 2.9 s without).
    with no_cyclic_gc():
        return render_blocks(document(plan, sections), title, plan, runbooks)
