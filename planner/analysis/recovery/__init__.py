"""Recovery: RTO/RPO per disruption, DR strategy, backups, the failover plan and reconciliation.

RTO = detect + decide + failover + warm-up, with
- detect: health checks every 10 s, 3 failures (the Kubernetes probe defaults) = 30 s; for a
  software failure on every replica, the plan's time to page during a full outage (the alert
  set's, planner.analysis.monitoring.alerts);
- decide: 0 when the failover is automatic, else the SEV1 acknowledge time (5 min);
- failover: 0 with a spare replica behind health checks; a replica promotion (120 s, the upper
  end of managed Postgres/MySQL failovers) for a replicated store; else the component's MTTR;
- warm-up: the kind's time from started to serving at full capacity.
RPO = 0 for stateless or synchronously replicated data; the replication lag for async
replication; the backup interval when only backups protect the data (unbounded without them).
Status per Resilience Hub: met when both estimates are within the targets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

from planner.analysis.applicable import state_of
from planner.analysis.blast import Blast
from planner.analysis.facts import HEALTH_CHECK, PROBE_INTERVAL, PROBES, PROMOTION
from planner.analysis.graph import Graph
from planner.analysis.mechanisms import Mechanisms
from planner.analysis.monitoring.alerts import Alerts
from planner.analysis.recovery.backups import backups, reconciliation
from planner.model import (
    BlastRow,
    DrStrategy,
    FailoverStep,
    Figure,
    RecoveryScenario,
    RecoverySection,
)
from planner.spec import Component, RecoveryTarget
from planner.units import format_duration as human

FAILBACK_SOAK = 1800.0  # healthy time before traffic goes back to a restored primary
DECIDE_HUMAN = 300.0  # SEV1 acknowledge time

#: AWS DR whitepaper bands, upper ends: (strategy, label, typical RTO s, typical RPO s).
STRATEGIES: tuple[tuple[str, str, float, float], ...] = (
    ("backup_restore", "Backup & restore", 24 * 3600.0, 24 * 3600.0),
    ("pilot_light", "Pilot light", 3600.0, 900.0),
    ("warm_standby", "Warm standby", 900.0, 60.0),
    ("active_active", "Multi-site active/active", 60.0, 0.0),
)
TIER_STRATEGY = {
    "ultra": "active_active",
    "critical": "active_active",
    "high": "warm_standby",
    "standard": "pilot_light",
}


def _rto(detect: float, decide: float, failover: float, warm: float, why: str) -> Figure:
    return Figure(
        round(detect + decide + failover + warm, 6),
        "s",
        "detect + decide + failover + warm-up",
        {"detect": detect, "decide": decide, "failover": failover, "warm_up": warm, "how": why},
    )


def _rebuild_rto(graph: Graph, comps: Sequence[Component], why: str) -> Figure:
    """The RTO of rebuilding `comps` elsewhere by hand: the slowest one's repair and warm-up."""
    failover = max(graph.facts[c.name].mttr.value for c in comps)
    warm = max(graph.facts[c.name].warm_up.value for c in comps)
    return _rto(HEALTH_CHECK, DECIDE_HUMAN, failover, warm, why)


def _rpo(comp: Component | None, *, data_loss: bool = False) -> Figure:
    data = comp.data if comp is not None else None
    if comp is not None and state_of(comp) == "undeclared":
        # a database or queue without `data:` is not assumed stateless: its RPO is unknown
        return Figure(
            math.inf,
            "s",
            f"unknown: {comp.name} is a {comp.kind} without data: (declare stateful,"
            " backup_interval, replication)",
            {},
        )
    if data is None or not data.stateful:
        return Figure(0.0, "s", "stateless", {})
    if not data_loss and data.replication == "sync":
        return Figure(0.0, "s", "synchronous replication", {})
    if not data_loss and data.replication == "async" and data.replication_lag is not None:
        return Figure(
            data.replication_lag,
            "s",
            "async replication lag",
            {"replication_lag": data.replication_lag},
        )
    if data.backup_interval is not None:
        return Figure(
            data.backup_interval, "s", "backup interval", {"backup_interval": data.backup_interval}
        )
    return Figure(math.inf, "s", "no backup declared: unbounded", {})


