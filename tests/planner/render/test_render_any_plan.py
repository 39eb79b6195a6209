"""The text report of any valid spec stays within 100 columns, has no trailing space, and is
deterministic; markdown and HTML of the same plan carry the same failure modes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.analysis import build_plan
from planner.render import render_plan
from planner.spec import parse_spec

KINDS = ("service", "database", "cache", "queue", "external_api", "llm_api", "vector_db")


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """Small valid specs: 1–4 components, names up to 90 characters, edges only forward (a DAG)."""
    count = draw(st.integers(1, 4))
    names: list[str] = []
    while len(names) < count:
        length = draw(st.integers(1, 90))
        stem = draw(st.sampled_from("abcxyz")) * length
        name = f"{stem}-{len(names)}"
        names.append(name)
    components = []
    for i, name in enumerate(names):
        later = names[i + 1 :]
        targets = draw(st.lists(st.sampled_from(later), unique=True, max_size=2)) if later else []
        component: dict[str, Any] = {
            "name": name,
            "kind": "service" if i == 0 else draw(st.sampled_from(KINDS)),
            "replicas": draw(st.integers(1, 3)),
            "availability": draw(st.sampled_from([99.0, 99.5, 99.9, 99.95, 99.99])),
            "latency": {"p99": draw(st.sampled_from(["5ms", "120ms", "2s"]))},
            "rps": draw(st.sampled_from([1, 40, 500])),
            "zones": draw(st.sampled_from([[], ["a"], ["a", "b", "c"]])),
            "dependencies": [
                {
                    "target": target,
                    "type": draw(st.sampled_from(["hard", "soft"])),
                    **(
                        {"fallback": "y " * draw(st.integers(1, 40))} if draw(st.booleans()) else {}
                    ),
                }
                for target in targets
            ],
        }
        if i == 0:
            component |= {"entry_point": True, "traffic_share": 1.0, "latency_budget": "5s"}
        components.append(component)
    return {
        "version": 1,
        "system": "s" * draw(st.integers(1, 130)),
        "tier": draw(st.sampled_from(["standard", "high", "critical", "ultra"])),
        "components": components,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_text_report_of_any_spec_fits_and_is_deterministic(doc: dict[str, Any]) -> None:
    plan = build_plan(parse_spec(doc))
    text = render_plan(plan, "text")
    for line in text.splitlines():
        assert len(line) <= 100, line
        assert line == line.rstrip()
    assert render_plan(build_plan(parse_spec(doc)), "text") == text
    markdown = render_plan(plan, "markdown")
    html = render_plan(plan, "html")
    for mode in plan.failure_modes:
        assert f"| {mode.id} |" in markdown
        assert f"<td>{mode.id}</td>" in html
