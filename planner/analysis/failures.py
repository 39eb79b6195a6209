"""Failure-mode analysis (FMEA): catalog + declared modes, impact, probability, priority, RPN.

Probability (expected occurrences a year):
    rate = weight × year × (1 − A) / MTTR, with A the per-replica availability for common-mode
    failures (they hit every replica: bad deploy, disk full, a provider outage) and the component's
    k-of-n availability for independent ones (crashes are masked by spare replicas). A declared
    quota turns rate limiting into a function of utilisation (traffic ÷ quota ≥ 1 → H, ≥ 0.7 → M).
    H ≥ 4 a year (quarterly or more often), M ≥ 0.5 a year, L below.
Impact (users impacted without mechanisms, from the blast radius):
    H ≥ 25 % of users, M ≥ 5 %, L below; partial modes (slowness, rate limiting, lag) one level
    lower; `criticality: high` one level higher, `low` one lower.
Priority: the seed's risk matrix — ● cells (impact H × probability M/H, impact M × probability H)
    are P1; the next diagonal (H×L, M×M, L×H) or an RPN ≥ 125 is P2; the rest P3.
RPN = severity × occurrence × detection (1–10 each; detection 10 = almost impossible to detect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planner.analysis.availability import Modeled
from planner.analysis.blast import Blast
from planner.analysis.catalog import (
    CATALOG,
    PLACEMENT_DETECTION,
    PLACEMENT_OUTAGES_PER_YEAR,
    CatalogMode,
)
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import EdgePlan, InboundPlan, Mechanisms
from planner.model import BlastRow, FailureMode, Figure, Level, Priority, RiskCell

YEAR_S = 365.0 * 86400.0
PROB_H, PROB_M = 4.0, 0.5  # occurrences a year
IMPACT_H, IMPACT_M = 25.0, 5.0  # percent of users
RPN_P2 = 125
#: How the mitigation of a mode no runtime mechanism contains begins; the reason follows.
NO_MECHANISM = "no runtime mechanism: "
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


@dataclass(frozen=True)
class _Raw:
    component: str
    name: str
    failure: str
    source: str
    category: str
    scope: str
    transient: bool
    impact: Level
    probability: Level
    severity: int
    occurrence: int
    detection: int
    impact_basis: Figure
    probability_basis: Figure
    blast: BlastRow
    users_with: Figure
    mechanisms: tuple[str, ...]
    mitigation: str
    silent: bool = False


def analyse(graph: Graph, modeled: Modeled, blast: Blast, mech: Mechanisms) -> Failures:
    """Every component's catalog and declared modes, plus zone/region outages, prioritised."""
    raws: list[_Raw] = []
    for name in sorted(graph.names):
        raws.extend(_component_modes(graph, modeled, blast, mech, name))
    for row in blast.rows:
        if row.scope != "component":
            raws.append(_placement_mode(row))
    items = []
    for raw in raws:
        rpn = raw.severity * raw.occurrence * raw.detection
        items.append((priority_of(raw.impact, raw.probability, rpn), rpn, raw))
    items.sort(key=lambda t: (t[0], -t[1], t[2].component, t[2].name))
    width = max(3, len(str(len(items))))
    modes = tuple(
        FailureMode(
            id=f"FM-{i:0{width}d}",
            component=raw.component,
            name=raw.name,
            failure=raw.failure,
            source=raw.source,  # type: ignore[arg-type]
            category=raw.category,
            scope=raw.scope,  # type: ignore[arg-type]
            transient=raw.transient,
            impact=raw.impact,
            probability=raw.probability,
            priority=prio,
            severity=raw.severity,
            occurrence=raw.occurrence,
            detection=raw.detection,
            rpn=rpn,
            impact_basis=raw.impact_basis,
            probability_basis=raw.probability_basis,
            users_impacted=raw.blast.users_impacted,
            users_impacted_with=raw.users_with,
            mechanisms=raw.mechanisms,
            mitigation=raw.mitigation,
            silent=raw.silent,
        )
        for i, (prio, rpn, raw) in enumerate(items, start=1)
    )
    return Failures(modes, risk_matrix(modes))


def risk_matrix(modes: tuple[FailureMode, ...]) -> tuple[RiskCell, ...]:
    """Counts per impact (rows H, M, L) × probability (columns L, M, H)."""
    cells = []
    for impact in ("H", "M", "L"):
        for probability in ("L", "M", "H"):
            ids = tuple(m.id for m in modes if m.impact == impact and m.probability == probability)
            cells.append(
                RiskCell(
                    impact, probability, (impact, probability) in CRITICAL_CELLS, len(ids), ids
                )
            )
    return tuple(cells)


