"""Issue 14 parts 1 and 2 on hand-computed specs: failover in the model (one figure for the
availability and the recovery section), free-text fallbacks that earn only what is declared, and
every entry point against the target."""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import build_plan
from planner.render import render_plan
from planner.spec import parse_spec


def shop(**top: Any) -> dict[str, Any]:
    """Two entries over one replicated database; browse also reads a one-replica catalog with
    a free-text fallback.

    - orders-db: 2 replicas at 99.95 %, MTTR 30 m, async replication → promoted on failure.
      MTBF = 0.9995 × 1800 / 0.0005 = 3 598 200 s; failover = 30 + 120 + 60 = 210 s;
      A = (1 − 0.0005²) × 3 598 200 / 3 598 410 = 0.99999975 × 0.999941641 = 0.999941391.
    - catalog: 1 replica at 99.5 %, behind `fallback: "static page"` (no declared availability):
      1 − (1 − 0.995)(1 − 0) = 0.995, as if it had no fallback.
    - buy   (30 %): 99.99 % × A_db = 0.9999 × 0.999941391 = 0.999841397 → 99.9841397 %
    - browse (70 %): 99.99 % × A_db × 0.995 = 0.999841397 × 0.995 = 0.994842190 → 99.4842190 %
    - traffic-weighted: 0.3 × 99.9841397 + 0.7 × 99.4842190 = 29.9952419 + 69.6389533
      = 99.6341952 %; every entry: min = 99.4842190 %.
    """
    return {
        "version": 1,
        "system": "shop",
        "tier": "standard",  # 99.9 %
        **top,
        "components": [
            {"name": "buy", "kind": "service", "entry_point": True, "traffic_share": 0.3,
             "availability": 99.99, "dependencies": [{"target": "orders-db"}]},
            {"name": "browse", "kind": "service", "entry_point": True, "traffic_share": 0.7,
             "availability": 99.99,
             "dependencies": [{"target": "orders-db"},
                              {"target": "catalog", "fallback": "static page"}]},
            {"name": "orders-db", "kind": "database", "replicas": 2, "availability": 99.95,
             "mttr": "30m", "data": {"replication": "async", "replication_lag": "1s"}},
            {"name": "catalog", "kind": "search", "availability": 99.5},
        ],
    }  # fmt: skip


A_DB = (1 - 0.0005**2) * 3_598_200 / 3_598_410
BUY = 0.9999 * A_DB * 100
BROWSE = 0.9999 * A_DB * 0.995 * 100


def test_the_replicated_database_pays_210_s_per_primary_failure() -> None:
    plan = build_plan(parse_spec(shop()))
    db = next(c for c in plan.availability.components if c.component == "orders-db")
    assert db.effective.value == pytest.approx(A_DB * 100)
    assert db.effective.value == pytest.approx(99.9941391, abs=1e-7)
    assert db.effective.inputs["failover_s"] == 210.0
    # the recovery section's host failure is the same 210 s
    [host] = [s for s in plan.recovery.scenarios if s.scenario == "orders-db host failure"]
    assert host.rto.value == 210.0
    assert "promote the replica" in host.procedure


def test_each_entry_has_its_figure_and_every_entry_must_meet_the_tier() -> None:
    plan = build_plan(parse_spec(shop()))
    section = plan.availability
    entries = {e.component: e for e in section.entry_points}
    assert entries["buy"].availability.value == pytest.approx(BUY)
    assert entries["browse"].availability.value == pytest.approx(BROWSE)
    # the free-text fallback earns nothing: with mechanisms is the same figure
    assert entries["browse"].availability_with.value == pytest.approx(BROWSE)
    assert section.current.value == pytest.approx(99.4842190, abs=1e-6)
    assert not section.meets_target  # browse 99.48 % < 99.9 %
    text = render_plan(plan, "text")
    assert "| buy         | 30%     | 99.9841%     | 99.9841%        |" in text
    assert "| browse      | 70%     | 99.4842%     | 99.4842%        |" in text
    assert "System: 99.4842% modeled (no fallback changes it); target 99.9% not met." in text
    assert "the target holds only if every entry" in text


def test_traffic_weighting_is_the_specs_explicit_choice() -> None:
    section = build_plan(parse_spec(shop(entry_weighting="traffic"))).availability
    assert section.current.value == pytest.approx(0.3 * BUY + 0.7 * BROWSE)
    assert section.current.value == pytest.approx(99.6341952, abs=1e-6)
    assert not section.meets_target  # 99.63 % < 99.9 % either way


def test_a_declared_fallback_availability_counts_in_parallel() -> None:
    doc = shop()
    doc["components"][1]["dependencies"][1]["fallback_availability"] = 90
    plan = build_plan(parse_spec(doc))
    browse = next(e for e in plan.availability.entry_points if e.component == "browse")
    # 1 − (1 − 0.995)(1 − 0.9) = 1 − 0.005 × 0.1 = 0.9995
    assert browse.availability_with.value == pytest.approx(0.9999 * A_DB * 0.9995 * 100)
    assert "catalog" not in {s.component for s in plan.spofs}


def test_a_one_replica_store_behind_free_text_only_stays_a_spof() -> None:
    plan = build_plan(parse_spec(shop()))
    [spof] = [s for s in plan.spofs if s.component == "catalog"]
    assert "free-text fallbacks only" in spof.reason
    assert spof.users_impacted.value == pytest.approx(70.0)  # browse's share
