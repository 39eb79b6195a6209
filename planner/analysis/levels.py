"""Each failure mode's probability and impact level, with the figures behind them
(the formulas are in `planner.analysis.failures`' docstring).

A large spec has many components of the same kind, replicas, availability, MTTR and users
impacted; their modes read the same inputs, so `Probabilities` and `Impacts` remember each
answer by the values it reads (`Memo`, one per analysis) and the modes share it, basis figures
included (they are immutable).
"""

from __future__ import annotations

import math

from planner.analysis.availability import Modeled, replica_mtbf
from planner.analysis.blast import Blast
from planner.analysis.catalog import CatalogMode
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import EdgePlan
from planner.analysis.mechanisms.fallback import fallback_limit
from planner.model import BlastRow, Figure, Level

YEAR_S = 365.0 * 86400.0
PROB_H, PROB_M = 4.0, 0.5  # occurrences a year
IMPACT_H, IMPACT_M = 25.0, 5.0  # percent of users
UTIL_H, UTIL_M = 1.0, 0.7

#: A level's rank: L 1, M 2, H 3.
RANK: dict[Level, int] = {"L": 1, "M": 2, "H": 3}
#: Occurrence rating of a probability level that was not computed from a rate (declared, or
#: from quota utilisation): the middle of the level's band in `occurrence_rating`.
LEVEL_OCCURRENCE: dict[Level, int] = {"H": 8, "M": 5, "L": 3}
_LEVEL: dict[int, Level] = {1: "L", 2: "M", 3: "H"}


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
    return _LEVEL[min(3, max(1, RANK[level] + by))]


class Memo:
    """The probabilities and impacts of one analysis, each worked out once per distinct input:
    on a large spec many components share their kind, replicas, availability, MTTR and users
    impacted, so their modes share the answers (and the basis figures, which are immutable)."""

    __slots__ = ("impacts", "probabilities")

    def __init__(self) -> None:
        self.probabilities: dict[tuple[object, ...], tuple[Level, int, Figure]] = {}
        self.impacts: dict[tuple[object, ...], tuple[Level, Figure]] = {}


def exact(*values: object) -> tuple[object, ...]:
    """A memo key of `values` and their types: 300 == 300.0, but the plan writes them apart."""
    return (*values, *map(type, values))


class Probabilities:
    """One component's inputs to `probability`, read once for all of its modes; the answers
    are remembered in the analysis' `Memo.probabilities` by those inputs' values."""

    __slots__ = ("_key", "_memo", "_rate_limit", "graph", "modeled", "name")

    def __init__(
        self,
        graph: Graph,
        modeled: Modeled,
        name: str,
        memo: dict[tuple[object, ...], tuple[Level, int, Figure]],
    ) -> None:
        self.graph = graph
        self.modeled = modeled
        self.name = name
        self._memo = memo
        comp = graph.components[name]
        effective, per_replica = modeled.effective[name], modeled.per_replica[name]
        # everything `probability` reads of the component but a rate limit's utilisation
        self._key = exact(
            effective.value,
            per_replica.value,
            per_replica is effective,  # `a_is` names the figure by identity
            modeled.mttr[name].value,
            comp.replicas,
        )
        rps = graph.rps[name]
        # a rate limit with a quota and known traffic: its utilisation alone decides
        self._rate_limit = (
            ("utilisation", *exact(rps, comp.quota.rps))
            if comp.quota is not None and rps is not None
            else None
        )

    def of(self, mode: CatalogMode, declared: Level | None) -> tuple[Level, int, Figure]:
        """`probability` of one of the component's modes, remembered by what it reads."""
        key: tuple[object, ...]
        if declared is not None:
            key = ("declared", declared)
        elif mode.category == "rate_limit" and self._rate_limit is not None:
            key = self._rate_limit
        else:
            key = (self._key, mode.weight, mode.common_mode, mode.primary, mode.standby)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = probability(self, mode, declared)
        return found

    def mtbf(self, a_fig: Figure) -> float:
        """`replica_mtbf` of `a_fig` (an availability of the component) and its MTTR."""
        return replica_mtbf(a_fig.value, self.modeled.mttr[self.name].value).value


def probability(
    rates: Probabilities, mode: CatalogMode, declared: Level | None
) -> tuple[Level, int, Figure]:
    """(probability, occurrence 1–10, its basis): from availability and MTTR, the quota's
    utilisation for a rate limit, or as declared."""
    graph, name = rates.graph, rates.name
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
    mtbf = rates.mtbf(a_fig)
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
        prob_basis = Figure(RANK[declared], "level", "declared", {"probability": declared})
    return probability, occurrence, prob_basis


def moved_load(graph: Graph, blast: Blast, plans: tuple[EdgePlan, ...]) -> tuple[str, float, float]:
    """(the component that takes over, the load moved onto it /s, the users its overload reaches)
    when this component's callers fall back to one that is not shown to hold the moved load; the
    first such fallback by name; ("", 0, 0) when none."""
    moved: dict[str, float] = {}
    for plan in plans:
        if plan.fallback_component is None:
            continue
        rps = graph.edge_rps(plan.edge)
        if rps is not None:
            moved[plan.fallback_component] = moved.get(plan.fallback_component, 0.0) + rps
    for target in sorted(moved):
        limit = fallback_limit(graph, target)
        if limit is None or (graph.rps[target] or 0.0) + moved[target] > limit[0]:
            return target, moved[target], blast.by_source[target].users_impacted.value
    return "", 0.0, 0.0


class Impacts:
    """One component's inputs to `impact`, read once for all of its modes; the answers are
    remembered in the analysis' `Memo.impacts` by those inputs' values."""

    __slots__ = ("_key", "_memo", "_moved", "graph", "moved", "name", "row")

    def __init__(
        self,
        graph: Graph,
        row: BlastRow,
        name: str,
        moved: tuple[str, float, float],
        memo: dict[tuple[object, ...], tuple[Level, Figure]],
    ) -> None:
        self.graph, self.row, self.name, self.moved = graph, row, name, moved
        self._memo = memo
        users = row.users_impacted.value
        # everything `impact` reads of the component but the load moved onto a fallback, which
        # counts only for a mode that takes it down, and only when it reaches more users
        self._key = (
            *exact(users),
            graph.components[name].criticality,
            row.degraded_with == () and not graph.callers[name],
        )
        self._moved = exact(*moved) if moved[2] > users else None

    def of(self, mode: CatalogMode, declared: Level | None) -> tuple[Level, Figure]:
        """`impact` of one of the component's modes, remembered by what it reads."""
        key: tuple[object, ...]
        if declared is not None:
            key = ("declared", declared)
        else:
            takes_down = not mode.partial and mode.category in ("crash", "errors")
            key = (self._key, mode.partial, self._moved if takes_down else None)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = impact(
                self.graph, self.row, self.name, mode, declared, self.moved
            )
        return found


def impact(
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
        impact_basis = Figure(RANK[declared], "level", "declared", {"impact": declared})
    return impact, impact_basis
