"""The mechanisms' fast constructors build the same frozen instances as the dataclasses do."""

from __future__ import annotations

import dataclasses

import pytest

from planner.analysis.graph import Edge
from planner.analysis.mechanisms import EdgePlan
from planner.analysis.mechanisms.construct import new_figure, new_row, slot_constructor
from planner.model import Figure, MechanismRow
from planner.spec import Dependency


def test_new_figure_and_new_row_equal_what_the_dataclasses_build() -> None:
    fig = new_figure(0.25, "s", "p99 × headroom", {"p99": 0.2, "source": "declared"})
    assert type(fig) is Figure
    assert fig == Figure(0.25, "s", "p99 × headroom", {"p99": 0.2, "source": "declared"})
    assert fig != Figure(0.26, "s", "p99 × headroom", {"p99": 0.2, "source": "declared"})
    values = ("db", "gw", "db", "timeout", "Containment", "250ms", ">250ms", "why", {"t": fig})
    made = new_row(*values)
    assert type(made) is MechanismRow and made == MechanismRow(*values)
    assert made.inbound is False and new_row(*values, True) == MechanismRow(*values, True)


def test_the_instances_stay_frozen() -> None:
    made = new_row("db", "gw", "db", "retry", "Recovery", "none", "—", "why", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.reason = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        new_figure(1.0, "s", "f", {}).value = 2.0  # type: ignore[misc]


def test_slot_constructor_sets_every_field_in_order() -> None:
    edge = Edge("gw", Dependency(target="db"))
    timeout = new_figure(0.15, "s", "t", {})
    fields = [f.name for f in dataclasses.fields(EdgePlan)]
    values = [edge, "db", timeout, timeout, 3, True, False, None, None, False, 12, timeout]
    assert len(values) == len(fields)
    plan = slot_constructor(EdgePlan)(*values)
    assert plan == EdgePlan(*values)  # type: ignore[arg-type]
    assert [getattr(plan, name) for name in fields] == values
