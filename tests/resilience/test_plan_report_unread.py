"""A JSON plan is read up to its `report`, which the runtime never reads: a large plan loads
within the size limit and without parsing the report, and every other file reads as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resilience import PlanError, load_plan
from resilience.files import Limits

MECHANISMS = {"db": {"timeout": "1s"}, "api.search": {"timeout": "2s", "retry": {}}}
HEAD = {"version": 1, "system": "shop", "mechanisms": MECHANISMS}
LIMIT = Limits(max_bytes=4096)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    return path


def _report(size: int) -> dict[str, Any]:
    return {"failure_modes": [{"id": f"FM-{i:05d}", "failure": "é" * 40} for i in range(size)]}


def test_a_report_past_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps({**HEAD, "report": _report(2000)}))
    assert path.stat().st_size > 40 * LIMIT.max_bytes
    plan = load_plan(path, limits=LIMIT)
    assert plan.names() == ["api.search", "db"]
    assert plan.config("api.search").timeout == 2.0


@pytest.mark.parametrize("cut", range(1, 12))
def test_the_limit_may_split_a_character_of_the_report(tmp_path: Path, cut: int) -> None:
    data = json.dumps({**HEAD, "report": _report(50)}, ensure_ascii=False).encode()
    limit = data.index("é".encode()) + cut  # an odd cut splits one of the two-byte 'é's
    path = tmp_path / "plan.json"
    path.write_bytes(data)
    assert load_plan(path, limits=Limits(max_bytes=limit)).names() == ["api.search", "db"]


def test_a_plan_whose_mechanisms_do_not_fit_the_limit_is_refused_as_before(
    tmp_path: Path,
) -> None:
    wide = {f"p{i}": {"timeout": "1s"} for i in range(400)}
    path = _write(tmp_path, json.dumps({**HEAD, "mechanisms": wide, "report": {}}))
    with pytest.raises(PlanError, match=r"the file is \d+(\.\d+)? KiB, over the 4 KiB limit"):
        load_plan(path, limits=LIMIT)


def test_a_malformed_head_reports_where_as_before(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"version": 1, "system": "shop", "mechanisms": {"db": {,}}}')
    with pytest.raises(PlanError, match=r"not valid JSON \(Expecting property name enclosed in"):
        load_plan(path)


def test_what_the_report_holds_is_never_parsed(tmp_path: Path) -> None:
    """A report that is not JSON at all (cut off mid-write, say) does not stop the runtime."""
    path = _write(tmp_path, json.dumps(HEAD)[:-1] + ', "report": {"failure_modes": [{"id": ')
    assert load_plan(path).names() == ["api.search", "db"]


def test_a_report_before_the_mechanisms_is_read_whole(tmp_path: Path) -> None:
    doc = {"version": 1, "system": "shop", "report": _report(3), "mechanisms": MECHANISMS}
    path = _write(tmp_path, json.dumps(doc))
    assert load_plan(path).names() == ["api.search", "db"]
    bad = {**doc, "mechanisms": {"db": {"timeout": "soon"}}}
    with pytest.raises(PlanError, match=r"mechanisms\.db\.timeout"):
        load_plan(_write(tmp_path, json.dumps(bad)))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (  # spaces anywhere; a key named report inside a value is not the report
            ' \n{ "version" : 1 ,\t"system":"shop" , "mechanisms" : {"report": {}} , "report" : ',
            ["report"],
        ),
        (  # the last of duplicate keys, as json.loads keeps it
            '{"version": 1, "system": "s", "mechanisms": {"a": {}}, "mechanisms": {"b": {}},'
            ' "report": 0}',
            ["b"],
        ),
    ],
)
def test_the_members_before_the_report_read_as_json_reads_them(
    tmp_path: Path, text: str, names: list[str]
) -> None:
    assert load_plan(_write(tmp_path, text)).names() == names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 1, "system": "s", "mechanisms": {"a": {}} "report": {}}',
            r"not valid JSON \(Expecting ',' delimiter at line 1, column 55\)",
        ),
        (
            '{"version": 1, "system": "s", "mechanisms": {"a": {}}, "x": '
            + "[" * 200
            + "]" * 200
            + ', "report": 0}',
            "nested deeper than 100 levels",
        ),
        (
            '{"version": 1, "system": "s", "mechanisms": {"a": {}}, "x": '
            + "[" * 100_000
            + "]" * 100_000
            + ', "report": 0}',
            "nested deeper than 100 levels",
        ),
    ],
)
def test_a_head_that_does_not_parse_is_refused_as_before(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        load_plan(_write(tmp_path, text))
