"""Box-drawing primitives of the text report, in the seed's house style.

Everything returns a list of lines (no trailing newline, no trailing spaces) so a renderer can
concatenate sections and a golden test can compare them byte for byte. Widths count characters;
the glyphs used here (box drawing, arrows, ● ○ ·) are one column wide in every monospace font.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from planner.render.wrapping import wrap_paragraph

#: The widest line the text report produces; tables wrap their cells to stay within it.
MAX_WIDTH = 100

#: Rows of the seed's risk matrix (impact, top to bottom) and its columns (probability).
IMPACT_ROWS = ("H", "M", "L")
PROBABILITY_COLUMNS = ("L", "M", "H")
_LEVEL_NAMES = {"H": "High", "M": "Med", "L": "Low"}

CRITICAL_MARK = "●"
MONITOR_MARK = "○"
EMPTY_MARK = "·"


def header_block(title: str, fields: Sequence[tuple[str, str]], width: int = 39) -> list[str]:
    """The report's title, a double rule, `Name: value` lines and a closing double rule."""
    body = [part for name, value in fields for part in wrap(f"{name}: {value}", MAX_WIDTH)]
    rule_width = max([width, len(title)] + [len(line) for line in body])
    rule = "═" * min(rule_width, MAX_WIDTH)
    return [title, rule, *body, rule]


def section(title: str, width: int = 36) -> list[str]:
    """A section title over a single rule, as the seed separates its sections."""
    return [title, "─" * max(width, len(title))]


def wrap(text: str, width: int = MAX_WIDTH) -> list[str]:
    """Wrap text to `width` columns, keeping its line breaks; longer words are broken."""
    if len(text) <= width and text.isprintable():
        return [text.rstrip(" ")]  # one line (printable text holds no line break)
    if "\n" not in text:
        return wrap_paragraph(text, width) or [""]
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(wrap_paragraph(paragraph, width) or [""])
    return lines


def _fit_widths(natural: list[int], minimum: list[int], budget: int) -> list[int]:
    """Column widths that fit `budget`: each column keeps its minimum and gets a share of the
    remaining room in proportion to how much more it would need, so long text columns (a
    procedure, a reason) get more room than short ones. Deterministic: ties go to the left."""
    if sum(natural) <= budget:
        return list(natural)
    room = budget - sum(minimum)
    if room <= 0:
        return list(minimum)  # cannot fit: the minimums win over the width limit
    want = [n - m for n, m in zip(natural, minimum, strict=True)]
    total = sum(want)
    shares = [w * room / total for w in want]
    widths = [m + int(share) for m, share in zip(minimum, shares, strict=True)]
    leftover = budget - sum(widths)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in by_remainder[:leftover]:
        widths[i] += 1
    return [min(w, n) for w, n in zip(widths, natural, strict=True)]


#: A column is never narrowed below its longest word, up to this many characters.
WORD_LIMIT = 16

#: Columns at most this wide (IDs, levels, durations, mechanism names) are never wrapped.
SHORT_COLUMN = 16


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    max_width: int = MAX_WIDTH,
    min_column: int = 6,
) -> list[str]:
    """A pipe table as in the seed (`| a | b |` + `|---|---|`), aligned, cells wrapped to fit.

    A wrapped cell continues on the next physical line with the other columns blank, so every
    line keeps the column bars aligned. An empty `rows` still prints the header.
    """
    return "".join(table_chunks(headers, rows, max_width, min_column)).split("\n")[:-1]


#: Table rows per chunk of `table_chunks`: a chunk per row would cost more than the rows.
_ROWS_PER_CHUNK = 256