def _merged_modes(
    graph: Graph, name: str
) -> list[tuple[CatalogMode, str, Level | None, Level | None]]:
    comp = graph.components[name]
    catalog = {m.name: m for m in CATALOG[comp.kind]}
    merged: list[tuple[CatalogMode, str, Level | None, Level | None]] = []
    declared = {d.name: d for d in comp.failure_modes}
    for mode in CATALOG[comp.kind]:
        d = declared.get(mode.name)
        if d is None:
            merged.append((mode, "catalog", None, None))
            continue
        merged.append(
            (
                CatalogMode(
                    mode.name,
                    d.failure,
                    mode.category,
                    d.transient,
                    mode.common_mode,
                    mode.partial,
                    d.detection if d.detection is not None else mode.detection,
                    mode.weight,
                    mode.silent,
                ),
                "declared",
                d.impact,
                d.probability,
            )
        )
    extra = [d for d in comp.failure_modes if d.name not in catalog]
    for d in extra:
        # a declared mode the catalog does not know: it hits the whole component (common mode)
        # and takes an equal share of its failures
        weight = 1.0 / (len(CATALOG[comp.kind]) + len(extra))
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


def _component_modes(
    graph: Graph, modeled: Modeled, blast: Blast, mech: Mechanisms, name: str
) -> list[_Raw]:
    comp = graph.components[name]
    row = blast.by_source[name]
    mttr = modeled.mttr[name].value
    per = modeled.per_replica[name].value
    eff = modeled.effective[name].value
    plans = mech.by_target.get(name, ())
    out: list[_Raw] = []
    for mode, source, impact_decl, prob_decl in _merged_modes(graph, name):
        a = per if mode.common_mode else eff
        rate = mode.weight * YEAR_S * (100.0 - a) / 100.0 / mttr if mttr > 0 else 0.0
        prob_basis = Figure(
            rate,
            "1/yr",
            "weight × year × (1 - A) / MTTR",
            {
                "weight": mode.weight,
                "A": a,
                "A_is": "per replica (common mode)" if mode.common_mode else "with replicas",
                "mttr_s": mttr,
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
        if prob_decl is not None:
            probability = prob_decl
            occurrence = LEVEL_OCCURRENCE[prob_decl]
            prob_basis = Figure(_RANK[prob_decl], "level", "declared", {"probability": prob_decl})
        users = row.users_impacted.value
        impact = impact_level(users)
        shift = (-1 if mode.partial else 0) + {"high": 1, "low": -1}.get(comp.criticality or "", 0)
        if users == 0 and row.degraded_with == () and not graph.callers[name]:
            shift = -3  # nothing depends on it and it serves no users
        impact = _shift(impact, shift)
        impact_basis = Figure(
            users,
            "%",
            "users impacted without mechanisms (≥25 H, ≥5 M), shifted",
            {
                "users_percent": users,
                "shift": shift,
                "partial": str(mode.partial),
                "criticality": comp.criticality or "unset",
            },
        )
        if impact_decl is not None:
            impact = impact_decl
            impact_basis = Figure(_RANK[impact_decl], "level", "declared", {"impact": impact_decl})
        mechanisms, mitigation = _mitigation(graph, mode, plans, name, mech.inbound.get(name))
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
            _Raw(
                component=name,
                name=mode.name,
                failure=mode.failure,
                source=source,
                category=mode.category,
                scope="component",
                transient=mode.transient,
                impact=impact,
                probability=probability,
                severity=severity_rating(impact, users),
                occurrence=occurrence,
                detection=mode.detection,
                impact_basis=impact_basis,
                probability_basis=prob_basis,
                blast=row,
                users_with=users_with,
                mechanisms=mechanisms,
                mitigation=mitigation,
                silent=mode.silent,
            )
        )
    return out


def _mitigation(
    graph: Graph,
    mode: CatalogMode,
    plans: tuple[EdgePlan, ...],
    name: str,
    inbound: InboundPlan | None = None,
) -> tuple[tuple[str, ...], str]:
    """The callers' mechanisms that contain this mode (or the entry's own), or why none does."""
    comp = graph.components[name]
    if mode.category == "overload" and inbound is not None:
        # an entry point's own overload is contained by its inbound policy: it sheds the excess
        own: list[tuple[str, str]] = []
        if inbound.rate_per_second is not None:
            own.append(("rate_limiter", f"sheds above {inbound.rate_per_second:g} requests/s"))
        if inbound.bulkhead is not None:
            own.append(("bulkhead", f"refuses beyond {inbound.bulkhead:,} requests in flight"))
        if own:
            return (
                tuple(f"{inbound.policy}: {m}" for m, _ in own),
                f"{inbound.policy} (inbound): "
                + ", ".join(f"{m.replace('_', ' ')} {why}" for m, why in own),
            )
    if mode.silent and mode.category != "data":
        fallbacks = sorted({p.fallback or "a degraded answer" for p in plans if p.has_fallback})
        policies = ", ".join(sorted(p.policy for p in plans))
        contain = (
            f"switch the callers to their fallback ({', '.join(fallbacks)}) by forcing {policies}"
            " open, or map a failed validation to an error (failure_if_result) so the breakers"
            " open and the fallback serves"
            if fallbacks
            else "no fallback is declared: pin a known-good version or take the feature offline"
        )
        return (), (
            f"{NO_MECHANISM}answers succeed at the transport level (HTTP 200), so no breaker,"
            " retry or fallback sees them; detect them by answer validation (a quality SLI);"
            f" {contain}"
        )
    if mode.category == "data":
        data = comp.data
        how = (
            f"replication {data.replication}, backups every {data.backup_interval:g}s"
            if data is not None and data.backup_interval is not None
            else "replication and backups"
        )
        seen = (
            "stale results succeed at the transport level, so no breaker or fallback sees them;"
            " detect them by comparing a sample with the source of truth"
            if mode.silent
            else "a data failure that no call-path mechanism undoes"
        )
        return (), f"{NO_MECHANISM}{seen}; contained by {how} (see recovery)"
    if not plans:
        spare = comp.replicas - comp.min_healthy
        who = "entry point" if name in graph.entry_shares else "nothing in the spec calls it"
        redundancy = (
            f"{spare} spare replica(s) behind health checks"
            if spare > 0
            else "no spare replica: restart within its MTTR (see the redundancy proposals)"
        )
        deploy = "; canary + automatic rollback" if mode.category == "deploy" else ""
        return (), (
            f"{NO_MECHANISM}{who}, no caller-side mechanism contains it; {redundancy}{deploy}"
        )
    wanted = {
        "crash": ("circuit_breaker", "fallback", "retry"),
        "errors": ("circuit_breaker", "fallback", "retry"),
        "deploy": ("circuit_breaker", "fallback"),
        "latency": ("timeout", "bulkhead", "circuit_breaker", "fallback"),
        "overload": ("bulkhead", "rate_limiter", "circuit_breaker", "fallback"),
        "rate_limit": ("rate_limiter", "retry", "circuit_breaker", "fallback"),
    }.get(mode.category, ("circuit_breaker", "fallback"))
    found: list[str] = []
    parts: list[str] = []
    for plan in plans:
        have = {
            "circuit_breaker": plan.has_breaker,
            "fallback": plan.has_fallback,
            "retry": plan.max_attempts > 1 and mode.transient,
            "timeout": True,
            "bulkhead": plan.bulkhead is not None,
            "rate_limiter": plan.rate_limited,
        }
        mine = [m for m in wanted if have[m]]
        found.extend(f"{plan.policy}: {m}" for m in mine)
        names = [
            f"fallback → {plan.fallback or 'degraded answer'}"
            if m == "fallback"
            else m.replace("_", " ")
            for m in mine
        ]
        if names:
            parts.append(f"{plan.policy}: {', '.join(names)}")
    if not found:
        policies = ", ".join(sorted(p.policy for p in plans))
        wants = ", ".join(m.replace("_", " ") for m in wanted)
        return (), f"{NO_MECHANISM}{policies} plan none of what contains it ({wants})"
    return tuple(found), "; ".join(parts)


def _placement_mode(row: BlastRow) -> _Raw:
    scope = row.scope
    place = row.source.split(":", 1)[1]
    rate = PLACEMENT_OUTAGES_PER_YEAR[scope]
    users = row.users_impacted.value
    impact = impact_level(users)
    return _Raw(
        component=row.source,
        name=f"{scope}-outage",
        failure=f"{scope.capitalize()} {place} is lost: every replica placed there goes down",
        source="catalog",
        category=scope,
        scope=scope,
        transient=False,
        impact=impact,
        probability=probability_level(rate),
        severity=severity_rating(impact, users),
        occurrence=occurrence_rating(rate),
        detection=PLACEMENT_DETECTION,
        impact_basis=Figure(
            users, "%", "users impacted without mechanisms (≥25 H, ≥5 M)", {"users_percent": users}
        ),
        probability_basis=Figure(rate, "1/yr", f"assumed {scope} outages a year", {"scope": scope}),
        blast=row,
        users_with=row.users_impacted_with,
        mechanisms=(),
        mitigation=NO_MECHANISM
        + (
            f"the {scope} outage takes down {', '.join(row.affected)} — spread their replicas"
            f" over more {scope}s (see the redundancy proposals)"
            if row.affected
            else f"none needed, replicas are spread over several {scope}s: no component goes down"
        ),
    )


def uncontained(
    modes: Mapping[str, FailureMode] | tuple[FailureMode, ...], priority: Priority = "P1"
) -> list[FailureMode]:
    """Modes of `priority` that no runtime mechanism contains (their mitigation says why)."""
    values = modes.values() if isinstance(modes, Mapping) else modes
    return [m for m in values if m.priority == priority and not m.mechanisms]
