"""The renderers on a hand-built plan: sections, formats, width, escaping, no made-up SLA."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser

import pytest
import yaml

from planner.model import Figure
from planner.render import dump_document, render_chunks, render_plan
from planner.render.runbooks import postmortem_markdown, runbook_files
from planner.render.sections import SECTIONS, SLA_HOW_TO, document, document_blocks
from tests.render_plans import MODES, sample_plan


def _section_titles(text: str) -> list[str]:
    lines = text.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if line and set(line) == {"─"}]


def test_text_report_has_the_seed_sections_in_order() -> None:
    text = render_plan(sample_plan(), "text")
    assert text.startswith("RELIABILITY ENGINEERING PLAN\n═")
    assert _section_titles(text) == [
        "FAILURE MODE ANALYSIS",
        "AVAILABILITY",
        "RESILIENCE MECHANISMS",
        "RECOVERY PROCEDURES",
        "MONITORING & ALERTS",
        "SLA TRACKING",
    ]
    for heading in ("Failure Modes:", "Blast Radius:", "Architecture:", "Failover Plan:"):
        assert f"\n{heading}\n" in text


@pytest.mark.parametrize("sla", [False, True])
def test_text_report_fits_100_columns_without_trailing_space(sla: bool) -> None:
    text = render_plan(sample_plan(sla=sla), "text")
    for line in text.splitlines():
        assert len(line) <= 100, line
        assert line == line.rstrip(), line


def test_text_report_header_shows_target_and_modeled_current() -> None:
    text = render_plan(sample_plan(), "text")
    assert "\nSLA Target: 99.99%\n" in text
    # the planned fallbacks' figure sits beside the specified one, so "below target" is not read
    # as the plan's verdict
    assert (
        "\nCurrent: 99.4502% (modeled from the spec, below target; 99.94% with the planned"
        " fallbacks)\n" in text
    )
    assert (
        "\nSystem: 99.4502% as specified (target 99.99% not met); 99.94% with the planned"
        " fallbacks (not met).\n" in text
    )


def test_every_failure_mode_is_a_row_with_its_priority_and_rpn() -> None:
    text = render_plan(sample_plan(), "text", ["failures"])
    rows = [line for line in text.splitlines() if line.startswith("| FM-")]
    assert [row.split("|")[1].strip() for row in rows] == [m.id for m in MODES]
    assert [row.split("|")[6].strip() for row in rows] == [m.priority for m in MODES]
    assert [row.split("|")[7].strip() for row in rows] == [str(m.rpn) for m in MODES]
    # a literal pipe in a cell must not add a column to the plain-text table
    assert len({row.count("|") for row in rows}) == 1


def test_risk_matrix_counts_come_from_the_failure_modes() -> None:
    text = render_plan(sample_plan(), "text", ["failures"])
    high = next(line for line in text.splitlines() if line.startswith("│ High   │"))
    low = next(line for line in text.splitlines() if line.startswith("│ Low    │"))
    # FM-001 is H×H and FM-002 is H×M, both in critical cells; FM-004 is L×L (monitor)
    assert high.split("│")[2].split() == ["·", "●1", "●1"]
    assert low.split("│")[2].split() == ["○1", "·", "·"]


def test_sections_filter_keeps_header_and_only_the_asked_sections() -> None:
    text = render_plan(sample_plan(), "text", ["recovery"])
    assert _section_titles(text) == ["RECOVERY PROCEDURES"]
    assert "System: ai-gateway" in text


def test_unknown_section_and_unknown_format_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown report section"):
        render_plan(sample_plan(), "text", ["nope"])
    with pytest.raises(ValueError, match="unknown format"):
        render_plan(sample_plan(), "pdf")


def test_unmeasured_sla_says_how_to_measure_and_shows_no_actual_figure() -> None:
    text = render_plan(sample_plan(), "text", ["sla"])
    sla = text[text.index("SLA TRACKING") :]
    rows = [line for line in sla.splitlines() if line.startswith(("| This", "| YTD"))]
    assert [row.split("|")[1].strip() for row in rows] == ["This month", "This quarter", "YTD"]
    assert all(row.split("|")[3].strip() == "not measured" for row in rows)
    assert "reliability sla SPEC --prometheus URL" in sla
    # the month's budget is derived from the target (30 d × 0.01 % = 4.32 min), not measured
    assert "Error Budget: 4.32 minutes per 30 days at 99.99%" in sla
    assert "remaining this month: not measured" in sla


def test_measured_sla_shows_the_rows_and_the_remaining_budget() -> None:
    text = render_plan(sample_plan(sla=True), "text", ["sla"])
    assert "| This month | 99.99% | 99.995% | 50%         | 60%  | OK" in text
    assert "| YTD        | 99.99% | —       | —           | —    | No data" in text
    assert (
        "Error Budget: 2.16 minutes of full outage left in this month (clock minutes at the"
        " last hour's traffic)" in " ".join(text.split())  # the paragraph wraps
    )
    assert SLA_HOW_TO not in text


def test_markdown_has_the_same_tables() -> None:
    md = render_plan(sample_plan(), "markdown")
    assert md.startswith("# Reliability Engineering Plan\n")
    assert "## Failure Mode Analysis" in md
    rows = [line for line in md.splitlines() if line.startswith("| FM-")]
    assert len(rows) == len(MODES)
    assert r"Cache outage \| stampede \<script>" in md  # the row keeps its columns, no raw HTML
    assert "<script>" not in md.replace(r"\<script>", "")
    assert "```text\n┌" in md  # diagrams stay box-drawn, in code blocks


def test_html_is_one_escaped_self_contained_page() -> None:
    page = render_plan(sample_plan(), "html")
    assert page.startswith("<!DOCTYPE html>")
    # one script, the page's own; the spec's "<script>" is escaped
    assert page.count("<script>") == 1 and "&lt;script&gt;" in page
    assert "(function () {" in page.split("<script>")[1]
    # no external resource of any kind: every link is to an anchor of the page
    assert not re.search(r"""\bsrc\s*=|@import|url\((?!#)""", page)
    links = re.findall(r"""href\s*=\s*"([^"]*)\"""", page)
    assert links and all(link.startswith("#") for link in links)

    class Balanced(HTMLParser):
        void = frozenset({"meta", "br"})

        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag not in self.void:
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack.pop() == tag

    parser = Balanced()
    parser.feed(page)
    assert parser.stack == []
    assert page.count("<h2>") == len(SECTIONS)


def test_dump_document_round_trips_json_and_yaml() -> None:
    doc = {"version": 1, "system": "ü", "mechanisms": {"a": {"timeout": 2.5}}}
    assert json.loads(dump_document(doc, "json")) == doc
    assert yaml.safe_load(dump_document(doc, "yaml")) == doc


def test_runbook_files_are_safe_names_with_every_section() -> None:
    files = runbook_files(sample_plan())
    assert list(files) == ["fm-001-llm-primary-429-rate-limiting.md", "fm-002-timeouts.md"]
    first = files["fm-001-llm-primary-429-rate-limiting.md"]
    assert first.startswith("# FM-001: llm-primary: 429 rate limiting\n")
    headings = [line for line in first.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Symptoms",
        "## Alert",
        "## Diagnosis",
        "## Mitigation",
        "## Recovery",
        "## Verification",
    ]
    assert 'rate(x{code="429"}[5m])' in first
    assert "_Nothing planned._" in files["fm-002-timeouts.md"]


def test_postmortem_has_prefilled_figures_and_prompts() -> None:
    md = postmortem_markdown(sample_plan())
    assert md.startswith("# Post-mortem: ai-gateway\n")
    assert (
        "## Impact\n\nFrom the plan:\n\n- Target: 99.99%\n\nTo fill in:\n\n- **Users impacted**"
        in md
    )
    assert "## Timeline" in md


def test_mechanisms_get_one_table_per_policy_with_every_reason() -> None:
    plan = sample_plan()
    text = render_plan(plan, "text", ["mechanisms"])
    assert "\nPolicy llm-primary (gateway → llm-primary):\n| Mechanism " in text
    assert "\nPolicy cache (gateway → cache):\n" in text
    for row in plan.mechanisms:
        assert row.config in text and f": {row.reason}" in text


def test_layers_box_lists_only_mechanisms_the_table_sets_up() -> None:
    text = render_plan(sample_plan(), "text", ["mechanisms"])
    layer_lines = [line.strip("│ ") for line in text.splitlines() if line.startswith("│")]
    # the cache's retry row explains why there is none: it is not a layer-4 entry
    assert "├── Retry with backoff: llm-primary" in layer_lines
    assert "├── Circuit breakers: llm-primary" in layer_lines
    assert "└── Bulkheads: cache" in layer_lines
    assert "| Retry     | Recovery  | none" in text  # still shown, with its reason
    assert "- Retry: no transient failure mode" in text


def test_header_says_when_current_is_measured() -> None:
    plan = sample_plan(sla=True)
    measured = dataclasses.replace(
        plan, current=Figure(99.995, "%", "measured: event-weighted (last 30 days)")
    )
    text = render_plan(measured, "text", ["sla"])
    assert (
        "\nCurrent: 99.995% (measured; modeled 99.4502%, 99.94% with the planned fallbacks)\n"
        in (text)
    )


@pytest.mark.parametrize(
    ("fmt", "first", "later"),
    [
        ("text", "RELIABILITY ENGINEERING PLAN\n═", "FAILURE MODE ANALYSIS\n─"),
        ("markdown", "# Reliability Engineering Plan\n", "## Failure Mode Analysis"),
    ],
)
def test_text_and_markdown_are_written_a_block_at_a_time(fmt: str, first: str, later: str) -> None:
    plan = sample_plan()
    chunks = list(render_chunks(plan, fmt))
    assert len(chunks) > 20  # streamed, not one string
    assert chunks[0].startswith(first)
    assert later not in chunks[0]  # the header block comes alone
    assert sum(later in chunk for chunk in chunks) == 1
    assert "".join(chunks) == render_plan(plan, fmt)


def test_the_document_made_as_it_is_read_is_the_document() -> None:
    plan = sample_plan()
    assert list(document_blocks(plan)) == document(plan)
    assert list(document_blocks(plan, ["sla"])) == document(plan, ["sla"])
    with pytest.raises(ValueError, match="unknown report section"):
        document_blocks(plan, ["nope"])  # at once, not at the first block


def test_a_table_drawn_twice_in_one_report_reads_the_same_both_times() -> None:
    from planner.render.blocks import Bullets, Heading, Table
    from planner.render.text import render_blocks

    table = Table(("Mechanism", "Config"), (("Retry", "3 attempts"), ("Timeout", "120ms")))
    reason = Bullets(("Retry: " + "transient errors are retried with backoff " * 4,))
    policy = [Heading("Policy a:"), table, reason]
    once = render_blocks(policy)
    twice = render_blocks(policy * 2)
    assert twice == once + "\n" + once
