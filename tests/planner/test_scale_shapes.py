"""The benchmark's island shapes: the mesh's work per component, laid out near or far in memory.

`benchmarks/planner_scale.py --shape islands,shuffled` compares copies of one mesh in spec order
against the same components shuffled; that comparison holds only if both plans are the copies'
plans, which this checks.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from benchmarks.planner_scale import ISLAND, islands, mesh, shuffled
from planner.analysis import build_plan
from planner.spec import parse_spec

_ISLAND = re.compile(r"^i[0-9]+-")


def _modes(doc: dict[str, Any]) -> Counter[tuple[str, str]]:
    """(component less its island prefix, mode name) of each failure mode (each island's entries
    carry a share of the traffic, so impacts and priorities are not the mesh's)."""
    plan = build_plan(parse_spec(doc))
    return Counter((_ISLAND.sub("", m.component), m.name) for m in plan.failure_modes)


def test_islands_are_copies_of_the_mesh_and_shuffled_is_their_reordering() -> None:
    one = build_plan(parse_spec(mesh(ISLAND)))
    two = islands(2 * ISLAND)
    names = [c["name"] for c in two["components"]]
    assert len(names) == len(set(names)) == 2 * ISLAND
    for comp in two["components"]:  # no edge leaves its island
        island = comp["name"].split("-", 1)[0]
        assert {d["target"].split("-", 1)[0] for d in comp.get("dependencies", ())} <= {island}
    assert sum(c.get("traffic_share", 0.0) for c in two["components"]) == pytest.approx(1.0)

    per_island = Counter((m.component, m.name) for m in one.failure_modes)
    # each component's modes twice; the zones' once (the islands' components share zones a-c)
    doubled = Counter({k: n if k[0].startswith("zone:") else 2 * n for k, n in per_island.items()})
    assert sum(key[0].startswith("zone:") for key in doubled) == 3
    assert _modes(two) == doubled
    reordered = shuffled(2 * ISLAND)
    assert [c["name"] for c in reordered["components"]] != names
    assert _modes(reordered) == doubled


def test_islands_of_a_size_that_is_not_whole_islands_is_refused() -> None:
    assert len(islands(60)["components"]) == 60  # up to one island: one mesh
    with pytest.raises(SystemExit, match="not a multiple of 1000"):
        islands(ISLAND + 1)
