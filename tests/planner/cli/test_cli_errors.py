"""The CLI's central error handling: exit codes 0/1/2, one stderr line, never a traceback —
also for the subcommands that other modules register."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from planner import cli
from planner.errors import PlannerError, SpecError, UpstreamError
from resilience import ConfigError


def _fake_extension(monkeypatch: pytest.MonkeyPatch, outcome: object) -> None:
    """Add a `boom` subcommand to the `slo` command group that returns or raises `outcome`."""
    real_register = cli.slo.register

    def handler(args: argparse.Namespace) -> int:
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, int)
        return outcome

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        real_register(subparsers)
        parser = subparsers.add_parser("boom", help="test command")
        parser.set_defaults(func=handler)

    monkeypatch.setattr(cli.slo, "register", register)


def test_help_lists_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "reliability plan examples/ai_gateway/system.yaml" in out
    assert "exit codes: 0 ok, 1 a check failed, 2 bad input" in out
    for command in ("plan", "failures", "recovery", "runbook", "postmortem", "validate", "schema"):
        assert f"    {command}" in out


def test_a_wrong_flag_is_argparse_usage_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "x.yaml", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: reliability")
    assert "unrecognized arguments: --bogus" in err
    assert "Traceback" not in err


def test_a_wrong_format_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "x.yaml", "--format", "pdf"]) == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err


def test_no_command_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("outcome", "code", "message"),
    [
        (0, 0, None),
        (1, 1, None),
        (SpecError("spec.yaml: components[0].kind: expected one of ..."), 2,
         "reliability: error: spec.yaml: components[0].kind: expected one of ..."),
        (UpstreamError("http://127.0.0.1:1: connection refused"), 2,
         "reliability: error: http://127.0.0.1:1: connection refused"),
        (ConfigError("plan.yaml: mechanisms.x.timeout: expected seconds"), 2,
         "reliability: error: plan.yaml: mechanisms.x.timeout: expected seconds"),
        (FileNotFoundError(2, "No such file or directory", "out/plan.txt"), 2,
         "reliability: error: out/plan.txt: No such file or directory"),
        (KeyboardInterrupt(), 130, "reliability: interrupted"),
        (RuntimeError("bug"), cli.EXIT_INTERNAL,
         "reliability: error: internal error (RuntimeError: bug); please report it"),
    ],
)  # fmt: skip
def test_registered_handlers_get_the_central_error_handling(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    outcome: object,
    code: int,
    message: str | None,
) -> None:
    monkeypatch.delenv("RELIABILITY_DEBUG", raising=False)
    _fake_extension(monkeypatch, outcome)
    assert cli.main(["boom"]) == code
    err = capsys.readouterr().err
    if message is None:
        assert err == ""
    else:
        assert err == message + "\n"


def test_debug_env_shows_the_traceback_of_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELIABILITY_DEBUG", "1")
    _fake_extension(monkeypatch, RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        cli.main(["boom"])


def test_the_installed_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "system.yaml"
    bad.write_text("version: 1\nsystem: x\ntier: critical\ncomponents: [{name: a, kind: oven}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "planner", "plan", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"reliability: error: {bad}: components[0]")
    assert ".kind: expected 'service'" in result.stderr
    assert "Traceback" not in result.stderr


def test_errors_subclass_the_families_main_catches() -> None:
    assert issubclass(SpecError, PlannerError) and issubclass(UpstreamError, PlannerError)


@pytest.mark.parametrize(
    "command",
    [
        ["rules"],
        ["sla"],
        ["dashboard"],
        ["chaos"],
        ["chaos", "generate"],
        ["chaos", "run"],
        ["chaos", "export"],
    ],
    ids=" ".join,
)
def test_subcommand_help_has_examples_of_itself(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    examples = out.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    invocation = "reliability " + " ".join(command)
    assert len(examples) >= 2
    assert all(line.startswith("  reliability ") for line in examples), examples
    assert any(line.startswith(f"  {invocation} ") for line in examples), examples
    assert "exit codes:" in out
