"""Failure-mode analysis (FMEA): catalog + declared modes, impact, probability, priority, RPN.

Probability (expected occurrences a year):
    rate = weight × n × year / MTBF, with MTBF = a × MTTR / (1 − a) (`replica_mtbf`, the
    availability model's own figure). The impact below is the component going down, so the
    event counted is the one that takes it down: a failure spare replicas mask (a crash loop on
    one of three instances) counts at the component's MTBF, a = its availability with replicas,
    n = 1; a common-mode failure (bad deploy, disk full, a provider outage) and the primary's
    crash at one replica's MTBF (a per replica, n = 1); a standby's replication lag at one
    replica's MTBF per standby (n = replicas − 1). A declared quota turns rate
    limiting into a function of utilisation (traffic ÷ quota ≥ 1 → H, ≥ 0.7 → M).
    H ≥ 4 a year (quarterly or more often), M ≥ 0.5 a year, L below.
Impact (users impacted without mechanisms, from the blast radius):
    H ≥ 25 % of users, M ≥ 5 %, L below; partial modes (slowness, rate limiting, lag) one level
    lower; `criticality: high` one level higher, `low` one lower.
Priority: the seed's risk matrix — ● cells (impact H × probability M/H, impact M × probability H)
    are P1; the next diagonal (H×L, M×M, L×H) or an RPN ≥ 125 is P2; the rest P3.
RPN = severity × occurrence × detection (1–10 each; detection 10 = almost impossible to detect).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, NamedTuple

from planner.analysis.availability import Modeled
from planner.analysis.blast import PLACEMENT_SCOPES, Blast, places
from planner.analysis.catalog import (
    PLACEMENT_DETECTION,
    PLACEMENT_OUTAGES_PER_YEAR,
    CatalogMode,
)
from planner.analysis.containment import Containment
from planner.analysis.graph import Graph
from planner.analysis.levels import (
    RANK,
    Impacts,
    Memo,
    Probabilities,
    impact_level,
    moved_load,
    occurrence_rating,
    probability_level,
    severity_rating,
)
from planner.analysis.mechanisms import Mechanisms
from planner.analysis.mechanisms.fallback import fallback_limit
from planner.model import BlastRow, FailureMode, Figure, Level, Priority, RiskCell, Scope
from planner.spec import DeclaredFailureMode

RPN_P2 = 125
CRITICAL_CELLS: frozenset[tuple[Level, Level]] = frozenset({("H", "M"), ("H", "H"), ("M", "H")})
"""(impact, probability) cells marked ● in the seed's risk matrix."""


def priority_of(impact: Level, probability: Level, rpn: int) -> Priority:
    """P1 for a ● cell; P2 for the next diagonal or RPN ≥ 125; else P3."""
    if (impact, probability) in CRITICAL_CELLS:
        return "P1"
    if RANK[impact] + RANK[probability] >= 4 or rpn >= RPN_P2:
        return "P2"
    return "P3"


@dataclass(frozen=True)
class Failures:
    """The sorted failure modes and the risk matrix."""

    modes: tuple[FailureMode, ...]
    matrix: tuple[RiskCell, ...]


_Source = Literal["catalog", "declared"]


class _Raw(NamedTuple):
    """A failure mode before it has its id: `FailureMode`'s fields after `id`, in its order
    (a tuple: a large plan has one per catalog mode of every component)."""

    component: str
    name: str
    failure: str
    source: _Source
    category: str
    scope: Scope
    transient: bool
    impact: Level
    probability: Level
    priority: Priority
    severity: int
    occurrence: int
    detection: int
    rpn: int
    impact_basis: Figure
    probability_basis: Figure
    users_impacted: Figure
    users_impacted_with: Figure
    mechanisms: tuple[str, ...]
    contained: bool
    mitigation: str
    silent: bool


