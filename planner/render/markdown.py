"""The report as GitHub-flavoured markdown: headings, pipe tables, diagrams in code blocks, and
the dependency graph as a Mermaid flowchart (GitHub renders it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from planner.model import Plan
from planner.render.blocks import (
    Block,
    Diagram,
    Fold,
    Heading,
    Paragraph,
    Picture,
    Section,
    Table,
    Title,
    opened,
)
from planner.render.pictures import GraphPicture
from planner.render.sections import document_blocks
from planner.render.svg_graph import BLAST_BUCKETS, blast_class

#: Mermaid fills of the blast-radius buckets (the HTML page's colours).
_MERMAID_FILL = {
    "none": "fill:#dafbe1,stroke:#1a7f37",
    "low": "fill:#fff8c5,stroke:#9a6700",
    "mid": "fill:#ffddb0,stroke:#bc4c00",
    "high": "fill:#ffd8d3,stroke:#cf222e",
}


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: quotes and angle brackets as entities."""
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")
        .replace("\n", " ")
    )


def mermaid_graph(graph: GraphPicture) -> list[str]:
    """The dependency graph as a Mermaid flowchart: hard edges solid, soft dotted, fallbacks
    labelled, components filled by their blast radius with the planned mechanisms."""
    ids = {node.component: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["```mermaid", "flowchart TD"]
    for node in graph.nodes:
        label = f"{_mermaid_text(node.component)}<br/>{_mermaid_text(node.kind)} ×{node.replicas}"
        lines.append(f'  {ids[node.component]}["{label}"]')
    for edge in graph.edges:
        if edge.caller not in ids or edge.target not in ids:
            continue
        caller, target = ids[edge.caller], ids[edge.target]
        label = "hard" if edge.hard else "soft"
        if edge.fallback and not edge.fallback_component:
            short = edge.fallback if len(edge.fallback) <= 30 else edge.fallback[:29] + "…"
            label += f", fallback: {short}"
        arrow = "-->" if edge.hard else "-.->"
        lines.append(f'  {caller} {arrow}|"{_mermaid_text(label)}"| {target}')
        if edge.fallback and edge.fallback_component and edge.fallback in ids:
            why = f"fallback when {edge.target} fails"
            lines.append(f'  {caller} ==>|"{_mermaid_text(why)}"| {ids[edge.fallback]}')
    for _bound, name in BLAST_BUCKETS:
        lines.append(f"  classDef blast{name} {_MERMAID_FILL[name]}")
    for node in graph.nodes:
        bucket = blast_class(node.users_with).removeprefix("blast-")
        lines.append(f"  class {ids[node.component]} blast{bucket}")
    lines.append("```")
    return lines


def escape_text(text: str) -> str:
    """Text with `<` backslash-escaped, so no spec text becomes raw HTML in a markdown viewer."""
    return text.replace("\\", "\\\\").replace("<", "\\<")


def escape_cell(text: str) -> str:
    """A table cell's text escaped (`<`, pipes) with newlines turned into `<br>`."""
    return escape_text(text).replace("|", "\\|").replace("\n", "<br>")


#: Rows per chunk of a table (see `_table`).
_ROWS_PER_CHUNK = 256

#: Stand-ins for a cell's end and a row's end while a batch of rows is escaped as one string.
_CELL_END, _ROW_END = "\x1f", "\x1e"


def _table(block: Table) -> Iterator[str]:
    """A table's lines, newline-joined, in chunks of `_ROWS_PER_CHUNK` rows (the first with the
    header, each later one starting with a newline)."""
    head = "| " + " | ".join(escape_cell(h) for h in block.headers) + " |"
    head += "\n|" + "|".join("---" for _ in block.headers) + "|"
    rows = block.rows
    for first in range(0, len(rows), _ROWS_PER_CHUNK):
        text = "\n" + _rows(rows[first : first + _ROWS_PER_CHUNK])
        yield head + text if first == 0 else text
    if not rows:
        yield head


def _rows(rows: Sequence[Sequence[str]]) -> str:
    """Table rows as lines, their cells escaped (`escape_cell`) a batch at a time: the cells
    joined by stand-ins, escaped in one pass, the stand-ins then replaced by the bars."""
    text = _ROW_END.join(map(_CELL_END.join, rows))
    if (
        text.count(_CELL_END) != sum(map(len, rows)) - len(rows)
        or text.count(_ROW_END) != len(rows) - 1
    ):  # a cell holds a stand-in: one at a time
        return "\n".join("| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows)
    text = escape_cell(text).replace(_CELL_END, " | ").replace(_ROW_END, " |\n| ")
    return "| " + text + " |"


def _block(block: Block) -> list[str]:
    if isinstance(block, Title):
        fields = (f"- **{k}:** {escape_text(v)}" for k, v in block.fields)
        return [f"# {block.title.title()}", "", *fields]
    if isinstance(block, Section):
        return [f"## {block.title.title().replace('&', 'and')}"]
    if isinstance(block, Heading):
        return [f"### {escape_text(block.text.rstrip(':'))}"]
    if isinstance(block, Picture):
        if isinstance(block.data, GraphPicture):
            note = (
                "Components filled by the share of users their failure takes down with the "
                "planned mechanisms: green none, yellow ≤10%, orange ≤50%, red more."
            )
            return [*mermaid_graph(block.data), "", note]
        return ["```text", *block.lines, "```"] if block.lines else []
    if isinstance(block, Diagram):
        return ["```text", *block.lines, "```"]
    if isinstance(block, Paragraph):
        return [escape_text(block.text)]
    assert not isinstance(block, Fold | Table)  # opened() opened every fold; tables apart
    # the items escaped in one pass: escaping never touches the "\n- " between them
    return ["- " + escape_text("\n- ".join(block.items))] if block.items else []


def markdown_chunks(blocks: Iterable[Block]) -> Iterator[str]:
    """Draw blocks as markdown, a chunk per block (a large table in several), one blank line
    between blocks."""
    separator = ""
    for block in opened(blocks):
        if isinstance(block, Table):
            chunks = _table(block)
            yield separator + next(chunks)
            yield from chunks
            separator = "\n\n"
            continue
        lines = _block(block)
        if lines:
            yield separator + "\n".join(lines)
            separator = "\n\n"
    yield "\n"


def render_blocks(blocks: Sequence[Block]) -> str:
    """Draw blocks as markdown, in one string (see `markdown_chunks`)."""
    return "".join(markdown_chunks(blocks))


def markdown_report_chunks(plan: Plan, sections: Sequence[str] | None = None) -> Iterator[str]:
    """The report (or some of its sections) as markdown, in chunks."""
    return markdown_chunks(document_blocks(plan, sections))


def render_markdown(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as markdown."""
    return "".join(markdown_report_chunks(plan, sections))
