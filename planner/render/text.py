"""The plain-text report in the seed's OUTPUT FORMAT: header rules, section rules, pipe tables and
box-drawn diagrams, at most `MAX_WIDTH` columns, byte-for-byte deterministic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
    flat,
)
from planner.render.layout import MAX_WIDTH, header_block, section, table, wrap
from planner.render.sections import document
from planner.render.wrapping import wrap_paragraph


def _block(block: Block) -> list[str]:
    if isinstance(block, Title):
        return header_block(block.title, block.fields)
    if isinstance(block, Section):
        return section(block.title)
    if isinstance(block, Heading):
        return wrap(block.text)
    if isinstance(block, Table):
        # A literal "|" inside a cell would read as a column bar in a plain-text pipe table.
        rows = [[cell.replace("|", "¦") for cell in row] for row in block.rows]
        return table(block.headers, rows)
    if isinstance(block, Diagram | Picture):
        return list(block.lines)
    if isinstance(block, Paragraph):
        return wrap(block.text)
    assert not isinstance(block, Fold)  # flat() opened every fold
    lines: list[str] = []
    for item in block.items:
        lines += wrap_paragraph(item, MAX_WIDTH, initial_indent="- ", subsequent_indent="  ")
    return lines


def text_chunks(blocks: Sequence[Block]) -> Iterator[str]:
    """Draw blocks as text, a chunk per block: blank lines between blocks, none between a
    heading and its body."""
    previous: Block | None = None
    wrote = False
    for block in flat(blocks):
        if isinstance(block, Picture) and not block.lines:
            continue  # a picture the text report has no drawing for (the dependency graph)
        # The seed puts a section's first block right under its rule, as a heading's body.
        lines = _block(block)
        if previous is not None and not isinstance(previous, Heading | Section):
            lines.insert(0, "")
        previous = block
        if lines:
            wrote = True
            yield "\n".join([line.rstrip() for line in lines]) + "\n"
    if not wrote:
        yield "\n"


def render_blocks(blocks: Sequence[Block]) -> str:
    """Draw blocks as text, in one string (see `text_chunks`)."""
    return "".join(text_chunks(blocks))


def text_report_chunks(plan: Plan, sections: Sequence[str] | None = None) -> Iterator[str]:
    """The report (or some of its sections) as plain text, in chunks."""
    return text_chunks(document(plan, sections))


def render_text(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as plain text."""
    return "".join(text_report_chunks(plan, sections))