def _target(graph: Graph, disruption: str) -> RecoveryTarget | None:
    targets = graph.spec.recovery_targets
    if targets is None:
        return None
    key = "host" if disruption == "host" else disruption
    specific = targets.per_disruption.get(key)  # type: ignore[call-overload]
    if disruption == "host" and specific is None:
        specific = targets.per_disruption.get("software")
    rto = specific.rto if specific is not None and specific.rto is not None else targets.rto
    rpo = specific.rpo if specific is not None and specific.rpo is not None else targets.rpo
    if rto is None and rpo is None:
        return None
    return RecoveryTarget(rto=rto, rpo=rpo)


Disruption = Literal["software", "host", "zone", "region", "data_loss"]
Status = Literal["met", "breached", "no target"]


def _scenario(
    graph: Graph,
    text: str,
    disruption: Disruption,
    component: str,
    rto: Figure,
    rpo: Figure,
    procedure: str,
) -> RecoveryScenario:
    target = _target(graph, "data_loss" if disruption == "data_loss" else disruption)
    rto_t = rpo_t = None
    status: Status = "no target"
    if target is not None:
        ok = True
        if target.rto is not None:
            rto_t = Figure(target.rto, "s", "recovery_targets", {"disruption": disruption})
            ok = ok and rto.value <= target.rto
        if target.rpo is not None:
            rpo_t = Figure(target.rpo, "s", "recovery_targets", {"disruption": disruption})
            ok = ok and rpo.value <= target.rpo
        status = "met" if ok else "breached"
    return RecoveryScenario(
        text,
        disruption,
        component,
        rto,
        rpo,
        rto_t,
        rpo_t,
        status,
        procedure,
    )


def plan(graph: Graph, blast: Blast, mech: Mechanisms, alerts: Alerts) -> RecoverySection:
    """Every recovery scenario, the DR strategy, backups, failover steps and reconciliation.

    Detection of a software failure on every replica is the alert set's time to page.
    """
    page = alerts.time_to_page.value
    scenarios: list[RecoveryScenario] = []
    for name in sorted(graph.names):
        scenarios.extend(_component_scenarios(graph, mech, name, page))
    scenarios.extend(
        _placement_scenario(graph, row) for row in blast.rows if row.scope != "component"
    )
    dr = strategy(graph)
    if not any(c.regions for c in graph.components.values()):
        scenarios.append(_region_loss(graph, dr))
    return RecoverySection(
        tuple(scenarios),
        dr,
        backups(graph),
        failover_steps(graph, blast, mech, page),
        reconciliation(graph),
    )


def _component_scenarios(
    graph: Graph, mech: Mechanisms, name: str, page: float
) -> list[RecoveryScenario]:
    """A component's software, host and data-loss scenarios (one merged row when guarded)."""
    comp = graph.components[name]
    facts = graph.facts[name]
    mttr, warm_up = facts.mttr.value, facts.warm_up.value
    guarded = _guarded(mech, name)
    if guarded is not None:
        # every caller falls back: degraded answers once the breakers open, whatever the repair
        pair = [
            _scenario(
                graph,
                f"{name} {what} (callers fall back)",
                disruption,  # type: ignore[arg-type]
                name,
                _rto(guarded, 0.0, 0.0, 0.0, "breakers open and serve the fallbacks"),
                Figure(0.0, "s", "the fallback loses no data", {}),
                f"breakers open within {human(guarded)} and serve the fallback;"
                f" {name} is repaired in the background (MTTR {human(mttr)})",
            )
            for disruption, what in (("software", "software failure"), ("host", "outage"))
        ]
        out = _merge_same_targets(pair, f"{name} failure (callers fall back)")
    else:
        out = [_software_failure(graph, name, page), _host_failure(graph, name)]
    if graph.state[name] != "stateless":
        out.append(_data_loss(graph, comp, mttr, warm_up))
    return out


