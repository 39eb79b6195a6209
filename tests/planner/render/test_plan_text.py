"""The one-pass writers (`PlanJson`, `PlanYaml`) write what converting with `Plain` and then
encoding wrote (JSON: exactly that text; YAML: the data that text holds, figures as flow
mappings), also where their caches could mix up equal values written apart: 1, 1.0
and True; 0.0 and -0.0; a figure met again at another indent; keys that are not strings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from planner.document import Plain
from planner.figure import DERIVATIONS, Figure
from planner.render.block_yaml import BlockYaml
from planner.render.plan_json import PlanJson
from planner.render.plan_yaml import PlanYaml


def _typed(value: Any) -> str:
    """`value` as canonical JSON: equal only if equal with the same types and zero signs."""
    return json.dumps(value, sort_keys=False)


_compact = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
).encode


@dataclass(frozen=True)
class Row:
    name: str
    figure: Figure
    figures: Any
    values: Any


def _figures() -> list[Figure]:
    inf, nan = float("inf"), float("nan")
    return [
        Figure(1.0, "s", "a + b", {"a": 0.0, "b": 1.0}),
        Figure(1.0, "s", "a + b", {"a": -0.0, "b": 1.0}),  # equal to the one before
        Figure(1.0, "s", "a + b", {"a": 0, "b": 1}),
        Figure(1.0, "s", "a + b", {"a": False, "b": True}),
        Figure(1, "s", "a + b", {"a": 0.0, "b": 1.0}),
        Figure(-0.0, "s", "a + b", {}),
        Figure(0.0, "s", "a + b", {}),
        Figure(inf, "s", "1 / a", {"a": 0.0}),
        Figure(nan, "s", "a / a", {"a": 0.0}),
        Figure(0.30000000000000004, "%", "a", {"a": 0.1 + 0.2, "why": "yes", "n": None}),
        Figure(2.0, "s", "a", {"a": (1, 2.0)}),
        Figure(2.0, "s", "a", {"a": (1.0, 2)}),  # equal to the one before
    ]


def _rows() -> list[Row]:
    figs = _figures()
    rows = []
    for i, fig in enumerate(figs):
        nested = {"x": fig, "y": {"deeper": fig}, "z": [fig, (fig,)], "empty": {}, "none": []}
        rows.append(Row(f"row-{i}", fig, nested, (fig.value, -0.0, 0.0, True, 1, "on")))
    rows.append(Row("keys", figs[0], {1: "int key", "1": "str key"}, {2.5: figs[1]}))
    return rows


@pytest.mark.parametrize("derivations", DERIVATIONS)
def test_json_of_plan_values_is_the_plain_data_encoded(derivations: str) -> None:
    rows = _rows()
    expected_plain = Plain(derivations)
    expected = [_compact(expected_plain(row)) for row in rows * 2]
    plain = Plain(derivations)
    writer = PlanJson(plain)
    assert [writer.text(row) for row in rows * 2] == expected
    assert plain.formulas == expected_plain.formulas  # the same indices, in the same order


@pytest.mark.parametrize("derivations", DERIVATIONS)
def test_yaml_of_plan_values_is_the_plain_data_written(derivations: str) -> None:
    rows = _rows()
    expected_plain, block = Plain(derivations), BlockYaml()
    plain = Plain(derivations)
    writer = PlanYaml(plain)
    for pad in ("", "    ", ""):  # a figure met again at another indent, and at the first again
        expected: list[str] = []
        for row in rows:
            block.item(expected_plain(row), pad, expected)
        written: list[str] = []
        writer.plan_items(rows, pad, written)
        text, before = "".join(written), "".join(expected)
        key = "key:\n"  # the items as the value of a mapping key, at their indent
        assert _typed(yaml.safe_load(key + text)) == _typed(yaml.safe_load(key + before))
        if derivations == "compact":  # a figure is its index in report.figures
            assert f"{pad}  figure: 0\n" in text
            assert text.count("\n") == before.count("\n")
        else:
            assert f"{pad}  figure: {{value: 1.0, unit: s" in text  # a figure on its key's line
            assert text.count("\n") < before.count("\n")
    assert plain.formulas == expected_plain.formulas
    assert plain.figures == expected_plain.figures  # compact: the same entries, in order


def _written_alone(write: Any, figures: int = 200) -> list[Any]:
    """What `write(figure)` wrote for figures made one at a time, each dropped before the next."""
    inputs = [{"i": i} for i in range(figures)]  # made first: each figure's own memory is reused
    seen = []
    for i in range(figures):
        fig = Figure(float(i), "s", "a", inputs[i])
        seen.append(write(fig))
        del fig
    return seen


def test_a_figure_made_and_dropped_is_not_taken_for_the_next_one() -> None:
    """The writers remember figures by object: a figure freed and another made at its address
    (CPython reuses it at once) must not be written with the first one's text."""
    json_writer, yaml_writer = PlanJson(Plain("full")), PlanYaml(Plain("full"))

    def yaml_text(fig: Figure) -> Any:
        lines: list[str] = []
        yaml_writer.plan_entries([("f", fig)], "", lines)
        return yaml.safe_load("".join(lines))["f"]

    expected = [{"i": i} for i in range(200)]
    assert [json.loads(text)["inputs"] for text in _written_alone(json_writer.text)] == expected
    assert [fig["inputs"] for fig in _written_alone(yaml_text)] == expected


def test_a_repeated_mapping_of_options_is_written_by_its_content_and_types() -> None:
    # equal values of other types (1, 1.0, True; 0.0, -0.0) are remembered apart
    options = [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": -0.0}, {"a": 0.0}, {"a": 1}]
    sections = [{"breaker": {**o, "open": {"initial": o["a"]}}, "timeout": 0.5} for o in options]
    pairs = [(f"p{i}", section) for i, section in enumerate(sections * 2)]
    writer = PlanYaml(Plain("compact"))
    for pad in ("", "  ", ""):  # remembered at one indent, written at another
        written: list[str] = []
        writer.plan_entries(pairs, pad, written)
        expected: list[str] = []
        BlockYaml().mapping(dict(pairs), pad, pad, expected)
        assert "".join(written) == "".join(expected)
    assert _typed(yaml.safe_load("".join(written))) == _typed(dict(pairs))