def table_chunks(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    max_width: int = MAX_WIDTH,
    min_column: int = 6,
    bar: str | None = None,
) -> Iterator[str]:
    """`table`'s lines as chunks of text, each line ending with a newline: the header, its
    rule and the rows, `_ROWS_PER_CHUNK` rows a chunk. With `bar`, a "|" in a cell is drawn
    as `bar` (a literal one would read as a column bar)."""
    count = len(headers)
    if set(map(len, rows)) - {count}:
        row = next(row for row in rows if len(row) != count)
        raise ValueError(f"table row has {len(row)} cells, the header has {count}: {row!r}")
    # A whole table, or a column, at a time in a few calls over all its cells: a report has
    # thousands of small tables (one per policy) and a few with a row per component.
    cells = list(itertools.chain.from_iterable(rows))
    joined = "".join(cells)
    if bar is not None and "|" in joined:
        rows = [[cell.replace("|", bar) for cell in row] for row in rows]
        cells = list(itertools.chain.from_iterable(rows))
        joined = "".join(cells)
    natural, plain = _measure(headers, rows, cells, joined)
    budget = max_width - (3 * count + 1)  # "| " before each cell, " " after, and the last "|"
    widths = natural
    if sum(natural) > budget:
        columns = zip(headers, _columns(rows, count), natural, strict=True)
        minimum = [_minimum(head, column, n, min_column) for head, column, n in columns]
        widths = _fit_widths(natural, minimum, budget)
    line, top = _frame(tuple(headers), tuple(widths))
    if widths is natural and len(rows) <= _ROWS_PER_CHUNK and all(plain):
        # every cell fits on one line, as in most tables: the rows in one format
        yield top + ("\n".join([line] * len(rows)) % tuple(cells) + "\n" if rows else "")
        return
    # A column whose every cell fits it and is printable without trailing spaces is printed as
    # it is; only the other (tight) columns' cells are looked at, row by row.
    whole = [ok and n <= w for n, ok, w in zip(natural, plain, widths, strict=True)]
    tight = [i for i, ok in enumerate(whole) if not ok]
    lines_of = None
    for first in range(0, max(len(rows), 1), _ROWS_PER_CHUNK):
        batch = rows[first : first + _ROWS_PER_CHUNK]
        if not batch:
            text = ""
        elif not tight:  # the batch in one format, with one line per row
            values = cells if len(batch) == len(rows) else itertools.chain.from_iterable(batch)
            text = "\n".join([line] * len(batch)) % tuple(values) + "\n"
        else:
            if lines_of is None:
                # a column's cells repeat (a component's failure modes, their kinds): each
                # distinct one is wrapped once
                lines_of = functools.lru_cache(maxsize=4096)(_cell_lines)
            text = "\n".join(_physical(batch, widths, line, whole, lines_of)) + "\n"
        yield top + text if first == 0 else text


def _columns(rows: Sequence[Sequence[str]], count: int) -> list[tuple[str, ...]]:
    """The cells of each column."""
    return list(zip(*rows, strict=True)) if rows else [()] * count


def _measure(
    headers: Sequence[str], rows: Sequence[Sequence[str]], cells: list[str], joined: str
) -> tuple[list[int], list[bool]]:
    """Each column's natural width (its longest line, header included) and whether its every
    cell is printable (one line) with no trailing space. `cells` are the rows' cells in order,
    `joined` their concatenation."""
    count = len(headers)
    if joined.isprintable():  # every cell one line, as in most tables
        lengths = list(map(len, cells))
        natural = [max(len(h), max(lengths[i::count], default=0)) for i, h in enumerate(headers)]
        # a cell ending with a space shows as a double space before the newline
        if "  \n" not in " \n".join(cells) + " \n":
            return natural, [True] * count
    natural, plain = [], []
    for head, column in zip(headers, _columns(rows, count), strict=True):
        if all(map(str.isprintable, column)):
            natural.append(max(len(head), max(map(len, column), default=0)))
            plain.append("  \n" not in " \n".join(column) + " \n")
        else:
            natural.append(max(len(head), max(map(len, "\n".join(column).split("\n")))))
            plain.append(False)
    return natural, plain


def _minimum(head: str, cells: Sequence[str], natural: int, min_column: int) -> int:
    """The narrowest a column may be: short columns stay whole; in the others headers up to
    WORD_LIMIT stay on one line, longer ones keep their words whole, and body words up to
    WORD_LIMIT (component names) are whole."""
    if natural <= SHORT_COLUMN:
        return natural
    longest = max(map(len, " ".join(cells).split()), default=0)
    return min(
        natural,
        max(
            min_column,
            len(head) if len(head) <= WORD_LIMIT else 0,
            *(len(word) for word in head.split()),
            min(WORD_LIMIT, longest),
        ),
    )


@functools.lru_cache(maxsize=256)
def _frame(headers: tuple[str, ...], widths: tuple[int, ...]) -> tuple[str, str]:
    """A table's row format and its header lines and rule, newline-ended (a report's policy
    tables share a few of them)."""
    # Every line ends with " |": the lines need no stripping, and "%-Ns" pads as ljust does.
    line = "| " + " | ".join(f"%-{w}s" for w in widths) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return line, "\n".join([*_physical([headers], widths, line), rule]) + "\n"


def _cell_lines(cell: str, width: int) -> tuple[str, ...]:
    """A cell's lines, as `wrap` draws them."""
    if cell.isprintable():  # one line of text
        if len(cell) <= width:
            return (cell.rstrip(" "),)
        return tuple(wrap_paragraph(cell, width)) or ("",)
    return tuple(wrap(cell, width))


