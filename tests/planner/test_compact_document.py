"""The compact plan document (the CLI's default for a plan file): the refs document, each
distinct figure once in `report.figures`, records as tables; `decode` gives the refs one back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.planner_scale import mesh
from chaos.generate import facts_from_plan_dict
from planner import cli
from planner.analysis import build_plan
from planner.decode import DocumentShapeError, decode
from planner.document import plan_to_dict
from planner.model import FailureMode
from planner.refs import slim_fields
from planner.render import render_chunks
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR

EXAMPLES = sorted((ROOT_DIR / "examples").glob("*/system.yaml"))
BASIS = slim_fields(FailureMode).index("impact_basis")


def _written(plan: Any, fmt: str, derivations: str) -> Any:
    text = "".join(render_chunks(plan, fmt, derivations=derivations))
    return json.loads(text) if fmt == "json" else yaml.safe_load(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_decoding_the_compact_document_gives_the_refs_one(path: Path) -> None:
    plan = build_plan(load_spec(path))
    compact = _written(plan, "json", "compact")
    assert compact == plan_to_dict(plan, "compact")
    assert _written(plan, "yaml", "compact") == compact
    assert decode(compact) == _written(plan, "json", "refs")


def test_the_mesh_compact_document_decodes_and_is_under_5_kb_a_component() -> None:
    n = 1000
    plan = build_plan(parse_spec(mesh(n), f"<mesh {n}>"))
    text = "".join(render_chunks(plan, "json", derivations="compact"))
    refs = "".join(render_chunks(plan, "json", derivations="refs"))
    assert decode(json.loads(text)) == json.loads(refs)
    assert len(text.encode()) / n < 5000
    assert len(text.encode()) < 0.5 * len(refs.encode())


def test_a_figure_is_written_once_and_named_by_its_index() -> None:
    plan = build_plan(parse_spec(mesh(60), "<mesh 60>"))
    doc = plan_to_dict(plan, "compact")
    report = doc["report"]
    figures = report["figures"]
    assert len({json.dumps(f) for f in figures}) == len(figures)  # each distinct one once
    modes = report["failure_modes"]
    fields = modes["fields"]
    first = dict(zip(fields, modes["rows"][0], strict=False))
    value, unit, formula, inputs = figures[first["impact_basis"]]
    mode = plan.failure_modes[0]
    assert (value, unit) == (mode.impact_basis.value, mode.impact_basis.unit)
    assert report["formulas"][formula] == mode.impact_basis.formula
    assert inputs == dict(mode.impact_basis.inputs)
    rows = report["mechanisms"]
    policy, mechanism = rows["fields"].index("policy"), rows["fields"].index("mechanism")
    named = [
        f"{rows['rows'][i][policy]}: {rows['rows'][i][mechanism]}" for i in first["mechanisms"]
    ]
    assert named == list(mode.mechanisms)
    # a row without figures (a retry) ends early: its trailing cells are absent, not null
    assert min(len(row) for row in rows["rows"]) < len(rows["fields"])
    assert all(row[-1] is not None for row in rows["rows"])


def test_a_section_command_writes_records_and_a_plan_compact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(EXAMPLES[0])
    assert cli.main(["failures", spec, "--format", "json"]) == 0
    section = json.loads(capsys.readouterr().out)["report"]
    assert isinstance(section["failure_modes"], list) and "figures" not in section
    assert cli.main(["plan", spec, "--format", "json"]) == 0
    assert "figures" in json.loads(capsys.readouterr().out)["report"]


def test_chaos_generate_reads_a_compact_plan_as_a_refs_one(tmp_path: Path) -> None:
    spec = str(ROOT_DIR / "examples" / "ai_gateway" / "system.yaml")
    made = {}
    for derivations in ("compact", "refs"):
        plan_file = tmp_path / f"{derivations}.json"
        out = tmp_path / derivations
        argv = ["plan", spec, "--format", "json", "--derivations", derivations]
        assert cli.main([*argv, "-o", str(plan_file)]) == 0
        assert cli.main(["chaos", "generate", str(plan_file), "-o", f"{out}/"]) == 0
        # each experiment less its header line, which names the plan file
        made[derivations] = {p.name: p.read_text().split("\n", 1)[1] for p in out.iterdir()}
    assert made["compact"] and made["compact"] == made["refs"]
    compact = json.loads((tmp_path / "compact.json").read_text())
    with pytest.raises(ValueError, match="compact plan document"):
        facts_from_plan_dict(compact)
    assert facts_from_plan_dict(decode(compact)) == facts_from_plan_dict(
        json.loads((tmp_path / "refs.json").read_text())
    )


def _compact_example() -> dict[str, Any]:
    return plan_to_dict(build_plan(load_spec(EXAMPLES[0])), "compact")


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        (lambda r: r["failure_modes"]["rows"][0].__setitem__(BASIS, 10**6), "impact_basis"),
        (lambda r: r["figures"].__setitem__(0, [1.0, "%"]), r"report.figures\[0\]"),
        (lambda r: r["mechanisms"]["rows"][0].extend([1] * 9), r"report.mechanisms.rows\[0\]"),
        (lambda r: r["blast_radius"].pop("fields"), "report.blast_radius: expected a table"),
        (lambda r: r.pop("formulas"), "report: expected the lists figures and formulas"),
    ],
)
def test_a_spoiled_compact_document_is_refused_naming_where(spoil: Any, where: str) -> None:
    doc = _compact_example()
    spoil(doc["report"])
    with pytest.raises(DocumentShapeError, match=where):
        decode(doc)


def test_a_document_that_is_not_compact_is_returned_as_it_is() -> None:
    refs = plan_to_dict(build_plan(load_spec(EXAMPLES[0])), "refs")
    assert decode(refs) == refs


def test_chaos_generate_refuses_a_spoiled_compact_plan_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _compact_example()
    doc["report"]["figures"][0] = [1.0, "%"]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(doc))
    out = tmp_path / "experiments"
    assert cli.main(["chaos", "generate", str(plan_file), "-o", f"{out}/"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{plan_file}: report.figures[0]: expected [value, unit, formula, inputs]" in err
    assert not out.exists()
