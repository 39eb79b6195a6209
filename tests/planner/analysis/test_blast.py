"""Blast radius over the dependency graph, without and with breakers + fallbacks; SPOFs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from planner.analysis import blast, mechanisms
from planner.analysis.graph import Graph
from planner.spec import parse_spec


def graph(components: list[dict[str, Any]], **top: Any) -> Graph:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components, **top}
    return Graph(parse_spec(doc))


def shop() -> Graph:
    # web (70 %) and api (30 %) share a database; web's catalog call falls back to a replica
    return graph(
        [
            {
                "name": "web",
                "kind": "service",
                "entry_point": True,
                "traffic_share": 0.7,
                "replicas": 2,
                "zones": ["a", "b"],
                "dependencies": [
                    {"target": "db"},
                    {"target": "catalog", "fallback": "replica"},
                    {"target": "recs", "type": "soft"},
                ],
            },
            {
                "name": "api",
                "kind": "service",
                "entry_point": True,
                "traffic_share": 0.3,
                "replicas": 2,
                "zones": ["a", "b"],
                "dependencies": [{"target": "db"}],
            },
            {
                "name": "catalog",
                "kind": "service",
                "replicas": 2,
                "zones": ["a", "b"],
                "dependencies": [{"target": "db"}],
            },
            {"name": "replica", "kind": "database", "zones": ["b"]},
            {"name": "recs", "kind": "service", "zones": ["a"]},
            {
                "name": "db",
                "kind": "database",
                "replicas": 2,
                "min_healthy": 1,
                "zones": ["a", "b"],
            },
        ],
        users=1000,
    )


def test_hard_edges_carry_an_outage_to_every_caller() -> None:
    row = blast.analyse(mechanisms.derive(shop())).by_source["db"]
    assert row.affected == ("api", "catalog", "db", "web")
    assert row.users_impacted.value == pytest.approx(100.0)
    assert row.users_impacted.inputs["users_impacted"] == 1000


def test_a_fallback_turns_a_hard_edge_into_degradation() -> None:
    row = blast.analyse(mechanisms.derive(shop())).by_source["catalog"]
    assert row.affected == ("catalog", "web")
    assert row.users_impacted.value == pytest.approx(70.0)
    assert row.affected_with == ("catalog",)
    assert row.degraded_with == ("web",)
    assert row.users_impacted_with.value == 0.0


def test_a_soft_dependency_only_degrades() -> None:
    row = blast.analyse(mechanisms.derive(shop())).by_source["recs"]
    assert row.affected == ("recs",)
    assert row.degraded_with == ("web",)
    assert row.users_impacted.value == 0.0


def test_the_fallback_down_too_means_down() -> None:
    g = shop()
    assert blast.down_with(mechanisms.derive(g), ["catalog", "replica"]) == {
        "catalog",
        "replica",
        "web",
    }
    # and a fallback that depends on the failed component cannot save the call
    g2 = graph(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "dependencies": [{"target": "a", "fallback": "b"}],
            },
            {"name": "a", "kind": "service", "dependencies": [{"target": "shared"}]},
            {"name": "b", "kind": "service", "dependencies": [{"target": "shared"}]},
            {"name": "shared", "kind": "database"},
        ]
    )
    assert blast.down_with(mechanisms.derive(g2), ["shared"]) == {"a", "b", "gw", "shared"}
    assert blast.down_with(mechanisms.derive(g2), ["a"]) == {"a"}


def test_zone_outage_takes_down_what_keeps_too_few_replicas() -> None:
    rows = blast.analyse(mechanisms.derive(shop())).by_source
    # zone b: 'replica' lives only there; db/web/api/catalog keep one replica in a
    assert rows["zone:b"].affected == ("replica",)
    assert rows["zone:b"].users_impacted.value == 0.0
    # zone a: 'recs' lives only there, and nothing needs it hard
    assert rows["zone:a"].affected == ("recs",)
    g = graph(
        [
            {
                "name": "x",
                "kind": "service",
                "entry_point": True,
                "replicas": 3,
                "min_healthy": 2,
                "zones": ["a", "b"],
            }
        ]
    )
    # round-robin: a gets replicas 1 and 3, so losing a leaves 1 < 2
    assert blast.placement_down(g, "zone", "a") == {"x"}
    assert blast.placement_down(g, "zone", "b") == set()


def test_single_points_of_failure() -> None:
    found = {s.component: s for s in blast.analyse(mechanisms.derive(shop())).spofs}
    # db has a spare replica; recs and replica only degrade; the entries have spares
    assert found == {}
    g = graph(
        [
            {
                "name": "gw",
                "kind": "service",
                "entry_point": True,
                "replicas": 2,
                "zones": ["a"],
                "dependencies": [{"target": "db"}],
            },
            {"name": "db", "kind": "database"},
        ]
    )
    spofs = {s.component: s.reason for s in blast.analyse(mechanisms.derive(g)).spofs}
    assert spofs == {
        "db": "one replica; no fallback on its callers' edges",
        "gw": "2 replicas, all in zone a",
    }


def test_an_entry_point_without_a_spare_is_a_spof_users_reach_directly() -> None:
    g = graph([{"name": "app", "kind": "service", "entry_point": True}], users=150)
    (spof,) = blast.analyse(mechanisms.derive(g)).spofs
    assert spof.component == "app"
    assert spof.reason == "one replica; users reach it directly (an entry point with no spare)"
    assert spof.users_impacted.inputs["users_impacted"] == 150


def test_blast_radius_and_availability_follow_the_plans_edges_not_the_spec() -> None:
    from planner.analysis import availability

    g = shop()
    mech = mechanisms.derive(g)
    catalog = mech.by_target["catalog"][0]
    assert (catalog.has_fallback, catalog.fallback_component) == (True, "replica")
    # the same spec, with a plan that (hypothetically) wires no fallback on web → catalog
    bare = dataclasses.replace(catalog, has_fallback=False, fallback=None, fallback_component=None)
    unplanned = dataclasses.replace(
        mech, edges=tuple(bare if p is catalog else p for p in mech.edges)
    )
    assert blast.analyse(mech).by_source["catalog"].affected_with == ("catalog",)
    assert blast.analyse(unplanned).by_source["catalog"].affected_with == ("catalog", "web")
    modeled = availability.model(g)
    with_plan = availability.analyse(g, modeled, mech)
    without = availability.analyse(g, modeled, unplanned)
    web = {e.component: e for e in without.entry_points}["web"]
    assert (
        web.availability_with.value
        < {e.component: e for e in with_plan.entry_points}["web"].availability_with.value
    )
    assert web.availability_with.value == pytest.approx(web.availability.value)


def test_a_deep_chain_lists_the_first_names_and_counts_them_all() -> None:
    # e0000 → e0001 → … → e0599, hard edges; e0300 has a soft edge with a fallback to e0599's
    # sibling, so rows past SMALL come from the bitsets and the soft edge degrades.
    n = 600
    comps: list[dict[str, Any]] = []
    for i in range(n):
        comp: dict[str, Any] = {"name": f"e{i:04d}", "kind": "service", "replicas": 2}
        if i + 1 < n:
            comp["dependencies"] = [{"target": f"e{i + 1:04d}"}]
        comps.append(comp)
    comps[0].update(entry_point=True)
    comps[300]["dependencies"].append({"target": "side", "type": "soft", "fallback": "cached"})
    comps.append({"name": "side", "kind": "service", "replicas": 2})
    rows = blast.analyse(mechanisms.derive(graph(comps))).by_source
    bottom = rows["e0599"]
    assert bottom.affected_count == 600  # e0000 … e0599
    assert bottom.affected == tuple(f"e{i:04d}" for i in range(blast.LISTED))
    assert bottom.users_impacted.value == 100.0
    assert bottom.users_impacted.inputs == {"share[e0000]": 1.0}
    middle = rows["e0450"]
    assert (middle.affected_count, middle.affected_with_count) == (451, 451)
    assert middle.degraded_with_count == 0
    side = rows["side"]  # soft: nothing goes down, e0000 … e0300 degrade
    assert (side.affected_count, side.affected_with_count) == (1, 1)
    assert side.degraded_with_count == 301
    assert side.degraded_with == tuple(f"e{i:04d}" for i in range(blast.LISTED))
    assert side.users_impacted.value == 0.0
