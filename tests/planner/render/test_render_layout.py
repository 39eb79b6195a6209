"""The text report's box-drawing primitives: alignment, wrapping, width, and the risk matrix."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.render.layout import (
    MAX_WIDTH,
    box,
    flow_box,
    header_block,
    risk_matrix_box,
    table,
    table_chunks,
    tree_box,
)

SEED_CRITICAL = {("H", "M"), ("H", "H"), ("M", "H")}


def test_table_aligns_columns_like_the_seed() -> None:
    lines = table(["ID", "Priority"], [["FM-001", "P1"], ["FM-010", "P3"]])
    assert lines == [
        "| ID     | Priority |",
        "|--------|----------|",
        "| FM-001 | P1       |",
        "| FM-010 | P3       |",
    ]


def test_table_without_rows_still_prints_its_header() -> None:
    assert table(["Period", "Target"], []) == ["| Period | Target |", "|--------|--------|"]


def test_table_wraps_a_long_cell_and_keeps_every_bar_aligned() -> None:
    long_text = "Upstream changed its response schema and every parser now fails " * 3
    lines = table(["ID", "Failure", "Impact"], [["FM-001", long_text, "H"]], max_width=60)
    assert len(lines) > 3
    assert all(len(line) <= 60 for line in lines)
    bar_positions = {tuple(i for i, ch in enumerate(line) if ch == "|") for line in lines}
    assert len(bar_positions) == 1
    # nothing lost in wrapping: the cell's words come back in order
    text = " ".join(line.split("|")[2].strip() for line in lines[2:])
    assert text.split() == long_text.split()


def test_a_large_table_comes_in_chunks_of_whole_lines_that_make_the_table() -> None:
    rows = [[f"FM-{i:04d}", "service-" + "x" * (i % 40), f"P{1 + i % 3}"] for i in range(600)]
    chunks = list(table_chunks(["ID", "Component", "Priority"], rows, max_width=40))
    assert len(chunks) == 3  # 256 rows a chunk, the header with the first
    assert all(chunk.endswith("\n") for chunk in chunks)
    assert "".join(chunks).split("\n")[:-1] == table(["ID", "Component", "Priority"], rows, 40)
    assert chunks[1].startswith("| FM-0256 ")


def test_rows_that_fit_and_rows_that_wrap_align_alike() -> None:
    rows = [["a", "short"], ["b", "a cell long enough to wrap onto a second line"], ["c", "x "]]
    assert table(["K", "Value"], rows, max_width=30) == [
        "| K | Value                  |",
        "|---|------------------------|",
        "| a | short                  |",
        "| b | a cell long enough to  |",
        "|   | wrap onto a second     |",
        "|   | line                   |",
        "| c | x                      |",
    ]


def test_a_bar_inside_a_cell_is_drawn_as_the_given_glyph() -> None:
    assert "".join(table_chunks(["A"], [["x|y"]], bar="¦")).splitlines()[2] == "| x¦y |"


def test_table_rejects_a_row_with_the_wrong_number_of_cells() -> None:
    try:
        table(["a", "b"], [["only one"]])
    except ValueError as exc:
        assert "1 cells" in str(exc)
    else:
        raise AssertionError("expected ValueError")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(alphabet="abc XYZ-_.%0123", min_size=0, max_size=80), min_size=3, max_size=3
        ),
        min_size=0,
        max_size=6,
    )
)
def test_table_never_exceeds_the_width_and_never_leaves_trailing_space(
    rows: list[list[str]],
) -> None:
    lines = table(["Component", "Failure", "Users Impacted"], rows)
    assert all(len(line) <= MAX_WIDTH for line in lines)
    assert all(line == line.rstrip() for line in lines)
    assert len({line.count("|") for line in lines}) == 1


def test_box_frames_lines_with_equal_width() -> None:
    lines = box(["Primary → Health check fails", "x"])
    assert lines[0].startswith("┌") and lines[0].endswith("┐")
    assert lines[-1].startswith("└") and lines[-1].endswith("┘")
    assert len({len(line) for line in lines}) == 1
    assert lines[1].startswith("│ Primary → Health check fails")


def test_box_wraps_lines_longer_than_the_page() -> None:
    lines = box(["word " * 40])
    assert all(len(line) <= MAX_WIDTH for line in lines)
    assert len(lines) > 3


def _matrix_cells(lines: list[str]) -> dict[str, list[str]]:
    rows = {}
    for line in lines:
        inner = line.strip("│ ")
        for name in ("High", "Med", "Low"):
            if inner.startswith(name) and "│" in inner:
                rows[name] = inner.split("│")[1].split()
    return rows


def test_risk_matrix_places_marks_from_the_counts() -> None:
    counts = {("H", "M"): 2, ("M", "L"): 1, ("L", "H"): 12, ("H", "H"): 0}
    lines = risk_matrix_box(counts, SEED_CRITICAL)
    cells = _matrix_cells(lines)
    # rows are impact High/Med/Low, columns probability Low/Med/High, as in the seed
    assert cells == {
        "High": ["·", "●2", "·"],
        "Med": ["○1", "·", "·"],
        "Low": ["·", "·", "○12"],
    }
    assert len({len(line) for line in lines}) == 1


def test_risk_matrix_marks_follow_the_critical_set_not_a_fixed_picture() -> None:
    counts = {("H", "M"): 1}
    assert _matrix_cells(risk_matrix_box(counts, SEED_CRITICAL))["High"][1] == "●1"
    assert _matrix_cells(risk_matrix_box(counts, set()))["High"][1] == "○1"


def test_tree_box_draws_branches() -> None:
    lines = tree_box("RESILIENCE LAYERS", [("LAYER 1: Prevention", ["a", "b"]), ("LAYER 2", ["c"])])
    body = [line.strip("│").strip() for line in lines[1:-1]]
    assert body == [
        "RESILIENCE LAYERS",
        "",
        "LAYER 1: Prevention",
        "├── a",
        "└── b",
        "",
        "LAYER 2",
        "└── c",
    ]


def test_flow_box_joins_steps_with_arrows_and_indents_details() -> None:
    lines = flow_box(
        [("Primary", "Health check fails", "gateway: 3 failed checks"), ("Failback", "Return", "")]
    )
    body = [line.strip("│").rstrip() for line in lines[1:-1]]
    assert body == [
        " Primary → Health check fails",
        "     gateway: 3 failed checks",
        "        ↓",
        " Failback → Return",
    ]


def test_header_block_has_rules_as_wide_as_the_widest_line() -> None:
    lines = header_block("RELIABILITY ENGINEERING PLAN", [("System", "x" * 50)])
    assert lines[1] == lines[-1] == "═" * len("System: " + "x" * 50)
