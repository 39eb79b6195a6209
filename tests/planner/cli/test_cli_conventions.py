"""CLI conventions: --version, shell completion, a spec from stdin, `schema --spec` and the
committed schema files, colour for statuses (NO_COLOR), and the Makefile's test and demo."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from importlib.metadata import version

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from planner.cli import build_parser, main
from planner.cli.completion import bash_script, zsh_script
from planner.cli.style import painter, use_colour
from planner.cli.validate import spec_json_schema
from planner.inputs import read_stdin
from resilience.config import plan_json_schema
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = sorted((ROOT / "examples").glob("*/system.yaml"))
SHOP = ROOT / "examples/web_shop/system.yaml"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert code == 0
    assert out == f"reliability {version('reliability-os')}\n"


# ---------------------------------------------------------------------------------- completion


def _complete(script: str, *words: str) -> list[str]:
    """What bash completes after `words` (the last one is being typed)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _reliability;"
        ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        [bash, "--norc", "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("reliability", "ru"), ["runbook", "rules"]),
        (("reliability", ""), None),  # every command
        (
            ("reliability", "rules", "x.yaml", "--format", "p"),
            ["prometheus", "prometheusrule", "pyrra"],
        ),
        (("reliability", "rules", "-o", "out.yml", "x", "--compat", ""), ["sloth"]),
        (("reliability", "rules", "x", "--na"), ["--namespace"]),
        (("reliability", "slo", ""), ["export", "import"]),
        (("reliability", "slo", "export", "x", "--format", ""), ["openslo"]),
        (("reliability", "dashboard", "x", "--format", "g"), ["grafana-operator"]),
        (("reliability", "completion", ""), ["bash", "zsh"]),
        (("reliability", "plan", ""), []),  # a file: bash's default completion lists files
        (("reliability", "plan", "-o", ""), []),
    ],
)
def test_bash_completion(words: tuple[str, ...], expected: list[str] | None) -> None:
    parser = build_parser()
    got = _complete(bash_script(parser), *words)
    if expected is None:
        expected = sorted(
            {"plan", "failures", "recovery", "runbook", "postmortem", "validate", "schema"}
            | {"rules", "sla", "dashboard", "slo", "chaos", "completion"}
        )
    assert sorted(got) == sorted(expected)


def test_zsh_completion_runs_the_same_function_through_bashcompinit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "completion", "zsh")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "#compdef reliability"
    assert "autoload -U +X bashcompinit && bashcompinit" in lines
    assert out.endswith(bash_script(build_parser()))
    assert zsh_script(build_parser()) == out


# --------------------------------------------------------------------------------- stdin


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> object:
    """Feed bytes to standard input (read once per process, as the CLI does)."""

    def feed(data: bytes) -> None:
        class _Stdin:
            buffer = io.BytesIO(data)

        monkeypatch.setattr("sys.stdin", _Stdin)
        read_stdin.cache_clear()

    yield feed
    read_stdin.cache_clear()


def test_plan_reads_the_spec_from_stdin(capsys: pytest.CaptureFixture[str], stdin: object) -> None:
    stdin(SHOP.read_bytes())  # type: ignore[operator]
    code, from_stdin, _ = _run(capsys, "plan", "-", "--format", "json")
    assert code == 0
    assert json.loads(from_stdin) == json.loads(
        _run(capsys, "plan", str(SHOP), "--format", "json")[1]
    )


def test_rules_read_stdin_once_although_they_load_the_spec_twice(
    capsys: pytest.CaptureFixture[str], stdin: object
) -> None:
    stdin(SHOP.read_bytes())  # type: ignore[operator]
    code, out, _ = _run(capsys, "rules", "-")
    assert code == 0
    assert out == _run(capsys, "rules", str(SHOP))[1]
    assert "runbook_url: runbooks/fm-001-" in out  # the plan (second load) was built too


def test_validate_reads_a_spec_or_a_plan_from_stdin(
    capsys: pytest.CaptureFixture[str], stdin: object
) -> None:
    stdin((ROOT / "examples/ai_gateway/plan.yaml").read_bytes())  # type: ignore[operator]
    code, out, _ = _run(capsys, "validate", "-")
    assert code == 0 and out.startswith("<stdin>: valid plan: ai-gateway")
    stdin(b"system: x\ntier: high\ncomponents: [{name: a, kind: servicee}]\n")  # type: ignore[operator]
    code, _, err = _run(capsys, "validate", "-")
    assert code == 2
    assert err.startswith("reliability: error: <stdin>: components[0] (a).kind: expected ")


