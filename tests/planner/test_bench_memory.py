"""The memory benchmarks' measurements: `page_cost.py`'s page count and `planner_stages.py`'s
columns, whose `faults` the README multiplies by a page's price."""

from __future__ import annotations

import json
import subprocess
import sys

import benchmarks.planner_stages
from benchmarks.page_cost import PAGE, touch
from planner.analysis import STAGES


def test_touching_a_fresh_mapping_faults_in_at_most_one_fault_per_page() -> None:
    seconds, faults = touch(8, huge=False)
    assert seconds > 0
    # every page written once: one fault each, fewer only where the kernel maps larger pages
    assert 0 < faults <= 8 * 1024 * 1024 // PAGE + 16
    _, huge_faults = touch(8, huge=True)
    assert 0 < huge_faults <= faults + 16


def test_stage_seconds_add_up_to_the_total_and_count_the_plans_page_faults() -> None:
    # in its own process, as the benchmark runs each size: a heap of its own to fault in
    script = benchmarks.planner_stages.__file__
    argv = [sys.executable, script, "--shape", "mesh", "--one", "200"]
    row = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    assert set(row) == {*STAGES, "total", "sys", "faults"}
    assert abs(sum(row[s] for s in STAGES) - row["total"]) < 0.05
    assert 0 <= row["sys"] <= row["total"]
    # a 200-component plan holds megabytes: over 500 fresh pages (about 1,400)
    assert row["faults"] > 0.5
