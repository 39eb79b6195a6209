"""What the `refs` plan document leaves out: each fact once, prose only with `--derivations full`.

`planner.document` writes every section item through `Plain`; with `derivations="refs"` the items
of the types in `SLIM` are written by their function here instead. What they leave out is either
a rendering of figures the document keeps, or stated elsewhere in it:

- report.mechanisms rows: `config`, `trigger` and `reason` (the prose behind the row's figures);
  `caller` and `target` when the policy's name states them (`caller.target`, the caller without a
  dot; an inbound policy is named after its entry, the caller ""); `figures` when empty and
  `inbound` when false. `row_parties(row)` gives caller and target back.
- report.failure_modes: `mitigation` (prose: the contained mechanisms are in `mechanisms`), and
  `users_impacted_with` when its value is `users_impacted`'s (the mechanisms do not reduce it).
- report.blast_radius: `affected_with` when it lists `affected` (its count stays in
  `affected_with_count`), `users_impacted_with` when its value is `users_impacted`'s.
- report.monitoring.runbooks: only `failure_mode_id`, `slug`, `severity` and `slo`; the failure
  mode (by id) has the component, priority and failure; the runbook's text is written by
  `reliability runbook` and, in the document, with `--derivations full`.
- report.redundancy.isolation: `reason`; report.recovery.scenarios: `procedure`.

Each figure the refs document keeps is the full document's figure with its formula's index in
`report.formulas`: traceable (tests/planner/test_refs_document.py checks it).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from planner.model import (
    BlastRow,
    FailureMode,
    IsolationProposal,
    MechanismRow,
    RecoveryScenario,
    Runbook,
)

__all__ = ["SLIM", "row_key", "row_parties", "slim_cells", "slim_fields"]

#: Runbook fields the refs document keeps (the rest is prose over the failure mode and policies).
RUNBOOK_FIELDS = ("failure_mode_id", "slug", "severity", "slo")


def row_key(policy: str, mechanism: str) -> str:
    """How a failure mode names a mechanism row (`FailureMode.mechanisms`)."""
    return f"{policy}: {mechanism}"


def _named_by_parties(row: MechanismRow) -> bool:
    """The policy's name states its caller and target: `caller.target`, the caller dot-free."""
    return "." not in row.caller and row.policy == f"{row.caller}.{row.target}"


def row_parties(row: Mapping[str, Any]) -> tuple[str, str]:
    """(caller, target) of a report.mechanisms row of the refs or the full document."""
    policy = str(row["policy"])
    if "target" in row:
        return str(row.get("caller", "")), str(row["target"])
    if "caller" in row:  # a policy named after its target, shared by its callers
        return str(row["caller"]), policy
    if row.get("inbound"):
        return "", policy
    caller, _, target = policy.partition(".")
    return caller, target


#: Fields of each SLIM type the refs document never writes (the rest it may: `slim_fields`).
_NEVER: dict[type, frozenset[str]] = {
    MechanismRow: frozenset({"config", "trigger", "reason"}),
    FailureMode: frozenset({"mitigation"}),
    BlastRow: frozenset(),
    Runbook: frozenset(f.name for f in dataclasses.fields(Runbook)) - set(RUNBOOK_FIELDS),
    IsolationProposal: frozenset({"reason"}),
    RecoveryScenario: frozenset({"procedure"}),
}


def slim_fields(cls: type) -> tuple[str, ...]:
    """The fields the refs document may write of an item of SLIM type `cls`, in the order it
    writes them (the compact document's table columns)."""
    never = _NEVER[cls]
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in never)


def _mechanism_cells(row: MechanismRow) -> list[Any]:
    """A mechanism row's cells in `slim_fields` order, None for what the refs leaves out."""
    caller = target = None
    inbound_named = row.inbound and not row.caller and row.target == row.policy
    if not inbound_named and not _named_by_parties(row):
        caller = row.caller
        if row.target != row.policy:
            target = row.target
    figures = row.figures or None
    return [row.policy, caller, target, row.mechanism, row.type, figures, row.inbound or None]


def _patched(cls: type, patch: Callable[[Any, list[Any]], None]) -> Callable[[Any], list[Any]]:
    """Cells of `cls`'s `slim_fields` fetched at once, then `patch(item, cells)` in place."""
    fetch = operator.attrgetter(*slim_fields(cls))

    def cells(item: Any) -> list[Any]:
        got = list(fetch(item))
        patch(item, got)
        return got

    return cells


def _blast_patch(row: BlastRow, cells: list[Any]) -> None:
    if row.affected_with == row.affected:
        cells[_BLAST_AFFECTED_WITH] = None
    if row.users_impacted_with.value == row.users_impacted.value:
        cells[_BLAST_USERS_WITH] = None


def _mode_patch(mode: FailureMode, cells: list[Any]) -> None:
    if mode.users_impacted_with.value == mode.users_impacted.value:
        cells[_MODE_USERS_WITH] = None


def slim_cells(cls: type) -> Callable[[Any], Sequence[Any]]:
    """An item of SLIM type `cls` as the cells of its compact table row: the values the refs
    document writes, in `slim_fields` order, None where it leaves one out."""
    if cls is MechanismRow:
        return _mechanism_cells
    if cls is BlastRow:
        return _patched(cls, _blast_patch)
    if cls is FailureMode:
        return _patched(cls, _mode_patch)
    fields = slim_fields(cls)
    fetch = operator.attrgetter(*fields)
    if len(fields) == 1:
        return lambda item: (fetch(item),)
    return fetch


def _leaving_out_nulls(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The refs record of an item of `cls` from its cells, less those left out (None): only for
    the types none of whose fields is ever None."""
    names, cells = slim_fields(cls), slim_cells(cls)

    def slim(item: Any) -> dict[str, Any]:
        return {name: v for name, v in zip(names, cells(item), strict=True) if v is not None}

    return slim


def _fields_kept(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The refs record of an item of `cls`: its `slim_fields`, each written as it is."""
    names = slim_fields(cls)

    def slim(item: Any) -> dict[str, Any]:
        return {name: getattr(item, name) for name in names}

    return slim


_BLAST_AFFECTED_WITH = slim_fields(BlastRow).index("affected_with")
_BLAST_USERS_WITH = slim_fields(BlastRow).index("users_impacted_with")
_MODE_USERS_WITH = slim_fields(FailureMode).index("users_impacted_with")

#: Section item type → the item as the refs document writes it (fields → plan values).
SLIM: dict[type, Callable[[Any], Mapping[str, Any]]] = {
    MechanismRow: _leaving_out_nulls(MechanismRow),
    FailureMode: _leaving_out_nulls(FailureMode),
    BlastRow: _leaving_out_nulls(BlastRow),
    Runbook: _fields_kept(Runbook),
    IsolationProposal: _fields_kept(IsolationProposal),
    RecoveryScenario: _fields_kept(RecoveryScenario),
}