# -------------------------------------------------------------------------------- schemas


@pytest.mark.parametrize(
    ("argv", "committed", "build"),
    [
        (["schema", "--spec"], "schemas/system.schema.json", spec_json_schema),
        (["schema"], "schemas/plan.schema.json", plan_json_schema),
    ],
)
def test_committed_schema_files_are_what_the_cli_writes(
    capsys: pytest.CaptureFixture[str], argv: list[str], committed: str, build: object
) -> None:
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert json.loads(out) == build()  # type: ignore[operator]
    assert (ROOT / committed).read_text() == out, (
        f"{committed} is stale: regenerate it with `reliability {' '.join(argv)} -o {committed}`"
    )


def test_spec_schema_accepts_the_examples_and_rejects_what_load_spec_rejects() -> None:
    schema = json.loads((ROOT / "schemas/system.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in EXAMPLES:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    data = yaml.safe_load(SHOP.read_text())
    data["components"][0]["latency"] = {"p50": "20ms", "p99": 0.25}  # durations as text or seconds
    assert list(validator.iter_errors(data)) == []
    typo = yaml.safe_load(SHOP.read_text())
    typo["components"][0]["replicaz"] = 2
    assert any("replicaz" in e.message for e in validator.iter_errors(typo))
    bad_kind = yaml.safe_load(SHOP.read_text())
    bad_kind["components"][0]["kind"] = "mainframe"
    assert list(validator.iter_errors(bad_kind))
    bad_duration = yaml.safe_load(SHOP.read_text())
    bad_duration["components"][0]["latency"] = {"p99": "fast"}
    assert list(validator.iter_errors(bad_duration))


# --------------------------------------------------------------------------------- colour


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert use_colour(_Tty(), {"TERM": "xterm"})
    assert not use_colour(io.StringIO(), {"TERM": "xterm"})
    assert not use_colour(_Tty(), {"NO_COLOR": "1", "TERM": "xterm"})
    assert not use_colour(_Tty(), {"TERM": "dumb"})
    assert use_colour(_Tty(), {"NO_COLOR": ""})  # no-color.org: only a non-empty value counts


def test_status_cells_keep_their_width_when_coloured() -> None:
    paint = painter(True)
    assert paint("Breached ") == "\033[1;31mBreached\033[0m "
    assert paint("OK       ") == "\033[32mOK\033[0m       "
    assert paint("Period") == "Period"  # not a status
    assert painter(False)("Breached ") == "Breached "


# ------------------------------------------------------------------------------- Makefile


def _make(target: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        [make, "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout


def test_make_test_prints_why_tests_were_skipped() -> None:
    (pytest_line,) = [line for line in _make("test").splitlines() if "-m pytest" in line]
    assert " -rs " in f"{pytest_line} "


def test_make_demo_installs_only_what_the_demo_needs() -> None:
    installs = [
        line for line in _make("demo").splitlines() if "pip install" in line and "-e" in line
    ]
    assert installs and all(line.rstrip().endswith("-e .") for line in installs), installs


def test_sla_table_colours_the_status_column_only() -> None:
    from planner.model import Figure, SlaRow, SlaSection
    from planner.slo.report import sla_text

    def pct(v: float) -> Figure:
        return Figure(v, "%", "measured", {})

    section = SlaSection(
        source="http://127.0.0.1:9090",
        measured_at="2026-05-20T00:00:00Z",
        slo="availability",
        rows=(
            SlaRow("This month", 99.9, pct(99.95), pct(50.0), "OK", pct(100.0)),
            SlaRow("YTD", 99.9, pct(99.0), pct(1000.0), "Breached", pct(100.0)),
        ),
        budget_remaining_minutes=None,
    )
    plain = sla_text(section)
    coloured = sla_text(section, painter(True))
    assert "\033[" not in plain
    assert coloured.count("\033[32mOK\033[0m") == 1
    assert coloured.count("\033[1;31mBreached\033[0m") == 1
    # the same table once the colour codes are taken out: the columns still line up
    assert (
        coloured.replace("\033[32m", "").replace("\033[1;31m", "").replace("\033[0m", "") == plain
    )
