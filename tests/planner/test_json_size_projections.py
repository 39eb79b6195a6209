"""The shape projections of `benchmarks/plan_json_size.py --what-if` keep every figure whole.

A projected size is only a fair figure if the projection loses nothing: each figure of the
reshaped document, its derivation looked up again, is the figure written.
"""

from __future__ import annotations

from typing import Any

from benchmarks.plan_json_size import derivations_shared, every_reshaping, mechanisms_as_indices

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


def test_mechanisms_as_indices_points_each_mode_at_its_rows() -> None:
    report: dict[str, Any] = {
        "mechanisms": [
            {"policy": "a.b", "mechanism": "timeout"},
            {"policy": "a.b", "mechanism": "retry"},
            {"policy": "c.b", "mechanism": "circuit_breaker"},
        ],
        "failure_modes": [
            {"id": "FM-0001", "mechanisms": ["c.b: circuit_breaker", "a.b: retry"]},
            {"id": "FM-0002", "mechanisms": ["x.y: fallback"]},  # no such row: kept as text
            {"id": "FM-0003"},
        ],
    }
    modes = mechanisms_as_indices(report)["failure_modes"]
    assert [m["mechanisms"] for m in modes] == [[2, 1], ["x.y: fallback"], []]
    assert [m["id"] for m in modes] == ["FM-0001", "FM-0002", "FM-0003"]
    assert report["failure_modes"][0]["mechanisms"] == ["c.b: circuit_breaker", "a.b: retry"]


def test_every_reshaping_keeps_each_mode_pointing_at_its_rows_and_figures() -> None:
    report: dict[str, Any] = {
        "mechanisms": [
            {"policy": "a.b", "mechanism": "timeout", "figures": {"timeout": TIMEOUT}},
            {"policy": "c.b", "mechanism": "retry", "figures": {"attempts": dict(TIMEOUT)}},
        ],
        "failure_modes": [{"id": "FM-0001", "mechanisms": ["c.b: retry", "a.b: timeout"]}],
    }
    shaped = every_reshaping(report)
    rows, modes = shaped["mechanisms"], shaped["failure_modes"]
    assert rows["fields"] == ["policy", "mechanism", "figures"]
    assert modes["fields"] == ["id", "mechanisms"]
    (mode,) = modes["rows"]
    named = [f"{rows['rows'][i][0]}: {rows['rows'][i][1]}" for i in mode[1]]
    assert named == ["c.b: retry", "a.b: timeout"]
    value, unit, derivation = rows["rows"][0][2]["timeout"]
    assert (value, unit) == (0.12, "s")
    assert shaped["derivations"][derivation] == [3, {"p99": 0.08, "headroom": 1.5}]
    assert rows["rows"][1][2]["attempts"][2] == derivation  # the same derivation, written once
