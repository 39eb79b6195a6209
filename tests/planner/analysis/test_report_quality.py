"""What a reader of `reliability plan` would frown at: one figure written two ways, scientific
notation, a label repeated by its own reason, a verdict that hides the planned figure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.analysis import build_plan
from planner.render import render_plan
from planner.slo.definition import SLO_PERIODS
from planner.spec import load_spec
from planner.units import format_duration
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = sorted(ROOT.glob("examples/*/system.yaml"))
IDS = [p.parent.name for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_no_scientific_notation_and_no_label_repeated_by_its_reason(path: Path, fmt: str) -> None:
    text = render_plan(build_plan(load_spec(path)), fmt)
    assert not re.search(r"\d\.?\d*e[+-]\d", text)
    for label in ("Retry", "Deadline", "Timeout", "Bulkhead", "Fallback"):
        assert not re.search(rf"{label}: (no )?{label.lower()}\b", text)


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_breakers_trip_time_reads_the_same_in_its_reason_and_in_recovery(path: Path) -> None:
    plan = build_plan(load_spec(path))
    text = render_plan(plan, "text")
    flat = re.sub(r"\s+", " ", text)
    recovery = flat[flat.index("RECOVERY PROCEDURES") :]
    for row in plan.mechanisms:
        trip = row.figures.get("trip")
        if trip is None or trip.unit != "s":
            continue
        written = format_duration(trip.value)
        assert f"trips it in {written};" in flat, row.policy
        if f"{row.target} failure (callers fall back)" in recovery:
            assert f"breakers open within {written}" in recovery, row.policy


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_error_budget_line_matches_the_downtime_table(path: Path) -> None:
    spec = load_spec(path)
    text = render_plan(build_plan(spec), "text")
    seconds = SLO_PERIODS[spec.slo_period].seconds * (100 - spec.objective) / 100
    minutes = f"{seconds / 60:.2f}".rstrip("0").rstrip(".")
    assert f"Error Budget: {minutes} minutes per " in text
    # the same budget in the downtime table's own notation, in the tier's column
    assert format_duration(seconds) in text.split("Downtime Budget:")[1].split("Modeled")[0]


def test_the_system_line_gives_both_verdicts_when_fallbacks_change_them() -> None:
    plan = build_plan(load_spec(ROOT / "examples/ai_gateway/system.yaml"))
    section = plan.availability
    assert section.current.value < section.target.value <= section.with_mechanisms.value
    text = render_plan(plan, "text")
    line = next(x for x in text.splitlines() if x.startswith("System: 99"))
    assert "(target 99.99% not met)" in line and "with the planned fallbacks (met)" in line
    header = next(x for x in text.splitlines() if x.startswith("Current: "))
    assert "with the planned fallbacks" in header
