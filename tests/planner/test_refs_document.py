"""The refs plan document (the CLI's default): every figure traceable, each fact once, and small.

Traceable: each figure's `formula` indexes `report.formulas`, and with that index replaced by
its text the figure is the full document's figure at the same place. Each fact once: refs is the
full document less only what `planner.refs` names, each left-out field restated elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.planner_scale import mesh
from planner.analysis import build_plan
from planner.document import plan_to_dict
from planner.refs import RUNBOOK_FIELDS, row_parties
from planner.render import render_chunks
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR

EXAMPLES = sorted((ROOT_DIR / "examples").glob("*/system.yaml"))
RUNBOOK_PROSE = {
    "title",
    "component",
    "priority",
    "symptoms",
    "alert",
    "diagnosis",
    "mitigation",
    "recovery",
    "verification",
}
#: (where, field) pairs the refs document may leave out (planner.refs)
LEFT_OUT = (
    {
        ("report.mechanisms[]", name)
        for name in ("caller", "target", "config", "trigger", "reason", "figures", "inbound")
    }
    | {
        ("report.failure_modes[]", "mitigation"),
        ("report.failure_modes[]", "users_impacted_with"),
        ("report.blast_radius[]", "affected_with"),
        ("report.blast_radius[]", "users_impacted_with"),
        ("report.redundancy.isolation[]", "reason"),
        ("report.recovery.scenarios[]", "procedure"),
    }
    | {("report.monitoring.runbooks[]", name) for name in RUNBOOK_PROSE}
)


def _is_figure(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"value", "unit", "formula", "inputs"}


def compare(refs: Any, full: Any, formulas: list[str], where: str, left_out: set[Any]) -> None:
    """Assert that `refs` is `full` at `where` less some fields (added to `left_out`), its
    figures' formula indexes resolving to the full figures' texts."""
    if _is_figure(full):
        assert _is_figure(refs), where
        assert isinstance(refs["formula"], int) and 0 <= refs["formula"] < len(formulas), where
        assert {**refs, "formula": formulas[refs["formula"]]} == full, where
    elif isinstance(full, dict):
        assert isinstance(refs, dict) and set(refs) <= set(full), where
        assert list(refs) == [k for k in full if k in refs], where  # in the same order
        left_out.update((where, name) for name in set(full) - set(refs))
        for name, value in refs.items():
            compare(value, full[name], formulas, f"{where}.{name}".lstrip("."), left_out)
    elif isinstance(full, list):
        assert isinstance(refs, list) and len(refs) == len(full), where
        for mine, theirs in zip(refs, full, strict=True):
            compare(mine, theirs, formulas, f"{where}[]", left_out)
    else:
        assert refs == full, where


def _documents(spec_doc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    plan = build_plan(spec_doc)
    return plan_to_dict(plan, "refs"), plan_to_dict(plan, "full")


@pytest.mark.parametrize(
    "path", [*EXAMPLES, "mesh"], ids=lambda p: p if p == "mesh" else p.parent.name
)
def test_every_refs_figure_resolves_to_the_full_one(path: Any) -> None:
    spec = parse_spec(mesh(120), "<mesh 120>") if path == "mesh" else load_spec(str(path))
    refs, full = _documents(spec)
    formulas = refs["report"].pop("formulas")
    assert len(formulas) == len(set(formulas))  # each text once
    left_out: set[Any] = set()
    compare(refs, full, formulas, "", left_out)
    assert left_out <= LEFT_OUT
    assert refs["mechanisms"] == full["mechanisms"]  # load_plan's table, whole
    used: set[int] = set()

    def collect(value: Any) -> None:
        if _is_figure(value):
            used.add(value["formula"])
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(refs)
    assert used == set(range(len(formulas)))  # no text without a figure


def test_what_refs_leaves_out_is_stated_elsewhere() -> None:
    refs, full = _documents(parse_spec(mesh(120), "<mesh 120>"))
    report, whole = refs["report"], full["report"]
    for mine, theirs in zip(report["mechanisms"], whole["mechanisms"], strict=True):
        assert row_parties(mine) == (theirs["caller"], theirs["target"])
        assert "figures" in mine or theirs["figures"] == {}  # left out only when empty
        assert mine.get("inbound", False) is theirs["inbound"]
    modes = {mode["id"]: mode for mode in whole["failure_modes"]}
    dropped = 0
    for mine, theirs in zip(report["failure_modes"], whole["failure_modes"], strict=True):
        if "users_impacted_with" not in mine:
            dropped += 1
            assert theirs["users_impacted_with"]["value"] == mine["users_impacted"]["value"]
    assert dropped > 0  # the mesh has modes no mechanism reduces
    for mine, theirs in zip(report["blast_radius"], whole["blast_radius"], strict=True):
        assert mine.get("affected_with", theirs["affected"]) == theirs["affected_with"]
        assert len(theirs["affected_with"]) <= mine["affected_with_count"]
    books = report["monitoring"]["runbooks"]
    assert books and all(set(book) == set(RUNBOOK_FIELDS) for book in books)
    for book, theirs in zip(books, whole["monitoring"]["runbooks"], strict=True):
        mode = modes[book["failure_mode_id"]]  # the runbook's facts, by the mode's id
        assert (mode["component"], mode["priority"]) == (theirs["component"], theirs["priority"])


def test_the_refs_json_plan_is_small() -> None:
    n = 200
    plan = build_plan(parse_spec(mesh(n), f"<mesh {n}>"))
    size = sum(len(chunk.encode()) for chunk in render_chunks(plan, "json", derivations="refs"))
    full = sum(len(chunk.encode()) for chunk in render_chunks(plan, "json", derivations="full"))
    assert size / n <= 12_000  # bytes per component
    assert size < full / 2
