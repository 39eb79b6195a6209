"""The vocabulary of the report: the blocks every renderer knows how to draw."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "Block",
    "Bullets",
    "Diagram",
    "Fold",
    "Heading",
    "Paragraph",
    "Picture",
    "Section",
    "Table",
    "Title",
    "opened",
    "table_block",
]


@dataclass(frozen=True)
class Title:
    """The report header: title and `Name: value` fields."""

    title: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Section:
    """A top-level section (FAILURE MODE ANALYSIS, ...)."""

    title: str


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section ("Failure Modes:")."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table: header cells and rows of text cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: per row, per cell, a status tone (`planner.render.status.TONES`) or "" for none; () for
    #: a table without statuses. Only the HTML page draws them (as colours).
    tones: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Diagram:
    """A box-drawn diagram, already laid out as lines (risk matrix, layers, failover)."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Paragraph:
    """A sentence or two of prose."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]
    #: per item, a file the item names (a runbook) that a page can link to, or ""; () for none
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Picture:
    """A figure drawn from the plan's data: an SVG on the HTML page, `lines` in text.

    `data` is one of `planner.render.pictures`' picture types; `alt` is the picture's text
    alternative; `lines` is its box drawing in the text report (empty: text has none).
    """

    name: str
    alt: str
    data: object
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fold:
    """A titled group of blocks a page may fold (one policy's mechanisms); text prints it flat."""

    heading: Heading
    blocks: tuple[Block, ...]


Block = Title | Section | Heading | Table | Diagram | Paragraph | Bullets | Picture | Fold


def table_block(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    tones: Iterable[Sequence[str]] = (),
) -> Table:
    """A Table from any sequences of cells (and, optionally, their status tones)."""
    return Table(
        tuple(headers), tuple(tuple(row) for row in rows), tuple(tuple(row) for row in tones)
    )


def opened(blocks: Iterable[Block]) -> Iterator[Block]:
    """The blocks with every Fold opened into its heading and body, as text and markdown draw
    it, a block at a time (blocks are made as they are drawn)."""
    for block in blocks:
        if isinstance(block, Fold):
            yield block.heading
            yield from opened(block.blocks)
        else:
            yield block