def _raw(
    what: tuple[str, str, str, _Source, str, Scope, bool],
    impact: Level,
    probability: Level,
    ratings: tuple[int, int, int],
    bases: tuple[Figure, Figure],
    blast: BlastRow,
    users_with: Figure,
    contained_by: tuple[tuple[str, ...], str],
    silent: bool = False,
) -> _Raw:
    """`what` = component, name, failure, source, category, scope, transient; `ratings` =
    severity, occurrence, detection; `bases` = impact, probability; `contained_by` = the
    mechanisms and the mitigation. The priority and RPN follow from the rest."""
    severity, occurrence, detection = ratings
    rpn = severity * occurrence * detection
    mechanisms, mitigation = contained_by
    return _Raw(
        *what,
        impact,
        probability,
        priority_of(impact, probability, rpn),
        severity,
        occurrence,
        detection,
        rpn,
        *bases,
        blast.users_impacted,
        users_with,
        mechanisms,
        bool(mechanisms),
        mitigation,
        silent,
    )


def analyse(graph: Graph, modeled: Modeled, blast: Blast, mech: Mechanisms) -> Failures:
    """Every component's catalog and declared modes, plus zone/region outages, prioritised."""
    raws: list[_Raw] = []
    shared = Memo()
    for name in sorted(graph.names):
        raws.extend(_component_modes(graph, modeled, blast, mech, name, shared))
    for row in blast.rows:
        if row.scope != "component":
            raws.append(_placement_mode(row))
    # stable: modes that tie keep the order they were made in
    raws.sort(key=lambda r: (r.priority, -r.rpn, r.component, r.name))
    width = max(3, len(str(len(raws))))
    modes = tuple(FailureMode(f"FM-{i:0{width}d}", *raw) for i, raw in enumerate(raws, start=1))
    return Failures(modes, risk_matrix(modes))


def mode_count(graph: Graph) -> int:
    """How many modes `analyse` makes, counted without analysing them (`reliability validate`):
    each component's catalog and declared modes (`_merged_modes`), and one per zone and region."""
    merged = sum(len(graph.modes[name]) + len(_declared_only(graph, name)) for name in graph.names)
    return merged + sum(len(places(graph, scope)) for scope in PLACEMENT_SCOPES)


def risk_matrix(modes: tuple[FailureMode, ...]) -> tuple[RiskCell, ...]:
    """Counts per impact (rows H, M, L) × probability (columns L, M, H)."""
    ids: dict[tuple[str, str], list[str]] = {}
    for m in modes:
        ids.setdefault((m.impact, m.probability), []).append(m.id)
    cells = []
    for impact in ("H", "M", "L"):
        for probability in ("L", "M", "H"):
            cell = tuple(ids.get((impact, probability), ()))
            cells.append(
                RiskCell(
                    impact, probability, (impact, probability) in CRITICAL_CELLS, len(cell), cell
                )
            )
    return tuple(cells)


def _merged_modes(
    graph: Graph, name: str
) -> list[tuple[CatalogMode, _Source, Level | None, Level | None]]:
    comp = graph.components[name]
    modes = graph.modes[name]
    merged: list[tuple[CatalogMode, _Source, Level | None, Level | None]] = []
    declared = {d.name: d for d in comp.failure_modes}
    for mode in modes:
        d = declared.get(mode.name)
        if d is None:
            merged.append((mode, "catalog", None, None))
            continue
        merged.append(
            (
                dataclasses.replace(
                    mode,
                    failure=d.failure,
                    transient=d.transient,
                    detection=d.detection if d.detection is not None else mode.detection,
                ),
                "declared",
                d.impact,
                d.probability,
            )
        )
    extra = _declared_only(graph, name)
    for d in extra:
        # a declared mode the catalog does not know: it hits the whole component (common mode)
        # and takes an equal share of its failures
        weight = 1.0 / (len(modes) + len(extra))
        category = "rate_limit" if "rate" in d.name else "errors"
        mode = CatalogMode(
            d.name,
            d.failure,
            category,
            d.transient,
            True,
            False,
            d.detection if d.detection is not None else 5,
            weight,
        )
        merged.append((mode, "declared", d.impact, d.probability))
    return merged