def _software_failure(graph: Graph, name: str, page: float) -> RecoveryScenario:
    """A bad version on every replica: rolled back by a person after the page."""
    facts = graph.facts[name]
    managed = facts.managed
    return _scenario(
        graph,
        f"{name} bad deploy / software failure",
        "software",
        name,
        _rto(
            page,
            DECIDE_HUMAN,
            0.0 if managed else facts.warm_up.value,
            0.0,
            "page alert, on-call switches to the fallback or waits for the provider"
            if managed
            else "page alert, on-call decides, roll back",
        ),
        Figure(0.0, "s", "a rollback loses no data", {}),
        "provider incident: fall back and follow the provider's status page"
        if managed
        else "roll back to the previous version (canary first); verify with the burn-rate alerts",
    )


def _host_failure(graph: Graph, name: str) -> RecoveryScenario:
    """One instance lost: spares serve, a replica is promoted, or the only one is replaced."""
    comp = graph.components[name]
    mttr, warm_up = graph.facts[name].mttr.value, graph.facts[name].warm_up.value
    spare = comp.replicas > comp.min_healthy
    failover = graph.facts[name].failover
    if failover is not None:
        # the figure the availability model charges per primary failure, term by term
        rto = dataclasses.replace(
            _rto(HEALTH_CHECK, 0.0, PROMOTION, warm_up, "promote the replica"),
            value=failover.value,
        )
        proc = "promote the replica, repoint clients, rebuild a new replica"
        spare = False
    elif spare:
        rto = _rto(HEALTH_CHECK, 0.0, 0.0, 0.0, "health checks remove the instance; spares serve")
        proc = (
            f"health checks drop the failed instance; {comp.replicas - 1} of"
            f" {comp.replicas} replicas keep serving (need {comp.min_healthy}); replace it"
        )
    elif comp.replicas > 1:
        # every replica is needed (min_healthy = replicas): one lost is an outage until replaced
        rto = _rto(HEALTH_CHECK, 0.0, mttr, warm_up, "replace the failed instance")
        proc = (
            f"replace the failed instance (MTTR {human(mttr)}), then warm up: all"
            f" {comp.replicas} replicas are needed (min_healthy {comp.min_healthy}), so {name}"
            " is down until then"
        )
    else:
        rto = _rto(HEALTH_CHECK, 0.0, mttr, warm_up, "restart or replace the only instance")
        proc = f"restart or replace the only instance (MTTR {human(mttr)}), then warm up"
    rpo = _rpo(comp) if not spare else Figure(0.0, "s", "spare replica holds the data", {})
    return _scenario(graph, f"{name} host failure", "host", name, rto, rpo, proc)


def _placement_scenario(graph: Graph, row: BlastRow) -> RecoveryScenario:
    """A zone or region outage: drained, or what it takes down rebuilt elsewhere."""
    place = row.source.split(":", 1)[1]
    down = row.affected
    if not down:
        rto = _rto(HEALTH_CHECK, 0.0, 0.0, 0.0, "every component keeps enough replicas elsewhere")
        rpo = Figure(0.0, "s", "replicas elsewhere hold the data", {})
        proc = f"health checks drain {row.scope} {place}; capacity elsewhere serves"
    else:
        comps = [graph.components[n] for n in down]
        rto = _rebuild_rto(graph, comps, f"rebuild {', '.join(down)} outside {row.scope} {place}")
        rpo = max((_rpo(c) for c in comps), key=lambda f: f.value)
        proc = f"evacuate {row.scope} {place}: rebuild {', '.join(down)} elsewhere, repoint"
    return _scenario(
        graph,
        f"{row.scope} {place} outage",
        row.scope,  # type: ignore[arg-type]
        row.source,
        rto,
        rpo,
        proc,
    )


