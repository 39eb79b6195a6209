"""The shape projections of `benchmarks/plan_json_size.py --what-if` keep every figure whole.

A projected size is only a fair figure if the projection loses nothing: each figure of the
reshaped document, its derivation looked up again, is the figure written.
"""

from __future__ import annotations

from typing import Any

from benchmarks.plan_json_size import derivations_shared

TIMEOUT = {"value": 0.12, "unit": "s", "formula": 3, "inputs": {"p99": 0.08, "headroom": 1.5}}


def test_derivations_shared_writes_each_derivation_once_and_loses_none() -> None:
    report: dict[str, Any] = {
        "mechanisms": [
            {"policy": "a.b", "figures": {"timeout": TIMEOUT}},
            {"policy": "c.b", "figures": {"timeout": dict(TIMEOUT, value=0.2)}},  # same inputs
            {"policy": "d.b", "figures": {"timeout": dict(TIMEOUT, inputs={"p99": 0.1})}},
        ],
        "header": {"target": {"value": 99.9, "unit": "%", "formula": 0}},  # no inputs
    }
    shared = derivations_shared(report)
    assert shared["derivations"] == [
        [3, {"p99": 0.08, "headroom": 1.5}],
        [3, {"p99": 0.1}],
        [0, {}],
    ]
    rows = shared["mechanisms"]
    assert [r["figures"]["timeout"]["derivation"] for r in rows] == [0, 0, 1]
    assert rows[1]["figures"]["timeout"] == {"value": 0.2, "unit": "s", "derivation": 0}
    for row, written in zip(rows, report["mechanisms"], strict=True):
        fig = row["figures"]["timeout"]
        formula, inputs = shared["derivations"][fig["derivation"]]
        whole = {"value": fig["value"], "unit": fig["unit"], "formula": formula, "inputs": inputs}
        assert whole == written["figures"]["timeout"]
        assert row["policy"] == written["policy"]
