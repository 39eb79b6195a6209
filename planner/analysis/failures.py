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
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

from planner.analysis.availability import Modeled, replica_mtbf
from planner.analysis.blast import PLACEMENT_SCOPES, Blast, places
from planner.analysis.catalog import (
    PLACEMENT_DETECTION,
    PLACEMENT_OUTAGES_PER_YEAR,
    CatalogMode,
)
from planner.analysis.containment import Containment
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import EdgePlan, Mechanisms
from planner.analysis.mechanisms.fallback import fallback_limit
from planner.model import BlastRow, FailureMode, Figure, Level, Priority, RiskCell, Scope
from planner.spec import DeclaredFailureMode

YEAR_S = 365.0 * 86400.0
PROB_H, PROB_M = 4.0, 0.5  # occurrences a year
IMPACT_H, IMPACT_M = 25.0, 5.0  # percent of users
RPN_P2 = 125
UTIL_H, UTIL_M = 1.0, 0.7

_RANK: dict[Level, int] = {"L": 1, "M": 2, "H": 3}
#: Occurrence rating of a probability level that was not computed from a rate (declared, or
#: from quota utilisation): the middle of the level's band in `occurrence_rating`.
LEVEL_OCCURRENCE: dict[Level, int] = {"H": 8, "M": 5, "L": 3}
_LEVEL: dict[int, Level] = {1: "L", 2: "M", 3: "H"}
CRITICAL_CELLS: frozenset[tuple[Level, Level]] = frozenset({("H", "M"), ("H", "H"), ("M", "H")})
"""(impact, probability) cells marked ● in the seed's risk matrix."""


def priority_of(impact: Level, probability: Level, rpn: int) -> Priority:
    """P1 for a ● cell; P2 for the next diagonal or RPN ≥ 125; else P3."""
    if (impact, probability) in CRITICAL_CELLS:
        return "P1"
    if _RANK[impact] + _RANK[probability] >= 4 or rpn >= RPN_P2:
        return "P2"
    return "P3"


def probability_level(per_year: float) -> Level:
    """H ≥ 4 a year, M ≥ 0.5 a year, else L."""
    return "H" if per_year >= PROB_H else "M" if per_year >= PROB_M else "L"


def impact_level(users_percent: float) -> Level:
    """H ≥ 25 % of users, M ≥ 5 %, else L."""
    return "H" if users_percent >= IMPACT_H else "M" if users_percent >= IMPACT_M else "L"


def occurrence_rating(per_year: float) -> int:
    """1–10 on a log scale: weekly or more 10 … less than once a century 1."""
    for threshold, rating in ((52, 10), (12, 8), (4, 7), (1, 5), (0.5, 4), (0.1, 3), (0.01, 2)):
        if per_year >= threshold:
            return rating
    return 1


def severity_rating(impact: Level, users_percent: float) -> int:
    """1–10 within the impact's band (H 7–10, M 4–6, L 1–3), higher with more users."""
    u = min(max(users_percent / 100.0, 0.0), 1.0)
    if impact == "H":
        return 7 + round(3 * u)
    if impact == "M":
        return 4 + round(2 * u)
    return 1 + round(2 * u)


def _shift(level: Level, by: int) -> Level:
    return _LEVEL[min(3, max(1, _RANK[level] + by))]


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
    for name in sorted(graph.names):
        raws.extend(_component_modes(graph, modeled, blast, mech, name))
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
    graph: Graph, modeled: Modeled, blast: Blast, mech: Mechanisms, name: str
) -> list[_Raw]:
    row = blast.by_source[name]
    plans = mech.by_target.get(name, ())
    out: list[_Raw] = []
    moved = _moved(graph, blast, plans)
    users = row.users_impacted.value
    contains = Containment(graph, plans, name, mech.inbound.get(name))
    rates = _Rates(modeled, name)
    # the modes of one component that agree on what `_impact` reads share its answer
    impacts: dict[tuple[bool, bool], tuple[Level, Figure]] = {}
    for mode, source, impact_decl, prob_decl in _merged_modes(graph, name):
        probability, occurrence, prob_basis = _probability(graph, rates, name, mode, prob_decl)
        key = (mode.partial, mode.category in ("crash", "errors"))
        found = impacts.get(key) if impact_decl is None else None
        if found is None:
            found = _impact(graph, row, name, mode, impact_decl, moved)
            if impact_decl is None:
                impacts[key] = found
        impact, impact_basis = found
        failure = mode.failure
        if "moved_onto" in impact_basis.inputs:
            limit = fallback_limit(graph, moved[0])
            failure += f"; its callers' {moved[1]:g}/s move onto {moved[0]}, " + (
                f"over its {limit[0]:g}/s {limit[1]}"
                if limit is not None
                else "which is not shown to hold them (declare its quota, or load-test it)"
            )
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


class _Rates:
    """One component's MTBFs (seconds) by the availability they count from: per replica, or
    with its replicas; each worked out once for all of the component's modes."""

    __slots__ = ("_mtbf", "modeled", "name")

    def __init__(self, modeled: Modeled, name: str) -> None:
        self.modeled = modeled
        self.name = name
        self._mtbf: dict[bool, float] = {}

    def mtbf(self, a_fig: Figure, effective: bool) -> float:
        """`replica_mtbf` of `a_fig` (the component's availability with its replicas when
        `effective`, else one replica's) and the component's MTTR."""
        found = self._mtbf.get(effective)
        if found is None:
            mttr = self.modeled.mttr[self.name].value
            found = self._mtbf[effective] = replica_mtbf(a_fig.value, mttr).value
        return found


