"""The plain-text report in the seed's OUTPUT FORMAT: header rules, section rules, pipe tables and
box-drawn diagrams, at most `MAX_WIDTH` columns, byte-for-byte deterministic."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence

from planner.model import Plan
from planner.render.blocks import (
    Block,
    Bullets,
    Diagram,
    Heading,
    Paragraph,
    Picture,
    Section,
    Table,
    Title,
    opened,
)
from planner.render.layout import MAX_WIDTH, header_block, section, table_chunks, wrap
from planner.render.sections import document_blocks
from planner.render.wrapping import wrap_paragraph

#: Small tables (at most `_SMALL_TABLE` rows) and bullet items a report remembers drawing.
_REMEMBERED = 2048
_SMALL_TABLE = 32


def _lines(block: Block) -> list[str]:
    """The lines of a block other than a table or bullets."""
    if isinstance(block, Title):
        return header_block(block.title, block.fields)
    if isinstance(block, Section):
        return section(block.title)
    if isinstance(block, Heading | Paragraph):
        return wrap(block.text)
    assert isinstance(block, Diagram | Picture)  # opened() opened every fold
    return list(block.lines)


def _item_lines(item: str) -> tuple[str, ...]:
    """A bullet item's lines."""
    if len(item) <= MAX_WIDTH - 2 and item.isprintable():
        # on one line, as wrap_paragraph draws it (many items are)
        item = item.rstrip(" ")
        return ("- " + item,) if item else ()
    return tuple(wrap_paragraph(item, MAX_WIDTH, initial_indent="- ", subsequent_indent="  "))


def _table_chunks(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """A table's chunks (see `layout.table_chunks`)."""
    # A literal "|" inside a cell would read as a column bar in a plain-text pipe table.
    return table_chunks(headers, rows, bar="¦")


def _table_text(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    """A small table in one piece."""
    return "".join(_table_chunks(headers, rows))


def text_chunks(blocks: Iterable[Block]) -> Iterator[str]:
    """Draw blocks as text, a chunk per block (a large table in several): blank lines between
    blocks, none between a heading and its body."""
    # Many policies share a table (the same settings) or a reason: each is drawn once.
    table_text = functools.lru_cache(maxsize=_REMEMBERED)(_table_text)
    item_lines = functools.lru_cache(maxsize=_REMEMBERED)(_item_lines)
    previous: Block | None = None
    wrote = False
    for block in opened(blocks):
        if isinstance(block, Picture) and not block.lines:
            continue  # a picture the text report has no drawing for (the dependency graph)
        # The seed puts a section's first block right under its rule, as a heading's body.
        gap = "\n" if previous is not None and not isinstance(previous, Heading | Section) else ""
        previous = block
        if isinstance(block, Table):  # table lines end with a bar: nothing to strip
            if len(block.rows) <= _SMALL_TABLE:
                yield gap + table_text(block.headers, block.rows)
            else:
                chunks = _table_chunks(block.headers, block.rows)
                yield gap + next(chunks)
                yield from chunks
            wrote = True
            continue
        if isinstance(block, Bullets):
            lines = [line for item in block.items for line in item_lines(item)]
        else:
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
    return text_chunks(document_blocks(plan, sections))


def render_text(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as plain text."""
    return "".join(text_report_chunks(plan, sections))
