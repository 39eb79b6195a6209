"""Streamed plan output: the chunks reach the file only once complete, the sealed YAML plan and
the JSON plan load (as the same document), `--derivations` says how figures are written, and the
progress bar appears on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import resilience
from planner.analysis import build_plan
from planner.cli.output import write_chunks
from planner.document import plan_to_dict
from planner.render import render_plan
from planner.spec import load_spec
from resilience.files import seal, seal_chunks
from tests.paths import ROOT_DIR

SPEC = ROOT_DIR / "examples" / "ai_gateway" / "system.yaml"
CLI = [sys.executable, "-m", "planner"]


def test_a_failing_stream_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")

    def chunks() -> Iterator[str]:
        yield '{"version": 1'
        raise RuntimeError("the planner failed midway")

    with pytest.raises(RuntimeError):
        write_chunks(chunks(), target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["plan.json"]
    write_chunks(iter(["a", "", "b"]), target)
    assert target.read_text() == "ab\n"  # complete, with the final newline added


def test_seal_chunks_is_seal_of_the_joined_text() -> None:
    for parts in (["version: 1\n", "system: s\n"], ["a: 1"], ["", "x", "y\n"]):
        assert "".join(seal_chunks(parts)) == seal("".join(parts))


def test_streamed_yaml_and_json_both_load_as_the_document() -> None:
    import yaml

    plan = build_plan(load_spec(str(SPEC)))
    full = plan_to_dict(plan)
    assert yaml.safe_load(render_plan(plan, "yaml")) == full
    assert json.loads(render_plan(plan, "json")) == full
    part = json.loads(render_plan(plan, "json", ["failures"]))
    assert "mechanisms" not in part and set(part["report"]) >= {"failure_modes", "blast_radius"}


def test_refs_figures_resolve_and_none_writes_values_only() -> None:
    plan = build_plan(load_spec(str(SPEC)))
    full = plan_to_dict(plan)
    refs = plan_to_dict(plan, "refs")
    formulas = refs["report"]["formulas"]
    assert len(formulas) == len(set(formulas))
    current = refs["report"]["current"]  # the rest: tests/planner/test_refs_document.py
    assert {**current, "formula": formulas[current["formula"]]} == full["report"]["current"]
    bare = plan_to_dict(plan, "none")["report"]["current"]
    assert bare == {"value": full["report"]["current"]["value"], "unit": "%"}


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_the_cli_plan_file_loads_and_validates(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"plan.{suffix}"
    subprocess.run([*CLI, "plan", str(SPEC), "-o", str(out)], check=True, cwd=ROOT_DIR)
    text = out.read_text(encoding="utf-8")
    if suffix == "yaml":
        assert text.startswith("# reliability-os sealed plan")
    else:
        assert json.loads(text)["report"]["formulas"]  # refs by default
    assert "llm-primary" in resilience.load_plan(out).names()


def _env(after: str) -> dict[str, str]:
    return {**os.environ, "RELIABILITY_PROGRESS_AFTER": after}


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "plan", str(SPEC), "-o", str(tmp_path / "plan.json")],
        capture_output=True,
        text=True,
        env=_env("0"),
        cwd=ROOT_DIR,
        check=True,
    )
    assert done.stderr == ""


def test_the_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    # stderr is a pty; the bar shows past RELIABILITY_PROGRESS_AFTER (0 here: at once)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "plan", str(SPEC), "-o", str(tmp_path / "plan.json")],
        stderr=follower,
        stdout=subprocess.DEVNULL,
        env=_env("0"),
        cwd=ROOT_DIR,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # the follower closed: the command is done
            break
        if not data:
            break
        seen += data
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = seen.decode()
    assert "[" + "#" * 24 + "] 10/10 writing" in text  # every step done, the bar full
    assert "1/10 spec read" in text and "4/10 availability" in text
    assert text.endswith("\r\x1b[K")  # and the line cleared at the end
