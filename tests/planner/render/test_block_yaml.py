"""The block-YAML writer: any plain data reads back (with PyYAML's loaders) as exactly the data
JSON writes, tricky strings and keys included; the layout is PyYAML's block style; a real plan's
YAML and JSON files hold the same document."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.analysis import build_plan
from planner.document import Plain
from planner.model import Figure
from planner.render import render_plan
from planner.render.block_yaml import BlockYaml, float_text
from planner.render.plan_json import PlanJson
from planner.render.plan_yaml import FLOW_WIDTH, PlanYaml
from planner.spec import load_spec
from resilience.files import BoundedSafeLoader
from tests.paths import ROOT_DIR

LOADERS: list[type[Any]] = [yaml.SafeLoader, BoundedSafeLoader]
if hasattr(yaml, "CSafeLoader"):
    LOADERS.append(yaml.CSafeLoader)

#: Strings a YAML 1.1 reader takes for something else, or that need quoting or escapes.
TRICKY = [
    *("yes", "no", "on", "off", "y", "n", "Yes", "NO", "True", "false", "null", "Null", "~"),
    *("1e3", "0x1F", "0o17", "1_000", "1:20", "12:30:45", ".inf", "-.inf", ".nan", "+1", "-1"),
    *("2001-12-14", "3.", ".5", "-", "- a", "?", "? a", ":", ": ", "a: b", "a:b", "#", "a #b"),
    *("a#b", "<<", "=", "!tag", "&a", "*a", "%d", "@x", "`x", "|", ">", "[a]", "{a}", "a,b"),
    *(" a", "a ", " ", "", "a\nb", "\n", "a\tb", "a\rb", "\x00", "\x07", "\x1b", "\x7f"),
    *("\x85", "\x9f", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe", "é", "日本", "😀", "'", '"'),
    *("\\", "'a'", '"a"', "a'b", 'a"b', "a\\nb", "---", "...", "--- a", "A[gateway]", "30 days"),
]

# Hypothesis' text, minus lone surrogates (no UTF-8 file can hold them, JSON's neither)
texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
strings = st.one_of(st.sampled_from(TRICKY), texts)
scalars = st.one_of(
    strings,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
plain = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)
    ),
    max_leaves=30,
)


def _typed(value: Any) -> str:
    """`value` as canonical JSON: equal only if equal with the same types (1, 1.0, True differ)."""
    return json.dumps(value, ensure_ascii=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain)
def test_any_plain_data_reads_back_as_the_json_data(data: Any) -> None:
    text = BlockYaml().document(data)
    expected = _typed(json.loads(json.dumps(data, ensure_ascii=False)))
    for loader in LOADERS:
        assert _typed(yaml.load(text, Loader=loader)) == expected, loader.__name__


@pytest.mark.parametrize("tricky", TRICKY)
def test_a_tricky_string_reads_back_as_itself_as_value_key_and_item(tricky: str) -> None:
    data = {tricky: tricky, "list": [tricky, {tricky: [tricky]}], "nested": {"k": tricky}}
    text = BlockYaml().document(data)
    for loader in LOADERS:
        assert yaml.load(text, Loader=loader) == data, (loader.__name__, text)


def test_a_key_longer_than_an_implicit_key_is_written_explicitly() -> None:
    long = "k" * 600 + ": " + "é" * 600
    data = {"a": {long: [1, {long: {}}], "b": 2}, long: "x"}
    text = BlockYaml().document(data)
    assert f"? {json.dumps(long, ensure_ascii=False)}\n" in text
    for loader in LOADERS:
        assert yaml.load(text, Loader=loader) == data


def test_the_layout_is_block_style_two_spaces_sequences_unindented() -> None:
    data = {
        "system": "shop",
        "slo": 99.95,
        "mechanisms": {"a.b": {"retry": {"max_attempts": 3}, "fallback": {}}},
        "rows": [{"name": "db", "zones": ["a", "b"], "deps": []}, [1, [2]], None, True],
        "unit": "%",
        "period": "30 days",
        "rate": 1e-05,
    }
    assert BlockYaml().document(data) == (
        "system: shop\n"
        "slo: 99.95\n"
        "mechanisms:\n"
        "  a.b:\n"
        "    retry:\n"
        "      max_attempts: 3\n"
        "    fallback: {}\n"
        "rows:\n"
        "- name: db\n"
        "  zones:\n"
        "  - a\n"
        "  - b\n"
        "  deps: []\n"
        "- - 1\n"
        "  - - 2\n"
        "- null\n"
        "- true\n"
        'unit: "%"\n'
        'period: "30 days"\n'
        "rate: 1.0e-05\n"
    )
    # the same lines as PyYAML's block style, but for the quoting of strings
    pyyaml = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    assert BlockYaml().document(data).replace('"', "") == pyyaml.replace("'", "")


@given(st.floats(allow_nan=False))
def test_floats_are_written_as_pyyaml_writes_them(value: float) -> None:
    assert float_text(value) + "\n" == yaml.safe_dump([value])[2:]


SPECS = sorted(ROOT_DIR.glob("examples/*/system.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=[p.parent.name for p in SPECS])
@pytest.mark.parametrize("derivations", ["refs", "full"])
def test_a_real_plans_yaml_is_its_json(spec: Any, derivations: str) -> None:
    plan = build_plan(load_spec(str(spec)))
    for sections in (None, ["failures"]):
        text = render_plan(plan, "yaml", sections, derivations)
        data = json.loads(render_plan(plan, "json", sections, derivations))
        assert _typed(yaml.load(text, Loader=LOADERS[-1])) == _typed(data)
        assert text.startswith("version: 1\nsystem: ")


flow_inputs = st.dictionaries(strings, scalars, max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(allow_nan=False), strings, strings, flow_inputs)
def test_a_figure_written_on_one_line_reads_back_as_its_json(
    value: float, unit: str, formula: str, inputs: dict[str, Any]
) -> None:
    """Figures are flow mappings (`{value: …, unit: …}`) when they fit FLOW_WIDTH, with the flow
    indicators `,[]{}` quoted; either way the YAML reads back as the JSON writer's figure."""
    fig = Figure(value, unit, formula, inputs)
    plain = Plain("full")
    lines: list[str] = []
    PlanYaml(plain).plan_entries([("fig", fig), ("also", [fig])], "", lines)
    text = "".join(lines)
    expected = _typed(json.loads("{" + f'"fig":{PlanJson(plain).text(fig)}' + "}"))
    first = text.splitlines()[0]
    assert first == "fig:" or (first.startswith("fig: {") and len(first) <= 5 + FLOW_WIDTH)
    for loader in LOADERS:
        read = yaml.load(text, Loader=loader)
        assert _typed({"fig": read["fig"]}) == expected, (loader.__name__, text)
        assert read["also"] == [read["fig"]]


def test_a_wide_figure_is_a_block_mapping_and_a_narrow_one_a_line() -> None:
    narrow = Figure(0.12, "s", "p99 × headroom", {"p99": 0.08, "headroom": 1.5})
    wide = Figure(1.0, "%", "Σ share", {f"share[service-{i:06}]": 0.02 for i in range(12)})
    lines: list[str] = []
    PlanYaml(Plain("full")).plan_entries([("timeout", narrow), ("users", wide)], "", lines)
    text = "".join(lines)
    assert text.startswith(
        'timeout: {value: 0.12, unit: s, formula: "p99 × headroom",'
        " inputs: {p99: 0.08, headroom: 1.5}}\nusers:\n  value: 1.0\n"
    )
