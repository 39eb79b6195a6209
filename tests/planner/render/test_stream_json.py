"""The JSON plan: its data is a straightforward conversion of the plan (dataclass fields one by
one, floats rounded, infinities "unbounded"), and its layout keeps the outer levels one key or
item per line however many items a chunk holds."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import pytest

from planner.analysis import build_plan
from planner.document import Deferred, LazyList, LazyMap, Section
from planner.figure import Figure, significant
from planner.render import render_plan
from planner.render.stream import json_chunks
from planner.spec import load_spec
from tests.paths import ROOT_DIR

SPECS = sorted(ROOT_DIR.glob("examples/*/system.yaml"))


def reference(value: Any) -> Any:
    """The plain form of a plan value, the slow obvious way (`derivations="full"`)."""
    if isinstance(value, Figure):
        return {
            "value": reference(value.value),
            "unit": value.unit,
            "formula": value.formula,
            "inputs": {k: reference(v) for k, v in value.inputs.items()},
        }
    if isinstance(value, float) and type(value) is float:
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "unbounded" if value > 0 else "-unbounded"
        return significant(value)
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        return [reference(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: reference(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): reference(v) for k, v in value.items()}
    return value


def _typed(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)  # 1, 1.0 and True apart


@pytest.mark.parametrize("spec", SPECS, ids=[p.parent.name for p in SPECS])
def test_the_json_plan_is_the_plan_converted_field_by_field(spec: Any) -> None:
    plan = build_plan(load_spec(str(spec)))
    doc = json.loads(render_plan(plan, "json", None, "full"))
    table = plan.mechanism_table
    assert _typed(doc["mechanisms"]) == _typed({name: reference(table[name]) for name in table})
    fields = [f.name for f in dataclasses.fields(plan) if f.name != "mechanism_table"]
    assert list(doc["report"]) == fields
    for name in fields:
        assert _typed(doc["report"][name]) == _typed(reference(getattr(plan, name))), name


def test_the_layout_holds_across_chunks() -> None:
    items = [{"n": i, "name": f"c-{i}", "share": i / 7} for i in range(600)]
    keys = [f"k{i}" for i in range(300)]
    doc = Section(
        version=1,
        empty=LazyList([], str),
        items=LazyList(items, dict),
        table=LazyMap(keys, lambda k: {"key": k, "len": len(k)}),
        report=Section(section=LazyMap(["rows"], lambda _: LazyList(items[:3], dict))),
        formulas=Deferred(lambda: ["a", "b"]),
    )
    compact = [json.dumps(i, ensure_ascii=False, separators=(",", ":")) for i in items]
    table = [f'"{k}": {{"key":"{k}","len":{len(k)}}}' for k in keys]
    expected = (
        '{\n  "version": 1,\n  "empty": [],\n  "items": [\n    '
        + ",\n    ".join(compact)
        + '\n  ],\n  "table": {\n    '
        + ",\n    ".join(table)
        + '\n  },\n  "report": {\n    "section": {\n      "rows": [\n        '
        + ",\n        ".join(compact[:3])
        + '\n      ]\n    }\n  },\n  "formulas": ["a","b"]\n}\n'
    )
    text = "".join(json_chunks(doc))
    assert text == expected
    assert json.loads(text)["table"]["k299"] == {"key": "k299", "len": 4}
