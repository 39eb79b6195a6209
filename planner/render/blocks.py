"""The vocabulary of the report: the blocks every renderer knows how to draw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Block",
    "Bullets",
    "Diagram",
    "Heading",
    "Paragraph",
    "Section",
    "Table",
    "Title",
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


Block = Title | Section | Heading | Table | Diagram | Paragraph | Bullets


def table_block(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A Table from any sequences of cells."""
    return Table(tuple(headers), tuple(tuple(row) for row in rows))
