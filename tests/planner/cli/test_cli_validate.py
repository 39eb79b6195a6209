"""`reliability validate SPEC` without the plan: the failure modes it counts are the plan's, it
refuses what planning refuses, and it imports neither the runtime's mechanisms nor its clients."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.planner_scale import GENERATORS
from planner.analysis import build_plan, mechanisms
from planner.analysis.failures import mode_count
from planner.analysis.graph import Graph
from planner.analysis.mechanisms.edge_rules import EdgeRules
from planner.cli import main
from planner.spec import parse_spec
from tests.paths import ROOT_DIR
from tests.planner.analysis.test_fallback_call import spec as fallback_spec
from tests.planner.analysis.test_inbound_policy import spec_doc as inbound_spec
from tests.planner.analysis.test_planner_properties import systems

EXAMPLES = sorted((ROOT_DIR / "examples").glob("*/system.yaml"))


def _validate(capsys: pytest.CaptureFixture[str], doc: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / "system.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code = main(["validate", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err, str(path)


def _modes_said(out: str) -> int:
    """N of the `…, N failure modes` that validate prints."""
    return int(out.rsplit(", ", 1)[1].split()[0])


# -------------------------------------------------------------------------- the count of modes


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_validate_counts_the_failure_modes_of_the_plan(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner.spec import load_spec

    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert _modes_said(out) == len(build_plan(load_spec(path)).failure_modes)


@pytest.mark.parametrize("shape", sorted(GENERATORS))
@pytest.mark.parametrize("n", [2, 3, 17, 60])
def test_mode_count_is_the_plans_on_the_benchmark_shapes(shape: str, n: int) -> None:
    spec = parse_spec(GENERATORS[shape](n))
    assert mode_count(Graph(spec)) == len(build_plan(spec).failure_modes)


def test_mode_count_is_the_plans_on_the_analysis_tests_specs() -> None:
    declared = fallback_spec()
    declared["components"][3]["failure_modes"] = [  # one its catalog names, one it does not
        {"name": "timeouts", "failure": "Slow on Mondays"},
        {"name": "schema-drift", "failure": "Schema changed", "impact": "H"},
    ]
    declared["components"][0]["regions"] = ["eu", "us"]
    declared["components"][1]["regions"] = ["us"]
    docs = [fallback_spec(), fallback_spec(budget=False, type="soft"), inbound_spec(), declared]
    for doc in docs:
        spec = parse_spec(doc)
        assert mode_count(Graph(spec)) == len(build_plan(spec).failure_modes)
    # the declared mode the catalog does not name is one more; the two regions two more
    assert mode_count(Graph(parse_spec(declared))) == mode_count(Graph(parse_spec(docs[0]))) + 3


@st.composite
def placed_systems(draw: st.DrawFn) -> dict[str, Any]:
    """The property tests' systems, some components in regions and with declared modes."""
    doc = draw(systems())
    for comp in doc["components"]:
        comp["regions"] = draw(st.sampled_from([[], ["eu"], ["eu", "us"]]))
        names = draw(st.lists(st.sampled_from(["outage-5xx", "timeouts", "drift"]), unique=True))
        comp["failure_modes"] = [{"name": name, "failure": "declared"} for name in names]
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_systems())
def test_mode_count_is_the_plans_on_generated_systems(doc: dict[str, Any]) -> None:
    spec = parse_spec(doc)
    assert mode_count(Graph(spec)) == len(build_plan(spec).failure_modes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_systems())
def test_policy_names_are_the_names_derive_gives(doc: dict[str, Any]) -> None:
    # validate checks the names alone (mechanisms.check): they must be the plan's
    graph = Graph(parse_spec(doc))
    names, mech = mechanisms.policy_names(graph), mechanisms.derive(graph)
    assert {id(plan.edge): plan.policy for plan in mech.edges} == names.edges
    assert [plan.policy for plan in mech.fallback_calls] == [c.policy for c in names.fallback_calls]
    assert {e: plan.policy for e, plan in mech.inbound.items()} == {
        e: name for e, name in names.inbound.items() if e in mech.inbound
    }


# ------------------------------------------------------------------- what planning would refuse


def _refused(capsys: pytest.CaptureFixture[str], doc: dict[str, Any], tmp_path: Path) -> str:
    """The one line validate writes for a spec it refuses (exit code 2, nothing on stdout)."""
    code, out, err, _ = _validate(capsys, doc, tmp_path)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith("reliability: error: ")
    return err


