"""`reliability rules`: files written atomically, warnings on stderr, bad input is exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.cli import main
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
SPEC = ROOT / "examples/ai_gateway/system.yaml"


def test_rules_and_alertmanager_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, am = tmp_path / "rules.yml", tmp_path / "alertmanager.yml"
    assert main(["rules", str(SPEC), "-o", str(rules), "--alertmanager", str(am)]) == 0
    doc = yaml.safe_load(rules.read_text())
    assert [g["name"] for g in doc["groups"]] == [
        "slo-ai-gateway-availability",
        "slo-ai-gateway-availability-period",
    ]
    assert yaml.safe_load(am.read_text())["inhibit_rules"][0]["equal"] == ["service", "slo"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alertmanager.yml", "rules.yml"]
    assert capsys.readouterr().err == ""


def test_rules_to_stdout_with_min_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", str(SPEC), "--min-errors", "10"]) == 0
    assert ">= 10" in capsys.readouterr().out


def test_unprotectable_objective_warns_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(SPEC.read_text())
    data["tier"] = "ultra"
    spec = tmp_path / "system.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert main(["rules", str(spec), "-o", str(tmp_path / "r.yml")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("reliability: warning: ai-gateway/availability: an objective of 99.999%")


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("rate(http_requests_total[5m])", "expected a plain vector selector"),
        ('http_requests_total{code=~"5(.."}', "invalid regular expression"),
        ('http_requests_total{code="500"', "expected ',' or '}'"),
    ],
)
def test_bad_selector_names_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], selector: str, message: str
) -> None:
    data = yaml.safe_load(SPEC.read_text())
    data["slos"][0]["sli"]["errors"] = selector
    spec = tmp_path / "system.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "rules.yml"
    assert main(["rules", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{spec}: slos[0] (availability).sli.errors:" in err and message in err
    assert not out.exists()


def test_negative_min_errors_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", str(SPEC), "--min-errors", "-1"]) == 2
    assert "--min-errors" in capsys.readouterr().err


def test_sla_bad_at_and_unknown_slo(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:9"
    assert main(["sla", str(SPEC), "--prometheus", url, "--at", "yesterday"]) == 2
    assert "--at: expected an ISO 8601 time" in capsys.readouterr().err
    assert main(["sla", str(SPEC), "--prometheus", url, "--slo", "latency"]) == 2
    assert "no SLO named 'latency'" in capsys.readouterr().err


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_bad_alertmanager_path_writes_no_rule_file_either(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: bool
) -> None:
    rules, am = tmp_path / "r.yml", tmp_path / "missing" / "am.yml"
    if existing:
        rules.write_text("old rules\n")
    assert main(["rules", str(SPEC), "-o", str(rules), "--alertmanager", str(am)]) == 2
    assert capsys.readouterr().err == (
        f"reliability: error: {am}: cannot write the file: "
        f"its directory {am.parent} does not exist\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == (["r.yml"] if existing else [])
    if existing:
        assert rules.read_text() == "old rules\n"


def test_rules_on_stdout_are_not_printed_when_the_alertmanager_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    am = tmp_path / "am.yml"
    am.mkdir()
    assert main(["rules", str(SPEC), "--alertmanager", str(am)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"reliability: error: {am}: cannot write the file: it is a directory\n"


def test_rules_and_alertmanager_to_the_same_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.yml"
    assert main(["rules", str(SPEC), "-o", str(out), "--alertmanager", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"reliability: error: {out}: -o and --alertmanager name the same file\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["sla", str(SPEC), "--prometheus", "notaurl"],
        ["sla", str(SPEC), "--metrics-url", "notaurl"],
        ["plan", str(SPEC), "--prometheus", "notaurl"],
    ],
    ids=["sla --prometheus", "sla --metrics-url", "plan --prometheus"],
)
def test_a_malformed_url_is_bad_input_named_by_its_flag(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    flag = argv[2]
    assert capsys.readouterr().err == (
        f"reliability: error: {flag}: invalid URL 'notaurl': expected http(s)://host:port\n"
    )
