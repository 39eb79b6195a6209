"""The AI gateway's committed plan, rules, dashboard and experiments are what the CLI writes now."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner import cli
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLE = ROOT / "examples" / "ai_gateway"
SPEC = "examples/ai_gateway/system.yaml"  # relative, as the README's commands are typed


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


REGENERATE = "regenerate it with the commands in examples/ai_gateway/README.md"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("plan.yaml", ["plan", SPEC, "--format", "yaml"]),
        ("rules.yml", ["rules", SPEC]),
        ("dashboard.json", ["dashboard", SPEC]),
    ],
)
def test_committed_file_matches_the_cli(name: str, args: list[str], tmp_path: Path) -> None:
    fresh = tmp_path / name
    assert cli.main([*args, "-o", str(fresh)]) == 0
    committed = EXAMPLE / name
    assert committed.read_text() == fresh.read_text(), f"{committed} is stale: {REGENERATE}"


def test_committed_experiments_match_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "chaos"
    assert (
        cli.main(
            [
                "chaos",
                "generate",
                SPEC,
                "-o",
                str(out),
                "--url",
                "http://127.0.0.1:8080/v1/complete",
            ]
        )
        == 0
    )
    committed = sorted(p.name for p in (EXAMPLE / "chaos").iterdir())
    assert committed == sorted(p.name for p in out.iterdir())
    for name in committed:
        assert (EXAMPLE / "chaos" / name).read_text() == (out / name).read_text(), (
            f"examples/ai_gateway/chaos/{name} is stale: {REGENERATE}"
        )