def test_validate_refuses_a_fallback_call_whose_policy_name_is_taken(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = fallback_spec()  # web falls back to backup, which it does not declare: `web.backup`
    doc["components"][0]["dependencies"].append({"target": "web.backup"})
    doc["components"].append({"name": "web.backup", "kind": "external_api", "availability": 99.5})
    err = _refused(capsys, doc, tmp_path)
    assert "policy 'web.backup' of web's fallback call to backup is already the policy" in err


def test_validate_refuses_an_entry_point_whose_inbound_names_are_taken(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = inbound_spec()  # batch's calls to front and to front.inbound are named after them
    doc["components"][0]["traffic_share"] = 0.5
    doc["components"] += [
        {"name": "front.inbound", "kind": "service"},
        {
            "name": "batch",
            "kind": "worker",
            "entry_point": True,
            "traffic_share": 0.5,
            "dependencies": [{"target": "front"}, {"target": "front.inbound"}],
        },
    ]
    err = _refused(capsys, doc, tmp_path)
    assert "inbound policy of entry point 'front': the names 'front' and 'front.inbound'" in err


def test_validate_refuses_a_derived_table_the_runtime_would_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only a wrong rule derives one, and only the tests check (mechanisms.check_tables): a
    # bulkhead of no slots stands in for the wrong rule, as in test_mechanisms_derivation
    def no_slots(rules: EdgeRules) -> int | None:
        rules.sections["bulkhead"] = {"max_concurrent": 0}
        return 0

    assert mechanisms._CHECK["tables"]  # tests/planner/conftest.py
    monkeypatch.setattr(EdgeRules, "bulkhead", no_slots)
    err = _refused(capsys, inbound_spec(), tmp_path)
    assert "derived mechanism table: mechanisms.db.bulkhead.max_concurrent" in err


def test_validate_refuses_an_slo_selector_that_does_not_parse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the schema takes any text; the alert rules (derive_alerts) parse it
    doc = inbound_spec()
    doc["slos"] = [{"name": "availability", "sli": {"errors": "e{x", "total": "t"}}]
    err = _refused(capsys, doc, tmp_path)
    path = tmp_path / "system.json"  # the file _validate wrote: the error names it
    assert err.startswith(f"reliability: error: {path}: slos[0] (availability).sli.errors: ")
    assert "expected =, !=, =~ or !~" in err


def test_plan_names_the_spec_file_in_an_slo_selector_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = inbound_spec()
    doc["slos"] = [{"name": "availability", "sli": {"errors": "e{x", "total": "t"}}]
    path = tmp_path / "system.json"
    path.write_text(json.dumps(doc))
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reliability: error: {path}: slos[0] (availability).sli.errors: ")


def test_validate_of_a_valid_spec_says_what_it_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err, path = _validate(capsys, inbound_spec(), tmp_path)
    modes = len(build_plan(parse_spec(inbound_spec())).failure_modes)
    assert (code, err) == (0, "")
    assert (
        out == f"{path}: valid system spec: s, 2 components, 1 dependency, {modes} failure modes\n"
    )


# ----------------------------------------------------------------------------------- imports

#: What the runtime's mechanisms and clients import; neither `--help` nor validating a spec needs
#: them (pybreaker imports redis, which imports OpenTelemetry).
HEAVY = ("pybreaker", "redis", "opentelemetry", "aiohttp", "chaos", "resilience.breaker")


def _imported(*argv: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running the CLI with `argv`."""
    program = (
        "import contextlib, io, sys\n"
        "from planner.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({list(argv)!r})\n"
        f"heavy = {HEAVY!r}\n"
        "print(code, sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT_DIR
    )
    return done.stdout.split(maxsplit=1)


@pytest.mark.parametrize(
    "argv", [["--help"], ["validate", "--help"], ["validate", str(EXAMPLES[0])]]
)
def test_help_and_validate_import_no_runtime_client(argv: list[str]) -> None:
    assert _imported(*argv) == ["0", "[]\n"]


def test_the_clis_token_variable_is_the_chaos_admins() -> None:
    from chaos.admin import TOKEN_ENV
    from planner.cli import chaos

    assert chaos.TOKEN_ENV == TOKEN_ENV


def test_validate_reads_a_json_plan_past_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """load_plan stops at the report; validate still checks what follows it, and the report."""
    head = {"version": 1, "system": "shop", "mechanisms": {"db": {"timeout": "1s"}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**head, "report": {}}))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid plan: shop, 1 policy: db\n"
    path.write_text(json.dumps({**head, "report": {}, "mechanism": {}}))
    assert main(["validate", str(path)]) == 2
    assert f"{path}: (top level): unknown key 'mechanism'" in capsys.readouterr().err
    path.write_text(json.dumps(head)[:-1] + ', "report": {"x": ')
    assert main(["validate", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