def _probability(
    graph: Graph, rates: _Rates, name: str, mode: CatalogMode, declared: Level | None
) -> tuple[Level, int, Figure]:
    """(probability, occurrence 1–10, its basis): from availability and MTTR, the quota's
    utilisation for a rate limit, or as declared."""
    comp = graph.components[name]
    probability: Level
    # how often the event that has the mode's impact happens. The mode's impact is the blast
    # radius of the component going down, so a failure that spare replicas mask (a crash loop on
    # one of three instances) counts only when it takes the component down: once per the
    # component's own MTBF, from its availability with replicas. A common-mode failure hits every
    # replica at once and the primary's crash needs only the primary: once per replica MTBF. A
    # standby's lag is per standby: replicas − 1 times the replica rate.
    modeled = rates.modeled
    effective = False
    if mode.common_mode:
        n, n_is = 1, "1 (common mode: every replica at once)"
    elif mode.primary:
        n, n_is = 1, "1 (the primary; a standby's crash is not this mode)"
    elif mode.standby:
        n, n_is = max(1, comp.replicas - 1), "replicas - 1 (each standby on its own)"
    else:
        effective = True
        n, n_is = 1, "1 (the component down: its availability with replicas)"
    a_fig = modeled.effective[name] if effective else modeled.per_replica[name]
    mtbf = rates.mtbf(a_fig, effective)
    finite = math.isfinite(mtbf)
    rate = mode.weight * n * YEAR_S / mtbf if finite else 0.0
    prob_basis = Figure(
        rate,
        "1/yr",
        "weight × n × year / MTBF, MTBF = a × MTTR / (1 - a)",
        {
            "weight": mode.weight,
            "n": n,
            "n_is": n_is,
            "a": a_fig.value,
            "a_is": "with replicas" if a_fig is modeled.effective[name] else "per replica",
            "mttr_s": modeled.mttr[name].value,
            "mtbf_s": mtbf if finite else "infinite (a = 100 %)",
        },
    )
    probability = probability_level(rate)
    occurrence = occurrence_rating(rate)
    if mode.category == "rate_limit" and comp.quota is not None and graph.rps[name] is not None:
        util = (graph.rps[name] or 0.0) / comp.quota.rps
        probability = "H" if util >= UTIL_H else "M" if util >= UTIL_M else "L"
        occurrence = LEVEL_OCCURRENCE[probability]
        prob_basis = Figure(
            util,
            "ratio",
            "traffic / quota (≥1 H, ≥0.7 M)",
            {"rps": graph.rps[name] or 0.0, "quota_rps": comp.quota.rps},
        )
    if declared is not None:
        probability = declared
        occurrence = LEVEL_OCCURRENCE[declared]
        prob_basis = Figure(_RANK[declared], "level", "declared", {"probability": declared})
    return probability, occurrence, prob_basis


def _moved(graph: Graph, blast: Blast, plans: tuple[EdgePlan, ...]) -> tuple[str, float, float]:
    """(the component that takes over, the load moved onto it /s, the users its overload reaches)
    when this component's callers fall back to one that is not shown to hold the moved load; the
    first such fallback by name; ("", 0, 0) when none."""
    moved: dict[str, float] = {}
    for plan in plans:
        rps = graph.edge_rps(plan.edge)
        if plan.fallback_component is not None and rps is not None:
            moved[plan.fallback_component] = moved.get(plan.fallback_component, 0.0) + rps
    for target in sorted(moved):
        limit = fallback_limit(graph, target)
        if limit is None or (graph.rps[target] or 0.0) + moved[target] > limit[0]:
            return target, moved[target], blast.by_source[target].users_impacted.value
    return "", 0.0, 0.0


def _impact(
    graph: Graph,
    row: BlastRow,
    name: str,
    mode: CatalogMode,
    declared: Level | None,
    moved: tuple[str, float, float] = ("", 0.0, 0.0),
) -> tuple[Level, Figure]:
    """(impact, its basis): the users impacted without mechanisms, shifted by partial modes and
    criticality, or as declared. A mode that takes the component down moves its callers' load
    onto their fallback component; when that one is not shown to hold it (no quota or capacity,
    or one the moved load exceeds), the users its overload reaches count too."""
    comp = graph.components[name]
    users = row.users_impacted.value
    onto, moved_rps, onto_users = moved
    takes_down = not mode.partial and mode.category in ("crash", "errors")
    if not (takes_down and onto_users > users):
        onto, moved_rps, onto_users = "", 0.0, 0.0
    users = max(users, onto_users)
    impact = impact_level(users)
    shift = (-1 if mode.partial else 0) + {"high": 1, "low": -1}.get(comp.criticality or "", 0)
    if users == 0 and row.degraded_with == () and not graph.callers[name]:
        shift = -3  # nothing depends on it and it serves no users
    impact = _shift(impact, shift)
    inputs: dict[str, float | str] = {
        "users_percent": users,
        "shift": shift,
        "partial": str(mode.partial),
        "criticality": comp.criticality or "unset",
    }
    formula = "users impacted without mechanisms (≥25 H, ≥5 M), shifted"
    if onto:
        formula = (
            "max(users impacted without mechanisms, users of the overloaded fallback)"
            " (≥25 H, ≥5 M), shifted"
        )
        inputs.update(
            {"moved_onto": onto, "moved_rps": moved_rps, "fallback_users_percent": onto_users}
        )
    impact_basis = Figure(users, "%", formula, inputs)
    if declared is not None:
        impact = declared
        impact_basis = Figure(_RANK[declared], "level", "declared", {"impact": declared})
    return impact, impact_basis


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