def _merge_same_targets(pair: list[RecoveryScenario], text: str) -> list[RecoveryScenario]:
    """One row for two disruptions recovered the same way against the same targets.

    The row keeps the first disruption (software: the runbooks of crashes and errors read both).
    """
    first, second = pair

    def value(fig: Figure | None) -> float | None:
        return None if fig is None else fig.value

    same = (
        value(first.rto_target) == value(second.rto_target)
        and value(first.rpo_target) == value(second.rpo_target)
        and first.procedure == second.procedure
        and first.rto.value == second.rto.value
        and first.rpo.value == second.rpo.value
    )
    return [dataclasses.replace(first, scenario=text)] if same else pair


def _guarded(mech: Mechanisms, name: str) -> float | None:
    """Seconds until every caller's breaker opens, when every caller has a fallback; else None."""
    plans = mech.by_target.get(name, ())
    if not plans or not all(p.has_fallback for p in plans):
        return None
    return max(p.trip.value if p.trip.unit == "s" else HEALTH_CHECK for p in plans)


def _data_loss(graph: Graph, comp: Component, mttr: float, warm: float) -> RecoveryScenario:
    ask = (
        f"declare {comp.name}'s data: (stateful, backup_interval, replication): without it the"
        " planner cannot tell what a loss costs; if it keeps data: "
        if graph.state[comp.name] == "undeclared"
        else ""
    )
    return _scenario(
        graph,
        f"{comp.name} data loss / corruption",
        "data_loss",
        comp.name,
        _rto(0.0, DECIDE_HUMAN, mttr, warm, "restore the last backup (detection excluded)"),
        _rpo(comp, data_loss=True),
        ask + "stop writes, restore the last good backup (point in time if available), replay"
        " the writes since from logs or the source of truth, verify counts",
    )


#: How each DR strategy recovers a lost region (the region scenario follows the chosen one).
REGION_PROCEDURE = {
    "backup_restore": "rebuild every component in another region from backups and IaC",
    "pilot_light": "scale the standby region's pilot light up, promote its data stores, move DNS",
    "warm_standby": "scale the other region's warm standby up, promote its data stores, move DNS",
    "active_active": "shift all traffic to the other regions, which already serve it",
}


def _region_loss(graph: Graph, dr: DrStrategy) -> RecoveryScenario:
    """The single region lost, recovered the way the chosen DR strategy says.

    Backup & restore rebuilds from the spec's repair and warm-up times (a lower bound: the
    restore itself is not in the spec); the other strategies recover within their band, the
    same figures the DR line shows.
    """
    comps = list(graph.components.values())
    if dr.strategy != "backup_restore":
        return _scenario(
            graph,
            f"region outage (single region; {dr.label.lower()})",
            "region",
            "region",
            dr.typical_rto,
            dr.typical_rpo,
            f"with the planned {dr.label.lower()}: {REGION_PROCEDURE[dr.strategy]}",
        )
    rto = _rebuild_rto(
        graph, comps, "lower bound: rebuild in another region, data restore time not in the spec"
    )
    stateful = [c for c in comps if graph.state[c.name] != "stateless"]
    rpo = max(
        (_rpo(c, data_loss=True) for c in stateful),
        key=lambda f: f.value,
        default=Figure(0.0, "s", "stateless", {}),
    )
    return _scenario(
        graph,
        "region outage (single region; backup & restore)",
        "region",
        "region",
        rto,
        rpo,
        REGION_PROCEDURE["backup_restore"],
    )