def _declared_only(graph: Graph, name: str) -> list[DeclaredFailureMode]:
    """The component's declared modes its catalog modes do not name."""
    catalog = {m.name for m in graph.modes[name]}
    return [d for d in graph.components[name].failure_modes if d.name not in catalog]


def _component_modes(
    graph: Graph, modeled: Modeled, blast: Blast, mech: Mechanisms, name: str, shared: Memo
) -> list[_Raw]:
    row = blast.by_source[name]
    plans = mech.by_target.get(name, ())
    out: list[_Raw] = []
    moved = moved_load(graph, blast, plans)
    users = row.users_impacted.value
    contains = Containment(graph, plans, name, mech.inbound.get(name))
    rates = Probabilities(graph, modeled, name, shared.probabilities)
    impacts = Impacts(graph, row, name, moved, shared.impacts)
    moved_text = ""  # what a mode that moves the callers' load onto their fallback adds
    for mode, source, impact_decl, prob_decl in _merged_modes(graph, name):
        probability, occurrence, prob_basis = rates.of(mode, prob_decl)
        impact, impact_basis = impacts.of(mode, impact_decl)
        failure = mode.failure
        if "moved_onto" in impact_basis.inputs:
            if not moved_text:
                moved_text = _moved_text(graph, moved)
            failure += moved_text
        users_with = row.users_impacted_with
        if mode.silent:
            # the answers succeed, so the breakers never open and the fallbacks never serve:
            # everyone the failure reaches without the mechanisms still sees it with them
            users_with = Figure(
                users,
                "%",
                "users impacted without mechanisms: breakers and fallbacks do not see answers"
                " that succeed",
                {"users_percent": users},
            )
        out.append(
            _raw(
                (name, mode.name, failure, source, mode.category, "component", mode.transient),
                impact,
                probability,
                (severity_rating(impact, users), occurrence, mode.detection),
                (impact_basis, prob_basis),
                row,
                users_with,
                contains.of(mode),
                silent=mode.silent,
            )
        )
    return out


def _moved_text(graph: Graph, moved: tuple[str, float, float]) -> str:
    """What the failure sentence adds when the callers' load moves onto their fallback."""
    limit = fallback_limit(graph, moved[0])
    return f"; its callers' {moved[1]:g}/s move onto {moved[0]}, " + (
        f"over its {limit[0]:g}/s {limit[1]}"
        if limit is not None
        else "which is not shown to hold them (declare its quota, or load-test it)"
    )


def _placement_mode(row: BlastRow) -> _Raw:
    scope = row.scope
    place = row.source.split(":", 1)[1]
    rate = PLACEMENT_OUTAGES_PER_YEAR[scope]
    users = row.users_impacted.value
    impact = impact_level(users)
    failure = f"{scope.capitalize()} {place} is lost: every replica placed there goes down"
    mitigation = (
        f"the {scope} outage takes down {', '.join(row.affected)} — spread their replicas"
        f" over more {scope}s (see the redundancy proposals)"
        if row.affected
        else f"none needed, replicas are spread over several {scope}s: no component goes down"
    )
    return _raw(
        (row.source, f"{scope}-outage", failure, "catalog", scope, scope, False),
        impact,
        probability_level(rate),
        (severity_rating(impact, users), occurrence_rating(rate), PLACEMENT_DETECTION),
        (
            Figure(
                users,
                "%",
                "users impacted without mechanisms (≥25 H, ≥5 M)",
                {"users_percent": users},
            ),
            Figure(rate, "1/yr", f"assumed {scope} outages a year", {"scope": scope}),
        ),
        row,
        row.users_impacted_with,
        ((), mitigation),
    )
