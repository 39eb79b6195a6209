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
from planner.render.layout import MAX_WIDTH, header_block, section, table_chunks, wrap
from planner.render.sections import document
from planner.render.wrapping import wrap_paragraph


def _lines(block: Block) -> list[str]:
    """The lines of a block other than a table."""
    if isinstance(block, Title):
        return header_block(block.title, block.fields)
    if isinstance(block, Section):
        return section(block.title)
    if isinstance(block, Heading | Paragraph):
        return wrap(block.text)
    if isinstance(block, Diagram | Picture):
        return list(block.lines)
    assert not isinstance(block, Fold | Table)  # flat() opened every fold; tables are drawn apart
    return _bullets(block.items)


def _bullets(items: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for item in items:
        if len(item) <= MAX_WIDTH - 2 and item.isprintable():
            # on one line, as wrap_paragraph draws it (most items are)
            if item := item.rstrip(" "):
                lines.append("- " + item)
        else:
            lines += wrap_paragraph(item, MAX_WIDTH, initial_indent="- ", subsequent_indent="  ")
    return lines


def _table(block: Table) -> Iterator[str]:
    """A table's chunks (see `layout.table_chunks`)."""
    # A literal "|" inside a cell would read as a column bar in a plain-text pipe table.
    return table_chunks(block.headers, block.rows, bar="¦")


def text_chunks(blocks: Sequence[Block]) -> Iterator[str]:
    """Draw blocks as text, a chunk per block (a large table in several): blank lines between
    blocks, none between a heading and its body."""
    previous: Block | None = None
    wrote = False
    for block in flat(blocks):
        if isinstance(block, Picture) and not block.lines:
            continue  # a picture the text report has no drawing for (the dependency graph)
        # The seed puts a section's first block right under its rule, as a heading's body.
        gap = "\n" if previous is not None and not isinstance(previous, Heading | Section) else ""
        previous = block
        if isinstance(block, Table):
            chunks = _table(block)  # table lines end with a bar: nothing to strip
            yield gap + next(chunks)
            yield from chunks
            wrote = True
            continue
        lines = _lines(block)
        if lines:
            yield gap + "\n".join([line.rstrip() for line in lines]) + "\n"
            wrote = True
        elif gap:
            yield gap
            wrote = True
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
