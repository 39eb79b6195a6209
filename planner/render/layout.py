"""Box-drawing primitives of the text report, in the seed's house style.

Everything returns a list of lines (no trailing newline, no trailing spaces) so a renderer can
concatenate sections and a golden test can compare them byte for byte. Widths count characters;
the glyphs used here (box drawing, arrows, ● ○ ·) are one column wide in every monospace font.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

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
    columns = len(headers)
    for row in rows:
        if len(row) != columns:
            raise ValueError(f"table row has {len(row)} cells, the header has {columns}: {row!r}")
    natural = [
        max([len(headers[i]), *(_longest_line(row[i]) for row in rows)]) for i in range(columns)
    ]
    # Short columns stay whole; in the others headers up to WORD_LIMIT stay on one line, longer
    # ones keep their words whole, and body words up to WORD_LIMIT (component names) are whole.
    minimum = [
        natural[i]
        if natural[i] <= SHORT_COLUMN
        else min(
            natural[i],
            max(
                min_column,
                len(headers[i]) if len(headers[i]) <= WORD_LIMIT else 0,
                *(len(word) for word in headers[i].split()),
                min(WORD_LIMIT, max((len(w) for row in rows for w in row[i].split()), default=0)),
            ),
        )
        for i in range(columns)
    ]
    overhead = 3 * columns + 1  # "| " before each cell, " " after, and the closing "|"
    widths = _fit_widths(natural, minimum, max_width - overhead)

    lines = _physical(headers, widths)
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.extend(_physical(row, widths))
    return lines


def _longest_line(cell: str) -> int:
    """The length of the cell's longest line."""
    return len(cell) if "\n" not in cell else max(map(len, cell.split("\n")))


def _physical(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    """One table row's lines: its cells wrapped to their column widths, side by side."""
    if all(len(c) <= w and c.isprintable() for c, w in zip(cells, widths, strict=True)):
        # every cell on one line (as `wrap` draws it: without trailing spaces), as most rows are
        parts = [c.rstrip(" ").ljust(w) for c, w in zip(cells, widths, strict=True)]
        return [("| " + " | ".join(parts) + " |").rstrip()]
    wrapped = [wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    out = []
    for line_no in range(max(len(w) for w in wrapped)):
        parts = [
            (cell[line_no] if line_no < len(cell) else "").ljust(width)
            for cell, width in zip(wrapped, widths, strict=True)
        ]
        out.append(("| " + " | ".join(parts) + " |").rstrip())
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
