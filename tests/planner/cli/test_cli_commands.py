"""The `reliability` subcommands end to end on the example specs, as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

import resilience
from planner.cli import main
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = ("ai_gateway", "web_shop", "internal_tool")


def spec(example: str) -> str:
    """Path of an example's system.yaml."""
    return str(ROOT / "examples" / example / "system.yaml")


async def _degraded(*args: object, **kwargs: object) -> str:
    """A fallback handler for the plans' fallback policies."""
    return "degraded answer"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_plan_files_of_every_example_load_with_load_plan(
    example: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"plan.{fmt}"
    code, stdout, stderr = run(capsys, "plan", spec(example), "--format", fmt, "-o", str(out))
    assert (code, stdout, stderr) == (0, "", "")
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert document["system"] == yaml.safe_load(Path(spec(example)).read_text())["system"]
    registry = resilience.load_plan(out)
    mechanisms = document["mechanisms"]
    assert set(registry.names()) == set(mechanisms) - {"defaults"}
    for name in registry.names():
        # a plan's fallback needs its handler from code, exactly as a service supplies it
        handler = _degraded if "fallback" in mechanisms[name] else None
        assert registry.policy(name, fallback=handler).name == name
        if "timeout" in mechanisms[name]:
            assert registry.config(name).timeout == mechanisms[name]["timeout"]


def test_stdout_and_dash_o_give_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(capsys, "plan", spec("web_shop"), "--format", "markdown")
    assert code == 0
    out = tmp_path / "plan.md"
    assert run(capsys, "plan", spec("web_shop"), "--format", "markdown", "-o", str(out))[0] == 0
    assert out.read_text(encoding="utf-8") == stdout


def test_failures_and_recovery_print_only_their_section(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "failures", spec("ai_gateway"))
    assert code == 0
    assert "FAILURE MODE ANALYSIS" in out and "RECOVERY PROCEDURES" not in out
    code, out, _ = run(capsys, "recovery", spec("ai_gateway"))
    assert code == 0
    assert "RECOVERY PROCEDURES" in out and "FAILURE MODE ANALYSIS" not in out
    assert "Failover Plan:" in out


def test_failures_as_json_carries_every_failure_mode_of_the_text_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, text, _ = run(capsys, "failures", spec("web_shop"))
    ids = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| FM-")]
    code, out, _ = run(capsys, "failures", spec("web_shop"), "--format", "json")
    assert code == 0
    report = json.loads(out)["report"]
    assert "recovery" not in report
    assert [mode["id"] for mode in report["failure_modes"]] == ids


def test_html_plan_is_a_page(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", spec("internal_tool"), "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")


def test_dash_o_into_a_missing_directory_is_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "plan.txt"
    code, out, err = run(capsys, "plan", spec("internal_tool"), "-o", str(target))
    assert code == 2 and out == ""
    assert err.startswith("reliability: error: ") and err.count("\n") == 1
    assert not target.parent.exists()


def test_runbook_writes_one_file_per_p1_p2_failure_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "failures", spec("ai_gateway"), "--format", "json")
    modes = json.loads(out)["report"]["failure_modes"]
    urgent = [m["id"] for m in modes if m["priority"] in ("P1", "P2")]
    directory = tmp_path / "runbooks"
    code, out, err = run(capsys, "runbook", spec("ai_gateway"), "-o", str(directory))
    assert code == 0 and err == ""
    files = sorted(directory.iterdir())
    assert len(files) == len(urgent) > 0
    assert sorted(out.split()) == sorted(str(f) for f in files)
    titles = sorted(f.read_text(encoding="utf-8").splitlines()[0] for f in files)
    assert [t.removeprefix("# ").split()[0].rstrip(":") for t in titles] == sorted(urgent)
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert "## Symptoms" in text and "## Mitigation" in text and "## Verification" in text


def test_runbook_dash_o_naming_a_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("keep me")
    code, _, err = run(capsys, "runbook", spec("ai_gateway"), "-o", str(existing))
    assert code == 2 and "must name a directory" in err
    assert existing.read_text() == "keep me"


def test_runbook_failing_midway_writes_no_runbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "runbook", spec("ai_gateway"), "-o", str(tmp_path / "all"))
    names = sorted(Path(line).name for line in out.split())
    assert code == 0 and len(names) >= 2
    directory = tmp_path / "runbooks"
    blocker = directory / names[-1]
    blocker.mkdir(parents=True)  # the last runbook cannot be written
    code, out, err = run(capsys, "runbook", spec("ai_gateway"), "-o", str(directory))
    assert code == 2 and out == ""
    assert err == f"reliability: error: {blocker}: cannot write the file: it is a directory\n"
    assert [p.name for p in directory.iterdir()] == [names[-1]]  # no partial set


