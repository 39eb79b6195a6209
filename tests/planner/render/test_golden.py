"""Golden text reports of the three example systems.

The text report is deterministic, so any change to the analysis or the renderer shows up here as
a diff to review. After an intended change, regenerate the files and review `git diff`:

    RELIABILITY_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/planner/render/test_golden.py
"""

from __future__ import annotations

import os

import pytest

from planner.cli import main
from planner.cli.output import write_atomic
from tests.paths import ROOT_DIR, TESTS_DIR

ROOT = ROOT_DIR
GOLDEN = TESTS_DIR / "golden"
EXAMPLES = ("ai_gateway", "web_shop", "internal_tool")
UPDATE = os.environ.get("RELIABILITY_UPDATE_GOLDEN", "") not in ("", "0")


@pytest.mark.parametrize("example", EXAMPLES)
def test_plan_text_report_matches_the_golden_file(
    example: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative paths, so the report does not depend on where the checkout lives.
    monkeypatch.chdir(ROOT)
    assert main(["plan", f"examples/{example}/system.yaml"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    golden = GOLDEN / f"{example}.txt"
    if UPDATE:
        write_atomic(golden, captured.out)
    assert golden.exists(), f"{golden} missing: run with RELIABILITY_UPDATE_GOLDEN=1 to create it"
    assert captured.out == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_reports_keep_the_house_style(example: str) -> None:
    text = (GOLDEN / f"{example}.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "RELIABILITY ENGINEERING PLAN"
    assert all(len(line) <= 100 for line in lines)
    assert all(line == line.rstrip() for line in lines)
    assert "RISK MATRIX" in text and "RESILIENCE LAYERS" in text and "SLA TRACKING" in text