def _physical(
    rows: Iterable[Sequence[str]],
    widths: Sequence[int],
    line: str,
    whole: Sequence[bool] | None = None,
    lines_of: Callable[[str, int], tuple[str, ...]] = _cell_lines,
) -> list[str]:
    """The rows' lines: each cell wrapped to its column's width (`lines_of`), side by side, in
    `line`, the row's format; a cell of a `whole` column is printed as it is."""
    out: list[str] = []
    for row in rows:
        cells = [
            (cell,) if whole is not None and whole[i] else lines_of(cell, width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        height = max(map(len, cells))
        if height == 1:
            out.append(line % tuple(itertools.chain.from_iterable(cells)))
        else:  # shorter cells go on blank
            padded = [cell + ("",) * (height - len(cell)) for cell in cells]
            out += [line % parts for parts in zip(*padded, strict=True)]
    return out


def box(lines: Sequence[str], min_width: int = 37) -> list[str]:
    """Frame `lines` in a single-line box (┌─┐ │ │ └─┘) with one space of padding on the left.

    The inner width is the longest line + 2 (at least `min_width`, at most what fits MAX_WIDTH);
    longer lines are wrapped.
    """
    inner_limit = MAX_WIDTH - 2
    inner = min(max([min_width] + [len(line) + 2 for line in lines]), inner_limit)
    body: list[str] = []
    for line in lines:
        pieces = [line] if len(line) + 2 <= inner else wrap(line, inner - 2)
        body.extend(f"│ {piece.ljust(inner - 1)}│" for piece in pieces)
    return ["┌" + "─" * inner + "┐", *body, "└" + "─" * inner + "┘"]


def risk_matrix_box(
    counts: Mapping[tuple[str, str], int], critical: Collection[tuple[str, str]]
) -> list[str]:
    """The seed's risk matrix with the plan's failure modes placed in it.

    `counts[(impact, probability)]` is how many failure modes fall in that cell (levels H/M/L);
    `critical` holds the cells whose modes are P1. A cell shows ● (critical) or ○ (monitor)
    followed by its count, or · when no failure mode falls in it.
    """

    def cell(impact: str, probability: str) -> str:
        count = counts.get((impact, probability), 0)
        if count == 0:
            return EMPTY_MARK
        mark = CRITICAL_MARK if (impact, probability) in critical else MONITOR_MARK
        return f"{mark}{count}"

    column = 7
    heading = "".join(_LEVEL_NAMES[p].ljust(column) for p in PROBABILITY_COLUMNS)
    lines = [
        "      RISK MATRIX",
        "",
        f"Impact │ {heading}".rstrip(),
        "───────┼" + "─" * (column * len(PROBABILITY_COLUMNS) + 1),
    ]
    for impact in IMPACT_ROWS:
        cells = "".join((" " + cell(impact, p)).ljust(column) for p in PROBABILITY_COLUMNS)
        lines.append(f"{_LEVEL_NAMES[impact].ljust(7)}│{cells}".rstrip())
    lines += [
        "       └" + "─" * (column * len(PROBABILITY_COLUMNS) + 1),
        "         Probability →",
        "",
        f"{CRITICAL_MARK} = Critical (P1)   {MONITOR_MARK} = Monitor",
        f"{EMPTY_MARK} = none; the number counts the modes",
    ]
    return box(lines)


def tree_box(title: str, groups: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """A titled box of groups, each with its items drawn as a tree (├── / └──).

    Used for the seed's RESILIENCE LAYERS box; groups are separated by a blank line.
    """
    lines = [f"      {title}"]
    for name, items in groups:
        lines += ["", name]
        for index, item in enumerate(items):
            branch = "└── " if index == len(items) - 1 else "├── "
            # Continuation lines of a long item stay under its text, not under the branch.
            wrapped = wrap(item, MAX_WIDTH - 4 - len(branch) - 2)
            lines.append(branch + wrapped[0])
            lines.extend(("    " if branch == "└── " else "│   ") + more for more in wrapped[1:])
    return box(lines)


def flow_box(steps: Sequence[tuple[str, str, str]]) -> list[str]:
    """The seed's failover diagram: `Step → action` lines joined by down arrows, in a box.

    Each step is `(step, action, detail)`; a non-empty detail goes on the line below, indented.
    """
    lines: list[str] = []
    for index, (step, action, detail) in enumerate(steps):
        if index:
            lines.append("       ↓")
        lines.append(f"{step} → {action}" if action else step)
        if detail:
            lines.extend("    " + part for part in wrap(detail, MAX_WIDTH - 10))
    return box(lines)
