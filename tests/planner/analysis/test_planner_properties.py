"""Invariants of the planner over generated systems (hypothesis)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resilience
from planner.analysis import availability, blast, build_plan, mechanisms
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import worst_backoff
from planner.document import plan_to_dict
from planner.render import render_plan
from planner.spec import parse_spec
from tests.paths import ROOT_DIR

KINDS = ["service", "database", "cache", "queue", "external_api", "llm_api", "vector_db"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def systems(draw: st.DrawFn) -> dict[str, Any]:
    """A random acyclic system: component i only depends on components after it."""
    n = draw(st.integers(1, 7))
    names = [f"c{i}" for i in range(n)]
    components: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        comp: dict[str, Any] = {
            "name": name,
            "kind": draw(st.sampled_from(KINDS)),
            "replicas": draw(st.integers(1, 3)),
            "availability": draw(st.sampled_from([10.0, 95.0, 99.0, 99.5, 99.9, 99.99])),
            "latency": {"p99": draw(st.sampled_from(["5ms", "100ms", "1s", "8s"]))},
            "zones": draw(st.sampled_from([[], ["a"], ["a", "b"], ["a", "b", "c"]])),
        }
        comp["min_healthy"] = draw(st.integers(1, comp["replicas"]))
        if draw(st.booleans()):
            comp["rps"] = draw(st.sampled_from([0.5, 5, 50, 500]))
        if draw(st.booleans()):
            comp["latency_budget"] = draw(st.sampled_from(["500ms", "3s", "30s"]))
        if draw(st.booleans()):
            comp["quota"] = {"rps": draw(st.sampled_from([10, 100]))}
        if comp["kind"] in ("database", "queue", "vector_db") and draw(st.booleans()):
            comp["data"] = {
                "replication": "async",
                "replication_lag": "2s",
                "backup_interval": "1h",
            }
        later = names[i + 1 :]
        targets = draw(st.lists(st.sampled_from(later), unique=True, max_size=3)) if later else []
        deps = []
        for target in targets:
            dep: dict[str, Any] = {
                "target": target,
                "type": draw(st.sampled_from(["hard", "soft"])),
            }
            others = [x for x in names if x not in (name, target)]
            choice = draw(st.sampled_from(["none", "text", "component"]))
            if choice == "text":
                dep["fallback"] = "degraded answer"
            elif choice == "component" and others:
                dep["fallback"] = draw(st.sampled_from(others))
            deps.append(dep)
        comp["dependencies"] = deps
        components.append(comp)
    components[0]["entry_point"] = True
    return {
        "version": 1,
        "system": "generated",
        "tier": draw(st.sampled_from(["standard", "high", "critical", "ultra"])),
        "components": components,
    }


def _blast(g: Graph) -> blast.Blast:
    return blast.analyse(mechanisms.derive(g))


def modeled(doc: dict[str, Any]) -> tuple[float, float]:
    g = Graph(parse_spec(doc))
    section = availability.analyse(g, availability.model(g), mechanisms.derive(g))
    return section.current.value, section.with_mechanisms.value


@SETTINGS
@given(systems())
def test_same_spec_same_plan(doc: dict[str, Any]) -> None:
    first = plan_to_dict(build_plan(parse_spec(doc)))
    second = plan_to_dict(build_plan(parse_spec(copy.deepcopy(doc))))
    assert json.dumps(first) == json.dumps(second)


@SETTINGS
@given(systems(), st.data())
def test_adding_a_replica_never_lowers_modeled_availability(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    before = modeled(doc)
    grown = copy.deepcopy(doc)
    comp = data.draw(st.sampled_from(grown["components"]))
    comp["replicas"] += 1
    after = modeled(grown)
    assert after[0] >= before[0] - 1e-9
    assert after[1] >= before[1] - 1e-9
    # and the planned fallbacks never lower the modeled availability
    assert before[1] >= before[0] - 1e-9


@SETTINGS
@given(systems(), st.data())
def test_removing_a_fallback_never_shrinks_a_blast_radius(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    edges = [
        (i, j)
        for i, comp in enumerate(doc["components"])
        for j, dep in enumerate(comp["dependencies"])
        if "fallback" in dep
    ]
    if not edges:
        return
    i, j = data.draw(st.sampled_from(edges))
    stripped = copy.deepcopy(doc)
    del stripped["components"][i]["dependencies"][j]["fallback"]
    with_fallback = _blast(Graph(parse_spec(doc))).by_source
    without = _blast(Graph(parse_spec(stripped))).by_source
    for source, row in with_fallback.items():
        other = without[source]
        assert set(row.affected_with) <= set(other.affected_with)
        assert row.users_impacted_with.value <= other.users_impacted_with.value + 1e-9
        # and the planned mechanisms never make a failure bigger than no mechanisms at all
        assert set(row.affected_with) <= set(row.affected)


#: What can contain a failure of each category (written here, apart from the planner's own table).
CONTAINS: dict[str, set[str]] = {
    "crash": {"circuit_breaker", "fallback", "retry"},
    "errors": {"circuit_breaker", "fallback", "retry"},
    "deploy": {"circuit_breaker", "fallback"},
    "latency": {"timeout", "bulkhead", "circuit_breaker", "fallback"},
    "overload": {"bulkhead", "rate_limiter", "circuit_breaker", "fallback"},
    "rate_limit": {"rate_limiter", "retry", "circuit_breaker", "fallback"},
}


@SETTINGS
@given(systems())
def test_every_p1_has_a_mechanism_or_a_stated_reason(doc: dict[str, Any]) -> None:
    plan = build_plan(parse_spec(doc))
    report = render_plan(plan, "text")
    targets = {r.policy: r.target for r in plan.mechanisms}
    for mode in plan.failure_modes:
        assert mode.contained == bool(mode.mechanisms), mode.id
        if mode.priority != "P1":
            continue
        if not mode.mechanisms:
            # no mechanism: an explicit reason, and the report lists the mode as such
            assert not mode.contained, (mode.id, mode.mitigation)
            assert len(mode.mitigation) > 10, mode.id
            reason = mode.mitigation
            assert f"{mode.id} {mode.component}: {reason[:40]}" in " ".join(report.split())
            continue
        assert not mode.silent, f"{mode.id}: no mechanism sees an answer that succeeds"
        for entry in mode.mechanisms:
            policy, mechanism = entry.split(": ")
            # a policy of the mechanism table, guarding this component, that has the mechanism
            config = plan.mechanism_table[policy]
            assert targets[policy] == mode.component, entry
            assert mechanism in CONTAINS[mode.category], (mode.id, mode.category, entry)
            assert mechanism in config, (mode.id, entry, config)
            if mechanism == "retry":
                assert mode.transient and config["retry"]["max_attempts"] > 1, entry
    assert {r.failure_mode_id for r in plan.monitoring.runbooks} == {
        m.id for m in plan.failure_modes if m.priority in ("P1", "P2")
    }


@SETTINGS
@given(systems())
def test_the_table_loads_and_retries_fit_their_deadline(doc: dict[str, Any]) -> None:
    plan = build_plan(parse_spec(doc))
    resilience.load_plan(plan_to_dict(plan))
    inbound = {r.policy for r in plan.mechanisms if r.inbound}
    for name, policy in plan.mechanism_table.items():
        if name in inbound:  # an entry point's own policy: no attempts, its budget as deadline
            assert "timeout" not in policy and "retry" not in policy, name
            continue
        assert policy["timeout"] <= policy["deadline"] + 1e-9, name
        retry = policy.get("retry")
        if retry is not None:
            wait = retry["wait"]
            worst = worst_backoff(retry["max_attempts"], wait["multiplier"], wait["max"])
            assert retry["max_attempts"] * policy["timeout"] + worst <= policy["deadline"] + 1e-9


def test_the_plan_does_not_depend_on_the_hash_seed() -> None:
    # sets of names are everywhere in the analysis; the output must not follow their order
    root = ROOT_DIR
    script = (
        "import json, sys; from planner.spec import load_spec;"
        " from planner.analysis import build_plan; from planner.document import plan_to_dict;"
        " print(json.dumps(plan_to_dict(build_plan(load_spec(sys.argv[1])))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(root / "examples/web_shop/system.yaml")],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def _floats(node: object) -> list[float]:
    if isinstance(node, float):
        return [node]
    if isinstance(node, dict):
        return [x for v in node.values() for x in _floats(v)]
    if isinstance(node, list | tuple):
        return [x for v in node for x in _floats(v)]
    return []


def _noisy(plan_dict: dict[str, Any]) -> list[float]:
    """Finite floats that need more than 12 significant digits (0.010000000000005116)."""
    return [
        x
        for x in _floats(plan_dict)
        if x == x and abs(x) != float("inf") and x != float(f"{x:.12g}")
    ]


@SETTINGS
@given(systems())
def test_plan_figures_carry_no_float_noise(doc: dict[str, Any]) -> None:
    assert _noisy(plan_to_dict(build_plan(parse_spec(doc)))) == []


def test_example_plans_carry_no_float_noise() -> None:
    from planner.spec import load_spec

    for example in sorted(Path("examples").glob("*/system.yaml")):
        assert _noisy(plan_to_dict(build_plan(load_spec(example)))) == [], example


@SETTINGS
@given(systems())
def test_blast_rows_from_bitsets_are_the_walked_rows(doc: dict[str, Any]) -> None:
    # A deep chain's rows come from memoised bitsets; on any system they equal the walk's.
    mech = mechanisms.derive(Graph(parse_spec(doc)))
    rows = blast.ComponentRows(mech)
    for name in mech.graph.names:
        walked = blast.row(mech, f"{name} down", name, "component", [name], blast.LISTED)
        assert rows.from_bits(name) == walked
        assert rows.walked(name) == walked