def test_postmortem_prints_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "postmortem", spec("web_shop"))
    assert code == 0
    assert out.startswith("# ") and "web-shop" in out.splitlines()[0]
    assert out.count("\n## ") >= 3


def test_validate_tells_a_spec_from_a_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "validate", spec("ai_gateway"))
    assert code == 0
    assert out.startswith(
        f"{spec('ai_gateway')}: valid system spec: ai-gateway, 5 components, 4 dependencies, "
    )
    for name in ("plan.yaml", "plan.json"):
        plan = tmp_path / name
        assert run(capsys, "plan", spec("ai_gateway"), "-o", str(plan))[0] == 0
        code, out, _ = run(capsys, "validate", str(plan))
        assert code == 0
        assert out.startswith(f"{plan}: valid plan: ai-gateway, 5 policies: gateway, ")
        assert "llm-primary" in out


def test_validate_names_the_bad_field_of_a_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nsystem: x\nmechanisms:\n  db:\n    timeout: soon\n")
    code, out, err = run(capsys, "validate", str(plan))
    assert code == 2 and out == ""
    assert err.startswith("reliability: error: ") and err.count("\n") == 1
    assert "timeout" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("just: [a, list]\n", "neither a system spec"),
        ("a: [unclosed\n", "not valid YAML at line"),
        ("- 1\n- 2\n", "neither a system spec"),
    ],
)
def test_validate_rejects_what_is_neither(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(content)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 2
    assert err.startswith(f"reliability: error: {path}: ") and expected in err


def test_validate_a_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "no/such/file.yaml")
    assert code == 2
    assert err == (
        "reliability: error: no/such/file.yaml: cannot read the file (No such file or directory)\n"
    )


def test_schema_is_the_plan_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "mechanisms" in schema["properties"]
    target = tmp_path / "schema.json"
    assert run(capsys, "schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text()) == schema


def test_spec_errors_name_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path(spec("ai_gateway")).read_text().replace("target: llm-primary", "target: llm-X")
    bad = tmp_path / "system.yaml"
    bad.write_text(text)
    for command in ("plan", "failures", "recovery", "runbook", "postmortem", "validate"):
        code, out, err = run(capsys, command, str(bad))
        assert code == 2 and out == "", command
        assert err.startswith(f"reliability: error: {bad}: components[0]"), (command, err)
        assert "llm-X" in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == ["system.yaml"]


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("plan.yaml", lambda text: "mechanisms" in yaml.safe_load(text)),
        ("plan.json", lambda text: "mechanisms" in json.loads(text)),
        ("plan.md", lambda text: text.startswith("# Reliability Engineering Plan")),
        ("plan.html", lambda text: text.startswith("<!DOCTYPE html>")),
        ("plan.txt", lambda text: text.startswith("RELIABILITY ENGINEERING PLAN\n")),
    ],
)
def test_format_follows_the_output_extension_unless_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, check: Any
) -> None:
    out = tmp_path / name
    assert run(capsys, "plan", spec("internal_tool"), "-o", str(out))[0] == 0
    assert check(out.read_text(encoding="utf-8"))
    # an explicit --format wins over the extension
    assert run(capsys, "plan", spec("internal_tool"), "-o", str(out), "--format", "text")[0] == 0
    assert out.read_text(encoding="utf-8").startswith("RELIABILITY ENGINEERING PLAN\n")


def test_runbook_without_dash_o_prints_every_runbook(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "runbook", spec("web_shop"))
    assert code == 0
    titles = [line for line in out.splitlines() if line.startswith("# FM-")]
    assert len(titles) == out.count("\n## Symptoms\n") > 0
