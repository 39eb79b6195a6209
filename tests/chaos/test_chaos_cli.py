"""`reliability chaos run|generate|export`: exit codes, journal, files written."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.experiment import load_experiment
from planner.cli import main
from tests.chaos.test_chaos_generate import POLICY, TABLE, from_plan
from tests.chaos.test_chaos_runner import experiment
from tests.chaos_service import TOKEN, running_service
from tests.servers import free_port


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.integration
@pytest.mark.parametrize(("mechanisms", "code"), [(True, 0), (False, 1)], ids=["held", "deviated"])
async def test_run_exit_code_verdict_and_journal(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mechanisms: bool,
    code: int,
) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    async with running_service(POLICY, from_plan if mechanisms else None) as service:
        exp = write(tmp_path / "exp.yaml", experiment(service.base_url))
        journal = tmp_path / "journal.json"
        got = await asyncio.to_thread(main, ["chaos", "run", str(exp), "--journal", str(journal)])
        assert not service.fault.enabled
    out, err = capsys.readouterr()
    assert got == code
    assert ("the hypothesis held" in out) is mechanisms
    assert json.loads(journal.read_text())["deviated"] is not mechanisms
    assert "[1/6]" in err  # one line per activity when stderr is not a terminal


def closed_url() -> str:
    """A loopback URL nothing listens on: connection refused, at once."""
    return f"http://127.0.0.1:{free_port()}"


def test_run_refuses_to_start_without_the_admin_token(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RELIABILITY_CHAOS_TOKEN", raising=False)
    exp = write(tmp_path / "exp.yaml", experiment(closed_url()))
    journal = tmp_path / "j.json"
    assert main(["chaos", "run", str(exp), "--journal", str(journal)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # checked before the run: no probe, no progress line, no verdict
    assert err == (
        "reliability: error: $RELIABILITY_CHAOS_TOKEN is not set: the experiment's injection "
        "actions (fail-half-of-llm-primary, stop-failing-llm-primary) need the chaos admin "
        "token\n"
    )
    assert not journal.exists()


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_run_refuses_to_start_with_a_journal_it_cannot_write(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    exp = write(tmp_path / "exp.yaml", experiment(closed_url()))
    journal = tmp_path / "missing" / "j.json"
    reason = f"its directory {journal.parent} does not exist"
    if where == "a-directory":
        journal = tmp_path / "journal"
        journal.mkdir()
        reason = "it is a directory"
    assert main(["chaos", "run", str(exp), "--journal", str(journal)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # not "cannot reach": nothing was run against the (closed) target
    assert err == f"reliability: error: {journal}: cannot write the journal: {reason}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["exp.yaml", journal.name] if where == "a-directory" else ["exp.yaml"]
    )


def test_run_refuses_a_malformed_url_in_the_experiment(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    data = experiment(closed_url())
    data["method"][1]["provider"]["url"] = "localhost:8080/ask"
    exp = write(tmp_path / "exp.yaml", data)
    assert main(["chaos", "run", str(exp), "--journal", str(tmp_path / "j.json")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"reliability: error: {exp}: method[1].provider.url: invalid URL 'localhost:8080/ask': "
        "expected http(s)://host:port\n"
    )


def test_run_against_an_unreachable_target_is_exit_2_and_injects_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    base = closed_url()
    exp = write(tmp_path / "exp.yaml", experiment(base))
    journal = tmp_path / "j.json"
    assert main(["chaos", "run", str(exp), "--journal", str(journal)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == (
        f"reliability: error: cannot reach {base}/ask: Connection refused; nothing was injected"
    )
    assert "status: unreachable" in out and "steady state before the method: not checked" in out
    data = json.loads(journal.read_text())
    assert data["status"] == "unreachable" and data["run"] == []  # the method never ran
    assert len(data["rollbacks"]) == 1  # rollbacks always run (here they cannot reach it either)


def test_bad_experiment_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exp = write(tmp_path / "exp.yaml", {"title": "t", "method": [{"type": "action"}]})
    journal = tmp_path / "journal.json"
    assert main(["chaos", "run", str(exp), "--journal", str(journal)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "exp.yaml: method[0]" in err and "Traceback" not in err
    assert not journal.exists()
    assert main(["chaos", "export", str(tmp_path / "missing.yaml")]) == 2


def test_export_writes_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = write(tmp_path / "exp.yaml", experiment("http://127.0.0.1:1"))
    out = tmp_path / "ctk.json"
    assert main(["chaos", "export", str(exp), "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["title"] == load_experiment(exp).title
    assert data["runtime"]["rollbacks"]["strategy"] == "always"
    assert main(["chaos", "export", str(exp)]) == 0
    assert json.loads(capsys.readouterr().out) == data


def plan_document() -> dict[str, Any]:
    return {
        **TABLE,
        "report": {
            "failure_modes": [
                {
                    "id": "FM-001",
                    "component": POLICY,
                    "name": "errors",
                    "failure": "5xx",
                    "category": "errors",
                    "priority": "P1",
                    "transient": True,
                    "users_impacted": {"value": 100.0},
                    "users_impacted_with": {"value": 0.0},
                },
                {
                    "id": "FM-002",
                    "component": "zone:a",
                    "name": "zone-outage",
                    "failure": "zone",
                    "category": "zone",
                    "priority": "P2",
                    "transient": False,
                    "users_impacted": {"value": 50.0},
                    "users_impacted_with": {"value": 0.0},
                },
            ]
        },
    }


def test_generate_from_a_plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_document()))
    out = tmp_path / "experiments"
    assert (
        main(
            [
                "chaos",
                "generate",
                str(plan),
                "-o",
                str(out),
                "--url",
                "http://127.0.0.1:9/ask",
                "--injection-rate",
                "0.25",
            ]
        )
        == 0
    )
    stdout, stderr = capsys.readouterr()
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["fm-001-llm-primary-errors.yaml"]
    assert stdout.strip() == str(files[0])
    assert "FM-002: no experiment:" in stderr
    exp = load_experiment(files[0])
    assert exp.configuration["base_url"] == "http://127.0.0.1:9/ask"
    switch = exp.method[0].provider
    assert switch.injection_rate == 0.25  # type: ignore[union-attr]
    assert "${admin_url}" in files[0].read_text()  # placeholders kept for editing


def test_generate_failing_midway_writes_no_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "examples/ai_gateway/system.yaml"
    assert main(["chaos", "generate", spec, "-o", str(tmp_path / "all")]) == 0
    names = sorted(Path(line).name for line in capsys.readouterr().out.split())
    assert len(names) >= 2
    directory = tmp_path / "experiments"
    blocker = directory / names[-1]
    blocker.mkdir(parents=True)
    assert main(["chaos", "generate", spec, "-o", str(directory)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"reliability: error: {blocker}: cannot write the file: it is a directory\n"
    assert [p.name for p in directory.iterdir()] == [names[-1]]


def test_generate_into_a_new_directory_that_fails_leaves_no_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("keep")
    target = tmp_path / "file" / "experiments"
    assert main(["chaos", "generate", "examples/ai_gateway/system.yaml", "-o", str(target)]) == 2
    assert capsys.readouterr().err == (
        f"reliability: error: {target}: cannot create the directory: {tmp_path / 'file'} is not a"
        " directory\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize("flag", ["--url", "--admin-url", "--metrics-url"])
def test_generate_with_a_malformed_url_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    out = tmp_path / "experiments"
    argv = ["chaos", "generate", "examples/ai_gateway/system.yaml", "-o", str(out), flag, "x:80"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"reliability: error: {flag}: invalid URL 'x:80': expected http(s)://host:port\n"
    )
    assert not out.exists()


def test_generate_from_the_example_specs(tmp_path: Path) -> None:
    for spec in sorted(Path("examples").glob("*/system.yaml")):
        out = tmp_path / spec.parent.name
        assert main(["chaos", "generate", str(spec), "-o", str(out)]) == 0
        for path in out.iterdir():
            load_experiment(path)  # every generated file loads
    outage = load_experiment(tmp_path / "ai_gateway" / "fm-003-llm-primary-outage-5xx.yaml")
    switch = outage.method[0].provider
    assert (switch.policy, switch.fault) == ("llm-primary", "fault")  # type: ignore[union-attr]
    probe = outage.steady_state_hypothesis.probes[0]  # type: ignore[union-attr]
    assert probe.tolerance.range == (0, pytest.approx(0.0001))  # type: ignore[union-attr]
    assert probe.provider.timeout == 30.0  # gateway.latency_budget