def strategy(graph: Graph) -> DrStrategy:
    """The cheapest AWS DR strategy whose typical RTO/RPO meet the region targets."""
    target = _target(graph, "region")
    chosen = None
    if target is not None:
        for key, label, rto, rpo in STRATEGIES:
            if (target.rto is None or rto <= target.rto) and (
                target.rpo is None or rpo <= target.rpo
            ):
                chosen = (key, label, rto, rpo)
                break
        chosen = chosen or STRATEGIES[-1]
        reason = (
            "cheapest strategy whose typical RTO ≤"
            f" {human(target.rto) if target.rto is not None else 'any'}"
            f" and RPO ≤ {human(target.rpo) if target.rpo is not None else 'any'} (region targets)"
        )
    else:
        key = TIER_STRATEGY.get(graph.spec.tier_label, "backup_restore")
        chosen = next(s for s in STRATEGIES if s[0] == key)
        reason = f"no region targets: the default for tier {graph.spec.tier_label}"
    key, label, rto, rpo = chosen
    return DrStrategy(
        key,  # type: ignore[arg-type]
        label,
        Figure(rto, "s", "AWS DR band upper end", {"strategy": key}),
        Figure(rpo, "s", "AWS DR band upper end", {"strategy": key}),
        reason,
    )


def _secondary(graph: Graph, mech: Mechanisms, name: str) -> tuple[int, str]:
    """(rank, how traffic shifts) for a component: 0 = no secondary at all."""
    comp = graph.components[name]
    plans = mech.by_target.get(name, ())
    targets = sorted({p.fallback for p in plans if p.fallback is not None})
    if comp.data is not None and comp.data.replication != "none" and comp.kind == "database":
        return 3, f"promote the {name} replica (≈{human(PROMOTION)}); clients reconnect"
    if plans and all(p.has_fallback for p in plans):
        trip = max(p.trip.value if p.trip.unit == "s" else HEALTH_CHECK for p in plans)
        return 2, (
            f"breakers on {', '.join(sorted(p.policy for p in plans))} open within {human(trip)}"
            f" and serve the fallback ({', '.join(targets)})"
        )
    if comp.replicas > comp.min_healthy:
        return 1, f"the load balancer sends {name} traffic to its healthy replicas"
    return 0, f"{name} has no secondary: restart it — see the redundancy proposals"


def failover_steps(
    graph: Graph, blast: Blast, mech: Mechanisms, page: float
) -> tuple[FailoverStep, ...]:
    """The seed's seven failover steps for the component whose loss hurts most and has a secondary.

    Preference: a component with a secondary (replica promotion, fallbacks, spare replicas) and
    the widest blast radius without mechanisms; the steps name its figures.
    """
    rows = [r for r in blast.rows if r.scope == "component"]
    ranked = [(_secondary(graph, mech, r.source), r) for r in rows]
    (rank, shift), row = max(
        ranked,
        key=lambda t: (
            t[0][0] > 0,
            t[1].users_impacted.value,
            t[1].affected_count,
            t[0][0],
            t[1].source,
        ),
    )
    primary = row.source
    mttr = graph.facts[primary].mttr.value
    managed = graph.facts[primary].managed
    recover = (
        f"the provider restores {primary} (typical MTTR {human(mttr)}); open a support case"
        if managed
        else f"repair or rebuild {primary} (MTTR {human(mttr)})"
    )
    stateful = graph.state[primary] != "stateless"
    return (
        FailoverStep(
            "Primary",
            "Health check fails",
            f"{primary}: {PROBES} failed probes {human(PROBE_INTERVAL)} apart"
            f" ({human(HEALTH_CHECK)});"
            f" page within {human(page)}",
        ),
        FailoverStep("Traffic shift", "Secondary", shift),
        FailoverStep(
            "Validate",
            "Health + data",
            "readiness green, error ratio back under the SLO"
            + ("; replication position and row counts match" if stateful else ""),
        ),
        FailoverStep("Alert", "Ops team notified", "SEV1 page to on-call; incident channel opened"),
        FailoverStep(
            "Investigate", "Root cause", "follow the runbook of the failure mode that fired"
        ),
        FailoverStep("Recover", "Restore primary", recover),
        FailoverStep(
            "Failback",
            "Return traffic",
            f"after {human(FAILBACK_SOAK)} healthy: return traffic gradually"
            + ("; half-open probes close the breakers" if rank == 2 else ""),
        ),
    )
