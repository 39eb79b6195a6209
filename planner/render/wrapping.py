"""`textwrap.wrap` as the text report calls it, without its per-call cost.

The report wraps hundreds of thousands of table cells, most of them one short line, and a few
very long lines (the layers box lists every policy). The stdlib builds a `TextWrapper`,
translates whitespace, splits with a regex and pops a reversed list of chunks for each: the
largest cost of writing a large report. `wrap_paragraph` returns exactly what
`textwrap.wrap(text, width, break_on_hyphens=False, initial_indent=…, subsequent_indent=…)`
returns (the unit tests compare them on random text): printable text is cut a line at a time
with string searches instead of a chunk at a time; text holding a tab, a newline or any other
whitespace, and widths no wider than the indents, go to `textwrap` itself.
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["wrap_paragraph"]

#: The first character that is not a space: where a run of spaces ends.
_NOT_SPACE = re.compile(r"[^ ]")


def wrap_paragraph(
    text: str, width: int, initial_indent: str = "", subsequent_indent: str = ""
) -> list[str]:
    """Lines of at most `width` columns, long words broken, hyphens not broken at, as
    `textwrap.wrap(text, width, break_on_hyphens=False, …indents)`; `[]` for blank text."""
    # Every whitespace character but the space is non-printable: printable text needs no
    # tab expansion or whitespace translation, and its chunks are words and runs of spaces.
    if width <= max(len(initial_indent), len(subsequent_indent)) or not text.isprintable():
        return textwrap.wrap(
            text,
            width,
            break_on_hyphens=False,
            initial_indent=initial_indent,
            subsequent_indent=subsequent_indent,
        )
    if "  " not in text and text[:1] != " " and text[-1:] != " ":
        return _single_spaced(text, width, initial_indent, subsequent_indent)
    lines: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        indent = subsequent_indent if lines else initial_indent
        if lines and text[pos] == " ":
            pos = _chunk_end(text, pos)  # a line after the first does not start with spaces
            if pos == n:
                break
        limit = pos + width - len(indent)
        if limit >= n:
            line = text[pos:].rstrip(" ")  # the rest fits; its trailing spaces are dropped
            if line:
                lines.append(indent + line)
            break
        # the chunk that does not fit: it holds text[limit], or starts there
        if text[limit] == " ":
            start = pos + len(text[pos:limit].rstrip(" "))
        else:
            start = max(pos, text.rfind(" ", pos, limit) + 1)
        if _chunk_end(text, start) - start > limit - pos:
            # longer than any line: the line is filled with as much of it as fits, and a piece
            # of spaces dropped. (When none of it fits, textwrap drops that empty piece and
            # keeps the spaces before it.)
            line = text[pos:start] if text[start] == " " else text[pos:limit]
            pos = limit
        else:
            line = text[pos:start].rstrip(" ")
            pos = start
        if line:
            lines.append(indent + line)
    return lines


def _single_spaced(text: str, width: int, initial_indent: str, subsequent_indent: str) -> list[str]:
    """`wrap_paragraph` of printable text whose words are one space apart (as most are), with
    no space at either end: every line starts at a word, so no run of spaces needs handling."""
    lines: list[str] = []
    pos, n = 0, len(text)
    indent, room = initial_indent, width - len(initial_indent)
    while pos < n:
        limit = pos + room
        if limit >= n:
            lines.append(indent + text[pos:])
            break
        if text[limit] == " ":  # the line ends just before a space
            lines.append(indent + text[pos:limit])
            pos = limit + 1
        else:
            space = text.rfind(" ", pos, limit)
            # the word that does not fit: longer than a line, it fills this one (textwrap
            # breaks long words), else it goes to the next
            word = space + 1
            if space < 0 or (text.find(" ", word, word + room + 1) < 0 and word + room < n):
                lines.append(indent + text[pos:limit])
                pos = limit
            else:
                lines.append(indent + text[pos:space])
                pos = word
        indent, room = subsequent_indent, width - len(subsequent_indent)
    return lines


def _chunk_end(text: str, start: int) -> int:
    """Where the chunk (a word, or a run of spaces) that starts at `start` ends."""
    if text[start] == " ":
        found = _NOT_SPACE.search(text, start)
        return found.start() if found else len(text)
    end = text.find(" ", start)
    return len(text) if end < 0 else end
